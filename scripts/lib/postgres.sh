# shellcheck shell=bash
# shellcheck disable=SC2034 # FILIERIS_PG_* results are read by the callers.
# PostgreSQL resolution shared by scripts/run.sh and scripts/test.sh (sourced).
#
# filieris_pg_resolve DBNAME sets and exports DATABASE_URL, in this order:
#   1. DATABASE_URL already set: used as is;
#   2. a server answers on FILIERIS_PG_HOST:FILIERIS_PG_PORT (default
#      127.0.0.1:5432): postgres://postgres@host:port/DBNAME, created if missing;
#   3. otherwise a private cluster under $FILIERIS_STATE_DIR/pg, listening on
#      127.0.0.1:FILIERIS_PG_PRIVATE_PORT (default 55432), installed through apt
#      when the binaries are missing and we are root.
# FILIERIS_PG_FORCE_PRIVATE=1 skips step 2 (to exercise step 3 on a machine
# that has a server). filieris_pg_stop stops the private cluster only if this
# process started it. Callers set FILIERIS_ROOT (the repository root) first.

: "${FILIERIS_ROOT:?FILIERIS_ROOT must be set before sourcing postgres.sh}"
FILIERIS_STATE_DIR="${FILIERIS_STATE_DIR:-$FILIERIS_ROOT/.filieris}"
FILIERIS_PG_HOST="${FILIERIS_PG_HOST:-127.0.0.1}"
FILIERIS_PG_PORT="${FILIERIS_PG_PORT:-5432}"
FILIERIS_PG_PRIVATE_PORT="${FILIERIS_PG_PRIVATE_PORT:-55432}"
FILIERIS_PG_DIR="${FILIERIS_PG_DIR:-$FILIERIS_STATE_DIR/pg}"

# Set by filieris_pg_resolve: where the database came from (env|local|private)
# and whether this process started the private cluster.
FILIERIS_PG_SOURCE=""
FILIERIS_PG_STARTED=0
_FILIERIS_PG_BIN=""

_pg_log() { printf '[postgres] %s\n' "$*" >&2; }
_pg_die() {
  printf '[postgres] error: %s\n' "$*" >&2
  return 1
}

# Is a PostgreSQL server accepting connections on host:port?
_pg_answers() {
  local host=$1 port=$2 rc tries=0
  if command -v pg_isready >/dev/null 2>&1; then
    while :; do
      rc=0
      pg_isready -q -h "$host" -p "$port" -t 3 || rc=$?
      # 1 = up but rejecting (starting or recovering): give it a few seconds.
      if [[ $rc -eq 1 && $tries -lt 10 ]]; then
        tries=$((tries + 1))
        sleep 1
        continue
      fi
      [[ $rc -eq 0 ]]
      return
    done
  fi
  # No client tools: a TCP connect is the best we can do.
  timeout 3 bash -c ": </dev/tcp/$host/$port" 2>/dev/null
}

# Finds the directory holding initdb/pg_ctl/psql (newest major version first).
_pg_find_bin() {
  local dir dirs=()
  if [[ -n "${FILIERIS_PG_BIN:-}" ]]; then
    [[ -x "$FILIERIS_PG_BIN/initdb" && -x "$FILIERIS_PG_BIN/pg_ctl" ]] || return 1
    _FILIERIS_PG_BIN=$FILIERIS_PG_BIN
    return 0
  fi
  mapfile -t dirs < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r)
  for dir in "${dirs[@]}"; do
    if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then
      _FILIERIS_PG_BIN=$dir
      return 0
    fi
  done
  # Other layouts (Homebrew, RPM-based distributions) put them on PATH.
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    _FILIERIS_PG_BIN=$(dirname "$(command -v pg_ctl)")
    return 0
  fi
  return 1
}

