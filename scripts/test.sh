#!/usr/bin/env bash
# Runs every test of the workspace against a real PostgreSQL (found or
# provisioned like scripts/run.sh does). Extra arguments go to the test
# runner, e.g. `scripts/test.sh -p filieris-registry`. Exits with its code.
set -euo pipefail

FILIERIS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$FILIERIS_ROOT"
# shellcheck source=scripts/lib/postgres.sh
source "$FILIERIS_ROOT/scripts/lib/postgres.sh"
# shellcheck source=scripts/lib/redis.sh
source "$FILIERIS_ROOT/scripts/lib/redis.sh"

say() { printf '[test] %s\n' "$*" >&2; }

if ! command -v cargo >/dev/null 2>&1 && [[ -f "$HOME/.cargo/env" ]]; then
  # shellcheck source=/dev/null
  source "$HOME/.cargo/env"
fi
if ! command -v cargo >/dev/null 2>&1; then
  say "error: cargo not found. Install the Rust toolchain (https://rustup.rs) and re-run."
  exit 1
fi

trap 'filieris_pg_stop; filieris_redis_stop' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ -n "${CI:-}" ]]; then
  # Nothing may wait for a keyboard in CI.
  exec </dev/null
  export DEBIAN_FRONTEND=noninteractive
fi

# Tests create their own databases from this one, so it is the maintenance
# database `postgres`, not the `filieris` database run.sh uses.
filieris_pg_resolve postgres
filieris_redis_resolve
say "FILIERIS_TEST_REDIS_URL=${FILIERIS_TEST_REDIS_URL:-unset}"
say "DATABASE_URL=$(printf '%s' "$DATABASE_URL" | sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#')"

runner=(cargo test)
if cargo nextest --version >/dev/null 2>&1; then
  # nextest runs each test in its own process and reports them all; it does
  # not run doctests, which we accept.
  runner=(cargo nextest run)
fi
# The whole workspace unless the caller picked packages (-p would otherwise
# be overridden by --workspace).
selection=(--workspace)
for arg in "$@"; do
  case $arg in
    -p | -p* | --package | --package=*) selection=() ;;
  esac
done
runner+=("${selection[@]}" --all-targets)
if [[ -n "${CI:-}" ]]; then
  # In CI report every failure, not just the first failing test binary.
  runner+=(--no-fail-fast)
  export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
fi

say "running: ${runner[*]} $*"
rc=0
"${runner[@]}" "$@" || rc=$?
if ((rc != 0)); then
  say "tests failed (exit code $rc)"
fi
exit "$rc"
