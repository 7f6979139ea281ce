#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, AddressSanitizer + UBSan) into
# build-fuzz/ and runs each from its seed corpus for FUZZ_SECONDS (default
# 10; a longer run: FUZZ_SECONDS=600 bash scripts/fuzz.sh). Extra arguments
# go to ctest, e.g. -R checkpoint. What a run finds stays in
# build-fuzz/tests/fuzz/runs/<target>/ (corpus/, and crash-* on a failure).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${FUZZ_BUILD_DIR:-build-fuzz}
JOBS=${JOBS:-$(nproc)}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMERIDIAN_FUZZ=ON \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >"$BUILD_DIR.configure.log" 2>&1 ||
  { cat "$BUILD_DIR.configure.log"; exit 1; }
cmake --build "$BUILD_DIR" -j "$JOBS" --target fuzz
cd "$BUILD_DIR"
ctest --output-on-failure -j "$JOBS" -L fuzz "$@"