_pg_install() {
  if [[ $(id -u) -ne 0 ]]; then
    _pg_die "no PostgreSQL server answers on $FILIERIS_PG_HOST:$FILIERIS_PG_PORT and its binaries (initdb, pg_ctl) are not installed.
  Either install them (Debian/Ubuntu: sudo apt-get install -y postgresql; Fedora: sudo dnf install postgresql-server),
  start a server on $FILIERIS_PG_HOST:$FILIERIS_PG_PORT, or set DATABASE_URL to a server you can use."
    return 1
  fi
  command -v apt-get >/dev/null 2>&1 ||
    { _pg_die "PostgreSQL is not installed and apt-get is not available: install PostgreSQL (initdb, pg_ctl) or set DATABASE_URL."; return 1; }
  _pg_log "installing PostgreSQL with apt-get (one-time)..."
  if ! { DEBIAN_FRONTEND=noninteractive apt-get update -q &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql; } >&2; then
    _pg_die "apt-get install postgresql failed (see above)."
    return 1
  fi
  _pg_find_bin || { _pg_die "PostgreSQL installed but initdb/pg_ctl not found under /usr/lib/postgresql/*/bin."; return 1; }
}

# initdb refuses to run as root: as root the cluster belongs to the `postgres`
# system user and every server-side command runs as that user.
_pg_owner() {
  if [[ $(id -u) -eq 0 ]]; then echo postgres; else id -un; fi
}

_pg_as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    if command -v runuser >/dev/null 2>&1; then
      runuser -u postgres -- "$@"
    else
      # su needs one command string; the arguments are quoted for the shell.
      su -s /bin/sh postgres -c "$(printf '%q ' "$@")"
    fi
  else
    "$@"
  fi
}

