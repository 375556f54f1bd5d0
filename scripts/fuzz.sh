#!/usr/bin/env bash
# Runs every fuzz target of fuzz/ (libFuzzer through cargo-fuzz) for a bounded
# time and prints, per target, the executions and whether it crashed.
#
#   scripts/fuzz.sh                 # every target, FUZZ_SECONDS (default 60) each
#   scripts/fuzz.sh period csv      # only these targets
#
# cargo-fuzz builds with -Zsanitizer, a nightly flag; on a stable toolchain
# RUSTC_BOOTSTRAP=1 lets rustc accept it (the flag is as stable in practice as
# the rest of the fuzzing build; nothing else is compiled this way).
# Settings: FUZZ_SECONDS, FUZZ_SANITIZER (address | none; default address).
# Corpora grow in fuzz/corpus/<target> (git-ignored), seeded from
# fuzz/seeds/<target>; a crash leaves its input in fuzz/artifacts/<target>/.
# Exit code: 0 when no target crashed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v cargo >/dev/null 2>&1 && [[ -f "$HOME/.cargo/env" ]]; then
  # shellcheck source=/dev/null
  source "$HOME/.cargo/env"
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: cargo-fuzz is missing: cargo install cargo-fuzz --locked" >&2
  exit 1
fi

SECONDS_EACH=${FUZZ_SECONDS:-60}
SANITIZER=${FUZZ_SANITIZER:-address}
export RUSTC_BOOTSTRAP=1

mapfile -t all < <(cd fuzz && cargo fuzz list)
targets=("$@")
((${#targets[@]})) || targets=("${all[@]}")

log_dir=fuzz/artifacts/logs
mkdir -p "$log_dir"
(cd fuzz && cargo fuzz build --release --sanitizer "$SANITIZER")

failed=0
printf '%-12s %12s %8s %10s  %s\n' target executions seconds exec/s result
for target in "${targets[@]}"; do
  corpus=fuzz/corpus/$target
  mkdir -p "$corpus"
  [[ -d fuzz/seeds/$target ]] && cp -n fuzz/seeds/"$target"/* "$corpus"/ 2>/dev/null || true
  log=$log_dir/$target.log
  rc=0
  # -max_total_time bounds the run; the corpus directory is relative to fuzz/.
  (cd fuzz && cargo fuzz run --release --sanitizer "$SANITIZER" "$target" "corpus/$target" -- \
    -max_total_time="$SECONDS_EACH" -print_final_stats=1) >"$log" 2>&1 || rc=$?
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | awk '{s += $2} END {print s + 0}')
  took=$(grep -oE 'Done [0-9]+ runs in [0-9]+ second' "$log" | awk '{t = $5} END {print t + 0}')
  if ((rc == 0)); then
    result=ok
  else
    result="CRASH (exit $rc, see $log and fuzz/artifacts/$target/)"
    failed=1
  fi
  rate=$((took > 0 ? runs / took : 0))
  printf '%-12s %12d %8d %10d  %s\n' "$target" "$runs" "$took" "$rate" "$result"
done
exit "$failed"
