# shellcheck shell=bash
# shellcheck disable=SC2034 # FILIERIS_REDIS_* results are read by the callers.
# Redis resolution shared by scripts/run.sh and scripts/test.sh (sourced),
# like postgres.sh. Redis holds the gateway's shared quotas and the change
# feed's wake-ups; nothing in it must survive a restart.
#
# filieris_redis_resolve sets and exports FILIERIS_REDIS_URL (and
# FILIERIS_TEST_REDIS_URL for the tests), in this order:
#   1. FILIERIS_REDIS_URL already set: used as is;
#   2. a server answers PING on 127.0.0.1:6379: used;
#   3. otherwise a private redis-server without persistence on
#      127.0.0.1:FILIERIS_REDIS_PRIVATE_PORT (default 56379), state in
#      $FILIERIS_STATE_DIR/redis, installed through apt when missing and we
#      are root. If that is impossible it warns and goes on: the gateway then
#      uses its local quota fallback, and the tests that need Redis say so.
# filieris_redis_stop stops the private server only if this process started it.

: "${FILIERIS_ROOT:?FILIERIS_ROOT must be set before sourcing redis.sh}"
FILIERIS_STATE_DIR="${FILIERIS_STATE_DIR:-$FILIERIS_ROOT/.filieris}"
FILIERIS_REDIS_PRIVATE_PORT="${FILIERIS_REDIS_PRIVATE_PORT:-56379}"
FILIERIS_REDIS_STARTED=0

_redis_log() { printf '[redis] %s\n' "$*" >&2; }

# Does a Redis server answer PING on 127.0.0.1:port?
_redis_answers() {
  local port=$1 reply=""
  # shellcheck disable=SC2016 # expanded by the inner shell.
  reply=$(timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "PING\r\n" >&3 && head -c 5 <&3' _ "$port" 2>/dev/null) || return 1
  [[ $reply == "+PONG" ]]
}

filieris_redis_resolve() {
  if [[ -n "${FILIERIS_REDIS_URL:-}" ]]; then
    export FILIERIS_REDIS_URL FILIERIS_TEST_REDIS_URL="${FILIERIS_TEST_REDIS_URL:-$FILIERIS_REDIS_URL}"
    return 0
  fi
  local port=6379
  if ! _redis_answers "$port"; then
    port=$FILIERIS_REDIS_PRIVATE_PORT
    if ! _redis_answers "$port"; then
      if ! command -v redis-server >/dev/null 2>&1; then
        if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
          _redis_log "installing redis-server with apt-get (one-time)..."
          { DEBIAN_FRONTEND=noninteractive apt-get update -q &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server; } >&2 ||
            _redis_log "apt-get install redis-server failed"
        fi
      fi
      if ! command -v redis-server >/dev/null 2>&1; then
        _redis_log "warning: no Redis on 127.0.0.1:6379 and redis-server cannot be installed;" \
          "the gateway falls back to local quotas and Redis tests will say why they fail or skip"
        return 0
      fi
      mkdir -p "$FILIERIS_STATE_DIR/redis"
      _redis_log "starting a private redis-server on 127.0.0.1:$port (no persistence)"
      redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --daemonize yes \
        --dir "$FILIERIS_STATE_DIR/redis" --pidfile "$FILIERIS_STATE_DIR/redis/redis.pid" \
        --logfile "$FILIERIS_STATE_DIR/redis/redis.log" >&2 || {
        _redis_log "warning: redis-server did not start (see $FILIERIS_STATE_DIR/redis/redis.log)"
        return 0
      }
      local tries=0
      until _redis_answers "$port"; do
        tries=$((tries + 1))
        if ((tries > 50)); then
          _redis_log "warning: the private redis-server does not answer"
          return 0
        fi
        sleep 0.1
      done
      FILIERIS_REDIS_STARTED=1
    fi
  fi
  export FILIERIS_REDIS_URL="redis://127.0.0.1:$port"
  export FILIERIS_TEST_REDIS_URL="${FILIERIS_TEST_REDIS_URL:-$FILIERIS_REDIS_URL}"
}

filieris_redis_stop() {
  if ((FILIERIS_REDIS_STARTED == 1)) && [[ -s "$FILIERIS_STATE_DIR/redis/redis.pid" ]]; then
    kill "$(cat "$FILIERIS_STATE_DIR/redis/redis.pid")" 2>/dev/null || true
    FILIERIS_REDIS_STARTED=0
  fi
}
