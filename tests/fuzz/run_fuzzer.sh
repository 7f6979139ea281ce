#!/usr/bin/env bash
# One bounded libFuzzer run: FUZZER SEED_DIR WORK_DIR. Starts from the seed
# corpus in the tree (left untouched) plus what earlier runs found in
# WORK_DIR/corpus, runs FUZZ_SECONDS (default 10) and prints libFuzzer's
# final figures. A crash, a leak, a sanitizer report, a timeout or an
# allocation past the limit fails the run; the input that did it is kept as
# WORK_DIR/crash-* (reproduce: FUZZER WORK_DIR/crash-...).
set -euo pipefail
fuzzer=$1 seeds=$2 work=$3
mkdir -p "$work/corpus"
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
exec "$fuzzer" -max_total_time="${FUZZ_SECONDS:-10}" -timeout=20 -rss_limit_mb=2048 -malloc_limit_mb=512 \
  -max_len=65536 -print_final_stats=1 -artifact_prefix="$work/" "$work/corpus" "$seeds"
