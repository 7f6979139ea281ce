#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs every test.
# Unit tests, mpirun tests and the end-to-end checks all run under ctest;
# GPU tests skip where no device exists. Then the fuzz targets, briefly.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
(cd "${BUILD_DIR:-build}" && ctest --output-on-failure -j "$(nproc)" "$@")
# Every parser under hostile input: a bounded libFuzzer run of each target
# (ASan + UBSan) from its seed corpus. Only on a whole run (no ctest
# arguments); MERIDIAN_NO_FUZZ=1 skips it.
if [[ $# -eq 0 && "${MERIDIAN_NO_FUZZ:-0}" != 1 ]]; then
  bash scripts/fuzz.sh
fi
