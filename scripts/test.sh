#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs every test.
# Unit tests, mpirun tests and the end-to-end checks all run under ctest;
# GPU tests skip where no device exists.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j "$(nproc)" "$@"
