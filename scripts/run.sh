#!/usr/bin/env bash
# Starts the whole platform on this machine: PostgreSQL (found or provisioned),
# demo data, every service and the gateway. Ctrl-C stops what it started.
# See docs/operations.md ("Running locally") for the knobs.
set -euo pipefail

FILIERIS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$FILIERIS_ROOT"
# shellcheck source=scripts/lib/postgres.sh
source "$FILIERIS_ROOT/scripts/lib/postgres.sh"
# shellcheck source=scripts/lib/redis.sh
source "$FILIERIS_ROOT/scripts/lib/redis.sh"

# Backend services, started in this order before the gateway. One line each:
# "<name> <default address> <seed|->"; the binary is filieris-<name>, its
# address FILIERIS_<NAME>_ADDR, and the gateway gets FILIERIS_<NAME>_URL.
# "seed" runs `filieris-<name> seed-demo` just before the service starts, once
# the services above it are serving (the activity and hr seeds read the registry).
SERVICES=(
  "registry 127.0.0.1:50051 seed"
  "activity 127.0.0.1:50052 seed"
  "finance 127.0.0.1:50053 seed"
  "hr 127.0.0.1:50054 seed"
  "missions 127.0.0.1:50055 seed"
  "steering 127.0.0.1:50056 -"
)
GATEWAY_DEFAULT_ADDR=127.0.0.1:8080

LOG_DIR="$FILIERIS_STATE_DIR/logs"
READY_TIMEOUT=${FILIERIS_READY_TIMEOUT:-60}
PIDS=()
NAMES=()

say() { printf '[run] %s\n' "$*" >&2; }
die() {
  printf '[run] error: %s\n' "$*" >&2
  exit 1
}

# --- prerequisites -----------------------------------------------------------
if ! command -v cargo >/dev/null 2>&1 && [[ -f "$HOME/.cargo/env" ]]; then
  # rustup installs here without always touching PATH for non-login shells.
  # shellcheck source=/dev/null
  source "$HOME/.cargo/env"
fi
command -v cargo >/dev/null 2>&1 ||
  die "cargo not found. Install the Rust toolchain (https://rustup.rs, or your distribution's rustup package) and re-run."

# A URL's password is not for the terminal.
redact() { printf '%s' "$1" | sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#'; }

upper() { printf '%s' "$1" | tr '[:lower:]-' '[:upper:]_'; }

# host:port for display and probing: a wildcard bind is reached on loopback.
reach() {
  local addr=$1
  case $addr in
    0.0.0.0:*) addr="127.0.0.1:${addr#0.0.0.0:}" ;;
    "[::]:"*) addr="[::1]:${addr#\[::\]:}" ;;
  esac
  printf '%s' "$addr"
}

