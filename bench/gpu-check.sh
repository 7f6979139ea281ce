#!/usr/bin/env bash
# The device check: on a machine with an NVIDIA GPU (written for one H200),
# builds Release for sm_90 only, runs the GPU tests, then times d12 (124M)
# at seq 1024 in bf16 (and fp32 for comparison) with meridian-bench, and
# prints a short table last. Full logs go to the folder given as $1, or
# $MERIDIAN_GPU_CHECK_OUT, or $OUT, or ./gpu-check-logs.
#
#   bash bench/gpu-check.sh [LOG_DIR]
#
# Needs the packages of scripts/install-deps.sh (it runs it when apt-get can
# reach a registry) and CUDA + NCCL under /usr/local/cuda. Budget: about 8
# minutes on 16 cores, build included.
set -uo pipefail
cd "$(dirname "$0")/.."
logs=${1:-${MERIDIAN_GPU_CHECK_OUT:-${OUT:-gpu-check-logs}}}
mkdir -p "$logs"
build=${BUILD_DIR:-build-gpu}
start=$(date +%s)
stamp() { echo "[gpu-check +$(( $(date +%s) - start ))s] $*"; }

stamp "logs in $logs"
{ nvidia-smi || true; nvcc --version 2>/dev/null || /usr/local/cuda/bin/nvcc --version; } >"$logs/machine.txt" 2>&1
if ! dpkg -s libgrpc++-dev >/dev/null 2>&1; then
  stamp "installing build dependencies"
  bash scripts/install-deps.sh >"$logs/install.log" 2>&1 || stamp "install-deps failed (see install.log); trying the build anyway"
fi

stamp "configure + build (sm_90)"
if ! { cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90-real &&
       cmake --build "$build" -j "$(nproc)"; } >"$logs/build.log" 2>&1; then
  stamp "BUILD FAILED"; tail -40 "$logs/build.log"; exit 1
fi

stamp "GPU tests"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
(cd "$build" && ctest -L gpu --output-on-failure --timeout 300) >"$logs/gpu-tests.log" 2>&1
tests_rc=$?
grep -E "tests passed|tests failed|Skipped|Failed|Not Run" "$logs/gpu-tests.log" | tail -15
"$build/tests/kernels_cuda_test" --gtest_brief=1 >"$logs/kernels_cuda_test.log" 2>&1
"$build/tests/model_cuda_test" >"$logs/model_cuda_test.log" 2>&1

bench() {  # bench NAME ARGS...
  local name=$1; shift
  stamp "bench $name"
  timeout 150 "$build/bin/meridian-bench" train --device cuda --model d12 --vocab 50257 --seq 1024 --steps 20 \
    --warmup-steps 3 --json "$@" >"$logs/bench-$name.txt" 2>&1
  echo "rc=$?" >>"$logs/bench-$name.txt"
}
bench bf16-b16 --batch 16 --dtype bf16
bench fp32-b8 --batch 8 --dtype fp32

stamp "done: GPU tests exit $tests_rc"
echo
echo "=== meridian device check: $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1), $(date -u +%F) ==="
for f in "$logs"/bench-*.txt; do
  echo "--- $(basename "$f" .txt): meridian-bench train --device cuda --model d12 --seq 1024"
  grep -E "^#|impl|meridian|WRONG|error|rc=" "$f" | grep -v '^{'
done
exit $tests_rc