# Unix socket paths are limited to ~107 bytes; fall back to /tmp for deep checkouts.
_pg_socket_dir() {
  local dir="$FILIERIS_PG_DIR/run"
  if (( ${#dir} + 20 > 100 )); then
    dir="${TMPDIR:-/tmp}/filieris-pg-$(_pg_owner)-$FILIERIS_PG_PRIVATE_PORT"
  fi
  printf '%s\n' "$dir"
}

_pg_private_start() {
  local data="$FILIERIS_PG_DIR/data" log="$FILIERIS_PG_DIR/postgres.log" owner sock
  owner=$(_pg_owner)
  sock=$(_pg_socket_dir)
  _pg_find_bin || _pg_install || return 1

  if [[ $(id -u) -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
    _pg_log "creating the postgres system user"
    useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres ||
      { _pg_die "could not create the postgres system user."; return 1; }
  fi
  mkdir -p "$FILIERIS_PG_DIR" "$sock"
  chmod 0700 "$FILIERIS_PG_DIR"
  if [[ $(id -u) -eq 0 ]]; then
    chown postgres: "$FILIERIS_PG_DIR" "$sock"
    # The postgres user must be able to reach the directory (e.g. not under /root).
    _pg_as_owner test -w "$FILIERIS_PG_DIR" ||
      { _pg_die "the postgres user cannot write $FILIERIS_PG_DIR (a parent directory is not traversable?).
  Set FILIERIS_PG_DIR to a directory it can reach, or set DATABASE_URL."; return 1; }
  fi

  if [[ ! -s "$data/PG_VERSION" ]]; then
    _pg_log "initialising a private cluster in $data (owner $owner)"
    _pg_as_owner "$_FILIERIS_PG_BIN/initdb" -D "$data" -U postgres --auth=trust \
      --encoding=UTF8 --no-locale >"$FILIERIS_PG_DIR/initdb.log" 2>&1 ||
      { tail -n 20 "$FILIERIS_PG_DIR/initdb.log" >&2; _pg_die "initdb failed (log: $FILIERIS_PG_DIR/initdb.log)."; return 1; }
  fi

  if _pg_as_owner "$_FILIERIS_PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    _pg_log "private cluster already running ($data); reusing it"
  else
    _pg_log "starting the private cluster on 127.0.0.1:$FILIERIS_PG_PRIVATE_PORT (log: $log)"
    # Options are given at each start (not written to postgresql.conf) so the
    # port stays overridable and a moved checkout does not keep a stale socket path.
    _pg_as_owner "$_FILIERIS_PG_BIN/pg_ctl" -D "$data" -l "$log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $FILIERIS_PG_PRIVATE_PORT -k '$sock'" start >/dev/null ||
      { tail -n 20 "$log" >&2 2>/dev/null; _pg_die "pg_ctl start failed (log: $log)."; return 1; }
    FILIERIS_PG_STARTED=1
  fi
}

_pg_psql() {
  local url=$1
  shift
  local psql
  if [[ -n "$_FILIERIS_PG_BIN" && -x "$_FILIERIS_PG_BIN/psql" ]]; then
    psql="$_FILIERIS_PG_BIN/psql"
  else
    psql=$(command -v psql) || return 127
  fi
  # -w: never prompt for a password (no terminal in CI); -X: ignore ~/.psqlrc.
  PGCONNECT_TIMEOUT=5 "$psql" -X -w -q -v ON_ERROR_STOP=1 -tA "$url" "$@"
}

# Creates database $2 through admin URL $1 (a maintenance database) unless it exists.
_pg_ensure_database() {
  local admin_url=$1 db=$2 exists
  [[ -n "$_FILIERIS_PG_BIN" ]] || command -v psql >/dev/null 2>&1 || _pg_find_bin || true
  if [[ -z "$_FILIERIS_PG_BIN" ]] && ! command -v psql >/dev/null 2>&1; then
    _pg_log "psql not found: cannot check that database '$db' exists; the services will report it if not (install postgresql-client)"
    return 0
  fi
  exists=$(_pg_psql "$admin_url" -c "SELECT 1 FROM pg_database WHERE datname = '$db'") ||
    { _pg_die "cannot connect to $admin_url as postgres: set DATABASE_URL to a server and role you can use."; return 1; }
  [[ "$exists" == 1 ]] && return 0
  _pg_log "creating database $db"
  # Another process may create it at the same time: re-check before failing.
  _pg_psql "$admin_url" -c "CREATE DATABASE \"$db\"" >/dev/null 2>&1 ||
    [[ $(_pg_psql "$admin_url" -c "SELECT 1 FROM pg_database WHERE datname = '$db'") == 1 ]] ||
    { _pg_die "could not create database $db on $admin_url."; return 1; }
}

filieris_pg_resolve() {
  local db=${1:-postgres} base
  if [[ -n "${DATABASE_URL:-}" ]]; then
    FILIERIS_PG_SOURCE="env"
    _pg_log "using DATABASE_URL from the environment"
    export DATABASE_URL
    return 0
  fi
  if [[ "${FILIERIS_PG_FORCE_PRIVATE:-0}" != 1 ]] && _pg_answers "$FILIERIS_PG_HOST" "$FILIERIS_PG_PORT"; then
    FILIERIS_PG_SOURCE=local
    base="postgres://postgres@$FILIERIS_PG_HOST:$FILIERIS_PG_PORT"
    _pg_log "using the server on $FILIERIS_PG_HOST:$FILIERIS_PG_PORT"
  else
    FILIERIS_PG_SOURCE=private
    _pg_private_start || return 1
    base="postgres://postgres@127.0.0.1:$FILIERIS_PG_PRIVATE_PORT"
  fi
  if [[ "$db" != postgres ]]; then
    _pg_ensure_database "$base/postgres" "$db" || return 1
  fi
  export DATABASE_URL="$base/$db"
}

filieris_pg_stop() {
  if [[ $FILIERIS_PG_STARTED == 1 ]]; then
    _pg_log "stopping the private cluster"
    _pg_as_owner "$_FILIERIS_PG_BIN/pg_ctl" -D "$FILIERIS_PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    FILIERIS_PG_STARTED=0
  fi
}