tcp_open() {
  local addr host port
  addr=$(reach "$1")
  port=${addr##*:}
  host=${addr%:*}
  host=${host#[}
  host=${host%]}
  timeout 2 bash -c ": </dev/tcp/$host/$port" 2>/dev/null
}

http_ok() {
  local url=$1
  if command -v curl >/dev/null 2>&1; then
    curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null
    return
  fi
  # No curl on this machine: a bare HTTP/1.0 request over bash's /dev/tcp.
  local rest=${url#http://} hostport path status
  hostport=${rest%%/*}
  path=/${rest#*/}
  # shellcheck disable=SC2016 # the inner script expands its own arguments.
  status=$(timeout 3 bash -c '
    exec 3<>"/dev/tcp/${1%:*}/${1##*:}" || exit 1
    printf "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n" "$2" "$1" >&3
    head -n 1 <&3' _ "$hostport" "$path" 2>/dev/null) || return 1
  [[ $status == *" 200"* ]]
}

# --- stopping ----------------------------------------------------------------
cleanup() {
  local rc=$? i pid deadline
  trap - EXIT INT TERM
  if ((${#PIDS[@]})); then
    say "stopping ${NAMES[*]}"
    # Gateway first (it is last in the list), so it stops routing before backends go.
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
      kill -TERM "${PIDS[i]}" 2>/dev/null || true
    done
    deadline=$((SECONDS + ${FILIERIS_STOP_TIMEOUT:-25}))
    for pid in "${PIDS[@]}"; do
      while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
      if kill -0 "$pid" 2>/dev/null; then
        say "process $pid did not stop in time: killing it"
        kill -KILL "$pid" 2>/dev/null || true
      fi
      wait "$pid" 2>/dev/null || true
    done
  fi
  filieris_pg_stop
  filieris_redis_stop
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log_tail() {
  local name=$1
  printf -- '--- last lines of %s ---\n' "$LOG_DIR/$name.log" >&2
  tail -n 30 "$LOG_DIR/$name.log" >&2 2>/dev/null || true
}

# --- database and keys -------------------------------------------------------
mkdir -p "$LOG_DIR"
filieris_pg_resolve filieris
filieris_redis_resolve

# Generated once and kept, so credentials and signatures survive restarts.
key_file() {
  local file="$FILIERIS_STATE_DIR/$1"
  if [[ ! -s $file ]]; then
    (umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$file")
  fi
  cat "$file"
}
if [[ -n "${FILIERIS_DEV_API_KEY:-}" ]]; then
  DEV_KEY=$FILIERIS_DEV_API_KEY
  DEV_KEY_WHERE="from FILIERIS_DEV_API_KEY"
else
  DEV_KEY=$(key_file dev-api-key)
  DEV_KEY_WHERE="kept in $FILIERIS_STATE_DIR/dev-api-key"
fi
# Only the gateway is given the admin key; every process needs the internal key.
unset FILIERIS_DEV_API_KEY
export FILIERIS_INTERNAL_KEY="${FILIERIS_INTERNAL_KEY:-$(key_file internal-key)}"
# Patient pseudonym key: given to the activity service only.
PSEUDONYM_KEY=${FILIERIS_PSEUDONYM_KEY:-$(key_file pseudonym-key)}
unset FILIERIS_PSEUDONYM_KEY

# service_env NAME: the extra VAR=VALUE words of one service, one a line.
service_env() {
  case $1 in
    activity | missions) printf '%s\n' "FILIERIS_PSEUDONYM_KEY=$PSEUDONYM_KEY" ;;
  esac
}

# --- build -------------------------------------------------------------------
# Dev profile, like the tests, so `scripts/test.sh` reuses the same build.
if [[ "${FILIERIS_SKIP_BUILD:-0}" != 1 ]]; then
  say "building (cargo build --bins)..."
  cargo build --bins || die "cargo build failed (see above)"
fi
target_dir=${CARGO_TARGET_DIR:-target}
[[ $target_dir == /* ]] || target_dir="$FILIERIS_ROOT/$target_dir"
BIN_DIR=${FILIERIS_BIN_DIR:-$target_dir/debug}

# --- start -------------------------------------------------------------------
# Refuse to start over something already listening: /healthz would then
# answer for an old process and hide a failed start.
check_free() {
  if tcp_open "$2"; then
    die "$1 address $2 is already in use (another scripts/run.sh?). Stop it or set $3."
  fi
}

# start NAME ADDR [VAR=VALUE...]: runs filieris-NAME in the background with
# the extra variables, logging to LOG_DIR (truncated, so a tail shows this run).
start() {
  local name=$1 bin="$BIN_DIR/filieris-$1"
  [[ -x $bin ]] || die "$bin not found (did the build succeed?)"
  say "starting $name on $2 (log: $LOG_DIR/$name.log)"
  env "${@:3}" "$bin" >"$LOG_DIR/$name.log" 2>&1 &
  PIDS+=("$!")
  NAMES+=("$name")
}

# wait_until NAME PID CHECK...: polls CHECK until it succeeds, the process dies
# or READY_TIMEOUT passes.
wait_until() {
  local name=$1 pid=$2 deadline=$((SECONDS + READY_TIMEOUT))
  shift 2
  until "$@"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log_tail "$name"
      die "$name exited during start-up"
    fi
    if ((SECONDS >= deadline)); then
      log_tail "$name"
      die "$name not ready after ${READY_TIMEOUT}s (FILIERIS_READY_TIMEOUT)"
    fi
    sleep 0.3
  done
}

GATEWAY_ADDR=${FILIERIS_GATEWAY_ADDR:-$GATEWAY_DEFAULT_ADDR}
export FILIERIS_GATEWAY_ADDR=$GATEWAY_ADDR

for entry in "${SERVICES[@]}"; do
  read -r name default_addr _ <<<"$entry"
  var="FILIERIS_$(upper "$name")"
  addr_var="${var}_ADDR"
  url_var="${var}_URL"
  export "$addr_var=${!addr_var:-$default_addr}"
  export "$url_var=${!url_var:-http://$(reach "${!addr_var}")}"
  check_free "$name" "${!addr_var}" "$addr_var"
done
check_free gateway "$GATEWAY_ADDR" FILIERIS_GATEWAY_ADDR

for entry in "${SERVICES[@]}"; do
  read -r name _ seed <<<"$entry"
  addr_var="FILIERIS_$(upper "$name")_ADDR"
  mapfile -t extra < <(service_env "$name")
  if [[ $seed == seed ]]; then
    say "loading demo data ($name seed-demo)"
    env "${extra[@]}" "$BIN_DIR/filieris-$name" seed-demo >"$LOG_DIR/$name-seed.log" 2>&1 || {
      log_tail "$name-seed"
      die "filieris-$name seed-demo failed"
    }
  fi
  start "$name" "${!addr_var}" "${extra[@]}"
  wait_until "$name" "${PIDS[-1]}" tcp_open "${!addr_var}"
done

# The development token issuer (OAuth2 client credentials for the partner and
# job clients, a staff sign-in), its key generated once into the state directory.
start gateway "$GATEWAY_ADDR" "FILIERIS_DEV_API_KEY=$DEV_KEY" "FILIERIS_DEV_ISSUER=1" \
  "FILIERIS_DEV_ISSUER_KEY_FILE=$FILIERIS_STATE_DIR/dev-issuer.pk8"
GATEWAY_URL="http://$(reach "$GATEWAY_ADDR")"
wait_until gateway "${PIDS[-1]}" http_ok "$GATEWAY_URL/healthz"

cat <<EOF

Filieris is running.

  Web UI (French)  $GATEWAY_URL/ui/  (sign in as a development user, or paste the key below)
  REST (JSON)      $GATEWAY_URL/v1/...
  gRPC / gRPC-Web  $(reach "$GATEWAY_ADDR")
  OpenAPI          $GATEWAY_URL/openapi.json
  Health           $GATEWAY_URL/healthz
  Database         $(redact "$DATABASE_URL") ($FILIERIS_PG_SOURCE)
  Logs             $LOG_DIR/

  Development API key (admin, $DEV_KEY_WHERE):
    $DEV_KEY

  Try:
    curl -H "Authorization: Bearer $DEV_KEY" "$GATEWAY_URL/v1/structures?page_size=5"
    curl -H "Authorization: Bearer $DEV_KEY" "$GATEWAY_URL/v1/openingRate?period=2018&line=ACTIVITY_LINE_GENERAL_MEDICINE"

  Development token issuer (users and clients: $GATEWAY_URL/oauth/dev-users):
    curl -d grant_type=client_credentials -d client_id=cdc -d client_secret=cdc-dev-secret $GATEWAY_URL/oauth/token
    curl -d grant_type=urn:filieris:dev-staff -d username=manager-lens $GATEWAY_URL/oauth/token

Press Ctrl-C to stop.
EOF

# Runs until Ctrl-C, or until one process exits on its own (then stop the rest).
while :; do
  wait -n || true
  for i in "${!PIDS[@]}"; do
    if ! kill -0 "${PIDS[i]}" 2>/dev/null; then
      log_tail "${NAMES[i]}"
      die "${NAMES[i]} exited unexpectedly; stopping the others"
    fi
  done
done
