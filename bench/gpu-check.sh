#!/usr/bin/env bash
# The device check, written for one fresh H200 machine (CUDA toolkit under
# /usr/local/cuda, NCCL, root, Debian's registry only) and a ~9 minute
# budget, build included. In one go it
#   1. prints nvidia-smi, the devices the CUDA runtime sees, nvcc and NCCL;
#   2. installs the Debian packages (scripts/install-deps.sh without
#      python3-torch: no GPU test or GPU benchmark uses torch);
#   3. configures Release for sm_90 only and builds just what the GPU checks
#      run (ninja -k 0: a file that fails to compile does not stop the rest);
#   4. runs every ctest test labelled `gpu`, each with a timeout, on after a
#      failure;
#   5. times d12 (124M) at seq 1024 with meridian-bench train --device cuda:
#      bf16 batch 16, fp32 batch 8, then (when time is left) llama-tiny bf16
#      batch 16, which checks the Llama path's loss in the same run, and d12
#      bf16 batch 32;
#   6. profiles a few bf16 steps with Nsight Systems where it is installed
#      (GPU time by kernel family);
#   7. prints a summary last (test counts, ms/step, tokens/s, MFU, profile).
# Every step runs under `timeout`, sized from what is left of the budget.
# Logs and summary.txt go to the folder given as $1, or
# $MERIDIAN_GPU_CHECK_OUT, or $OUT, or ./gpu-check-logs.
#
#   bash bench/gpu-check.sh [LOG_DIR]
#
# Environment: BUILD_DIR (build-gpu), JOBS (nproc), MERIDIAN_GPU_CHECK_BUDGET_S
# (540: the seconds the whole script aims to stay within).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
logs=${1:-${MERIDIAN_GPU_CHECK_OUT:-${OUT:-gpu-check-logs}}}
mkdir -p "$logs" && logs=$(cd "$logs" && pwd) || exit 2
build=${BUILD_DIR:-build-gpu}
jobs=${JOBS:-$(nproc)}
budget=${MERIDIAN_GPU_CHECK_BUDGET_S:-540}
start=$(date +%s)
export PATH="/usr/local/cuda/bin:$PATH"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 DEBIAN_FRONTEND=noninteractive

now() { echo $(( $(date +%s) - start )); }
stamp() { echo "[gpu-check +$(now)s] $*"; }
# limit CAP RESERVE: the timeout for the next step: at most CAP seconds, and
# not into the RESERVE seconds kept for the steps after it (20 at least).
limit() {
  local t=$(( start + budget - $(date +%s) - $2 ))
  (( t > $1 )) && t=$1
  (( t < 20 )) && t=20
  echo "$t"
}
# rc_word RC: how a step ended.
rc_word() { case $1 in 0) echo ok ;; 124|137) echo "TIMEOUT (rc $1)" ;; *) echo "FAILED (rc $1)" ;; esac; }

# --- 1. the machine --------------------------------------------------------
nccl_version() {
  local h
  for h in /usr/local/cuda/include/nccl.h /usr/include/nccl.h /usr/local/cuda/targets/*/include/nccl.h; do
    [[ -f $h ]] || continue
    echo "$(awk '/^#define NCCL_(MAJOR|MINOR|PATCH) /{v = v (v == "" ? "" : ".") $3} END{print v}' "$h") ($h)"
    return
  done
  echo "nccl.h not found"
}
stamp "logs in $logs; budget ${budget}s, $jobs jobs"
gpu=$(timeout 20 nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)
driver_cuda=$(timeout 20 nvidia-smi 2>/dev/null | grep -o 'CUDA Version: [0-9.]*' | head -1)
nvcc_version=$(timeout 20 nvcc --version 2>/dev/null | grep -o 'release [0-9.]*, V[0-9.]*' | head -1)
nccl=$(nccl_version)
{
  echo "## nvidia-smi"; timeout 30 nvidia-smi 2>&1
  echo "## compute capabilities the CUDA runtime sees (__nvcc_device_query)"
  timeout 30 /usr/local/cuda/bin/__nvcc_device_query 2>&1; echo
  echo "## nvcc"; timeout 20 nvcc --version 2>&1
  echo "## NCCL: $nccl"
  echo "## host: $(nproc) cores, $(free -g 2>/dev/null | awk '/^Mem/{print $2}') GiB, $(grep -m1 PRETTY_NAME /etc/os-release 2>/dev/null | cut -d\" -f2)"
} >"$logs/machine.txt" 2>&1
cat "$logs/machine.txt"

# --- 2. Debian packages ----------------------------------------------------
# A policy-rc.d that refuses service starts while apt runs: install-deps.sh
# now pulls in sshd, munge and slurmd, whose postinst would otherwise try to
# start daemons in this container (a failed start fails the whole apt run).
t_install=$(now)
policy_added=0
if [[ $(id -u) -eq 0 && ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && policy_added=1
fi
t=$(limit 240 330)
stamp "install-deps.sh, MERIDIAN_NO_TORCH=1 (timeout ${t}s; log install.log)"
MERIDIAN_NO_TORCH=1 timeout -k 10 "$t" bash scripts/install-deps.sh >"$logs/install.log" 2>&1
install_rc=$?
(( policy_added )) && rm -f /usr/sbin/policy-rc.d
t_install=$(( $(now) - t_install ))
tail -3 "$logs/install.log"
[[ $install_rc -eq 0 ]] || stamp "install-deps: $(rc_word $install_rc); building with what is there"

# --- 3. configure + build (sm_90 only, GPU targets only) ---------------------
t_configure=$(now)
t=$(limit 120 270)
stamp "configure: Release, CMAKE_CUDA_ARCHITECTURES=90-real (timeout ${t}s; log configure.log)"
timeout -k 5 "$t" cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90-real \
  >"$logs/configure.log" 2>&1
configure_rc=$?
t_configure=$(( $(now) - t_configure ))
grep -E '^-- (OpenBLAS|CUDA|NCCL)' "$logs/configure.log"
cuda_line=$(grep -E '^-- CUDA:' "$logs/configure.log" | head -1 | sed 's/^-- //')
nccl_line=$(grep -E '^-- NCCL:' "$logs/configure.log" | head -1 | sed 's/^-- //')

# What the GPU tests and the benchmark run: the test binaries of the `gpu`
# label (kernels_cuda_test, model_cuda_test, cuda_stage_step_test,
# comm_nccl_test), meridian-train and meridian-data
# (gpu.training_matches_cpu) and meridian-bench. A target CMake did not
# define (no CUDA or no NCCL found) is reported, not asked for.
wanted=(kernels_cuda_test model_cuda_test cuda_stage_step_test comm_nccl_test meridian-train meridian-data
  meridian-bench)
declare -A output=([kernels_cuda_test]=tests/kernels_cuda_test [model_cuda_test]=tests/model_cuda_test
  [cuda_stage_step_test]=tests/cuda_stage_step_test [comm_nccl_test]=tests/comm_nccl_test
  [meridian-train]=bin/meridian-train [meridian-data]=bin/meridian-data [meridian-bench]=bin/meridian-bench)
targets=() undefined=()
build_rc=1 t_build=0
if [[ $configure_rc -eq 0 ]]; then
  known=$(timeout 30 ninja -C "$build" -t targets all 2>/dev/null | cut -d: -f1)
  for x in "${wanted[@]}"; do
    if grep -qxF "$x" <<<"$known"; then targets+=("$x"); else undefined+=("$x"); fi
  done
  t_build=$(now)
  t=$(limit 360 160)
  if (( ${#targets[@]} > 0 )); then
    stamp "build ${targets[*]} with $jobs jobs (timeout ${t}s; log build.log)"
    timeout -k 10 "$t" cmake --build "$build" --parallel "$jobs" --target "${targets[@]}" -- -k 0 >"$logs/build.log" 2>&1
    build_rc=$?
  else
    stamp "build: CMake defined none of ${wanted[*]} (CUDA not found?)"; build_rc=1; : >"$logs/build.log"
  fi
  t_build=$(( $(now) - t_build ))
  if [[ $build_rc -ne 0 ]]; then
    grep -E 'error|FAILED:' "$logs/build.log" | head -200 >"$logs/build-errors.txt"
    stamp "build: $(rc_word $build_rc); first errors (all in build-errors.txt):"
    head -30 "$logs/build-errors.txt"
  fi
else
  stamp "configure: $(rc_word $configure_rc)"; tail -30 "$logs/configure.log"
fi
built=() missing=()
for x in "${wanted[@]}"; do
  if [[ -x $build/${output[$x]} ]]; then built+=("$x"); else missing+=("$x"); fi
done

# --- 4. GPU tests ----------------------------------------------------------
tests_rc=1 t_tests=0 expected=0
npass=0 nfail=0 nskip=0 nnotrun=0 failed_names=""
if [[ -f $build/CTestTestfile.cmake ]]; then
  (cd "$build" && timeout -k 5 30 ctest -N -L gpu) >"$logs/gpu-tests-list.txt" 2>&1
  expected=$(grep -oE 'Total Tests: [0-9]+' "$logs/gpu-tests-list.txt" | grep -oE '[0-9]+' || echo 0)
  t_tests=$(now)
  t=$(limit 200 80)
  stamp "ctest -L gpu: $expected tests, 8 at a time, 120 s each (timeout ${t}s in all; log gpu-tests.log)"
  (cd "$build" && timeout -k 10 "$t" ctest -L gpu -j 8 --timeout 120 --output-on-failure --no-tests=error \
     --output-junit "$logs/gpu-tests.xml") >"$logs/gpu-tests.log" 2>&1
  tests_rc=$?
  t_tests=$(( $(now) - t_tests ))
  # One line per finished test: "  3/38 Test  #7: name .....   Passed    0.52 sec".
  awk '/^ *[0-9]+\/[0-9]+ +Test +#[0-9]+: / {
         name = $0; sub(/^.*Test +#[0-9]+: /, "", name); sub(/ .*/, "", name)
         if ($0 ~ /\*\*\*Skipped/) s = "skipped"; else if ($0 ~ /Not Run/) s = "notrun"
         else if ($0 ~ / Passed +[0-9.]+ sec/) s = "passed"; else s = "failed"
         print s, name }' "$logs/gpu-tests.log" >"$logs/gpu-tests-status.txt"
  npass=$(grep -c '^passed ' "$logs/gpu-tests-status.txt")
  nfail=$(grep -c '^failed ' "$logs/gpu-tests-status.txt")
  nskip=$(grep -c '^skipped ' "$logs/gpu-tests-status.txt")
  nnotrun=$(grep -c '^notrun ' "$logs/gpu-tests-status.txt")
  failed_names=$(grep -E '^(failed|notrun) ' "$logs/gpu-tests-status.txt" | cut -d' ' -f2 | tr '\n' ' ')
  grep -E 'tests passed|Total Test time' "$logs/gpu-tests.log"
  if [[ -n $failed_names ]]; then
    stamp "failing GPU tests: $failed_names; first lines of their output:"
    grep -E 'Failure|error|FAIL|Expected|Which is|Value of|max rel|Could not find' "$logs/gpu-tests.log" | head -40
  fi
else
  stamp "no ctest file in $build: GPU tests not run"
fi

# --- 5. the d12 (and llama-tiny) training step -------------------------------
bench_names=()
bench() {  # bench NAME CAP RESERVE MODEL ARGS...
  local name=$1 cap=$2 reserve=$3 model=$4 t rc; shift 4
  bench_names+=("$name")
  if [[ ! -x $build/bin/meridian-bench ]]; then echo "meridian-bench not built" >"$logs/bench-$name.txt"; return; fi
  t=$(limit "$cap" "$reserve")
  stamp "meridian-bench train --device cuda --model $model --seq 1024 $* (timeout ${t}s)"
  timeout -k 5 "$t" "$build/bin/meridian-bench" train --device cuda --model "$model" --vocab 50257 --seq 1024 \
    --steps 20 --warmup-steps 3 --json "$@" >"$logs/bench-$name.txt" 2>&1
  rc=$?
  echo "rc=$rc" >>"$logs/bench-$name.txt"
  grep -v '^{' "$logs/bench-$name.txt"
}
bench bf16-b16 120 45 d12 --batch 16 --dtype bf16
bench fp32-b8 90 10 d12 --batch 8 --dtype fp32
# Llama on the GPU (RMSNorm, rotary, grouped-query attention, SwiGLU): a
# 4-layer model, seconds of work, its loss checked in the same run.
if (( start + budget - $(date +%s) > 60 )); then bench llama-b16 40 10 llama-tiny --batch 16 --dtype bf16; fi
if (( start + budget - $(date +%s) > 75 )); then bench bf16-b32 60 10 d12 --batch 32 --dtype bf16; fi

# --- 5b. where the step's time goes (Nsight Systems, where installed) -------
# Kernel time by family (attention, matmuls, LayerNorm, classifier, AdamW,
# elementwise, NCCL) and copies, over a short bf16 d12 run.
profile_txt=$logs/profile.txt
echo "no profile: nsys not found (Nsight Systems)" >"$profile_txt"
nsys_bin=$(command -v nsys || ls /usr/local/cuda/bin/nsys /opt/nvidia/nsight-systems/*/bin/nsys \
  /usr/local/cuda/nsight-systems-*/bin/nsys 2>/dev/null | head -1)
if [[ -n $nsys_bin && -x $build/bin/meridian-bench ]] && (( start + budget - $(date +%s) > 90 )); then
  t=$(limit 60 25)
  stamp "nsys profile of d12 bf16 batch 16, 6 steps (timeout ${t}s; log nsys.log)"
  timeout -k 5 "$t" "$nsys_bin" profile --trace=cuda --sample=none --cpuctxsw=none --force-overwrite true \
    -o "$logs/d12-bf16" "$build/bin/meridian-bench" train --device cuda --model d12 --vocab 50257 --seq 1024 \
    --steps 6 --warmup-steps 2 --batch 16 --dtype bf16 >"$logs/nsys.log" 2>&1
  for report in cuda_gpu_kern_sum cuda_gpu_mem_time_sum; do
    timeout -k 5 20 "$nsys_bin" stats --report "$report" --format csv --force-export true \
      --output "$logs/d12-bf16" "$logs/d12-bf16.nsys-rep" >>"$logs/nsys.log" 2>&1
  done
  python3 - "$logs/d12-bf16_cuda_gpu_kern_sum.csv" "$logs/d12-bf16_cuda_gpu_mem_time_sum.csv" >"$profile_txt" 2>&1 <<'PY'
import csv, re, sys
families = [("attention", r"Attention"), ("matmul", r"gemm|Gemm|cublas|xmma|cutlass|nvjet|sm\d\d_"),
            ("layernorm", r"LayerNorm"), ("classifier", r"SoftmaxCrossEntropy"), ("adamw", r"AdamW|SumOfSquares"),
            ("elementwise", r"Gelu|Residual|Encoder|ColumnSum|Convert"), ("nccl", r"nccl")]
def rows(path):
    try:
        lines = [l for l in open(path) if l.strip()]
    except OSError:
        return []
    start = next((i for i, l in enumerate(lines) if "Total Time" in l), None)
    return [] if start is None else list(csv.DictReader(lines[start:]))
def col(row, word):
    return next(v for k, v in row.items() if k and word in k)
total, by = 0.0, {}
for r in rows(sys.argv[1]):
    ns, name = float(col(r, "Total Time")), col(r, "Name")
    fam = next((f for f, rx in families if re.search(rx, name)), "other")
    by[fam] = by.get(fam, 0.0) + ns
    total += ns
for r in rows(sys.argv[2]):
    by["copies"] = by.get("copies", 0.0) + float(col(r, "Total Time"))
    total += float(col(r, "Total Time"))
if total == 0:
    print("no profile: nsys produced no kernel summary (see nsys.log)")
    sys.exit(0)
print("GPU time by kernel family, d12 bf16 batch 16, 6 steps (nsys):")
for fam, ns in sorted(by.items(), key=lambda x: -x[1]):
    print("  %-12s %6.1f%%  %9.1f ms" % (fam, 100 * ns / total, ns / 1e6))
PY
  cat "$profile_txt"
fi

# --- 6. summary, last ------------------------------------------------------
bench_rows() {
  local name f rc json
  printf '%-9s %5s %5s %8s %9s %7s %6s %8s %7s %7s %13s %s\n' run dtype batch ms/step tokens/s TFLOP/s MFU \
    GEMM-TF of-GEMM mem-GiB 'loss-first>last' result
  for name in "${bench_names[@]}"; do
    f=$logs/bench-$name.txt
    rc=$(grep -oE '^rc=[0-9]+' "$f" | cut -d= -f2)
    json=$(grep '^{' "$f" | tail -1)
    if [[ -n $json ]] && command -v python3 >/dev/null; then
      python3 - "$name" "${rc:-?}" "$json" <<'PY'
import json, sys
name, rc, j = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
mfu = "%.1f%%" % (100 * j["tflops"] / j["peak_tflops"]) if j.get("peak_tflops") else "-"
check = "ok" if j["loss_ok"] and rc == "0" else ("WRONG loss" if not j["loss_ok"] else "rc " + rc)
print("%-9s %5s %5d %8.2f %9.0f %7.1f %6s %8.1f %6.1f%% %7.1f %6.3f>%6.3f %s" % (
    name, j["dtype"], j["batch"], j["ms_per_step"], j["tokens_per_s"], j["tflops"], mfu, j["gemm_tflops"],
    100 * j["tflops"] / j["gemm_tflops"], j["gpu_mem_gib"], j["loss_first"], j["loss_last"], check))
PY
    else
      printf '%-9s %s\n' "$name" "no result: $(rc_word "${rc:-1}"); $(grep -m1 -E 'error|WRONG|not built' "$f")"
    fi
  done
}
overall=0
[[ $build_rc -eq 0 && ${#missing[@]} -eq 0 ]] || overall=1
[[ $tests_rc -eq 0 && $nfail -eq 0 && $nnotrun -eq 0 ]] || overall=1
for name in "${bench_names[@]}"; do grep -qx 'rc=0' "$logs/bench-$name.txt" || overall=1; done
{
  echo
  echo "=== meridian device check: ${gpu:-no GPU seen by nvidia-smi}; $(date -u '+%F %H:%M') UTC, $(now) s ==="
  echo "driver ${driver_cuda:-?}; nvcc ${nvcc_version:-not found}; NCCL ${nccl}"
  echo "${cuda_line:-CUDA: (configure did not report)}; ${nccl_line:-NCCL: (configure did not report)}"
  printf '%-10s %4ss  %s\n' install "$t_install" "$(rc_word $install_rc) (MERIDIAN_NO_TORCH=1)"
  printf '%-10s %4ss  %s\n' configure "$t_configure" "$(rc_word $configure_rc)"
  printf '%-10s %4ss  %s\n' build "$t_build" "$(rc_word $build_rc); built: ${built[*]:-none}${missing[*]:+; MISSING: ${missing[*]}}${undefined[*]:+ (not defined by CMake: ${undefined[*]})}"
  printf '%-10s %4ss  %s\n' "gpu tests" "$t_tests" "$npass passed, $nfail failed, $nskip skipped, $nnotrun not run, of $expected (ctest $(rc_word $tests_rc))"
  [[ -n $failed_names ]] && echo "  failing: $failed_names"
  (( nskip > 0 )) && echo "  SKIPPED tests mean the CUDA runtime saw no device (driver too old for this CUDA?)"
  (( npass + nfail + nskip + nnotrun < expected )) && echo "  cut off: only $(( npass + nfail + nskip + nnotrun )) of $expected tests finished"
  echo "d12 (124M), vocab 50257, seq 1024, median of 20 steps after 3 warm-up; MFU over the data-sheet dense bf16 peak,"
  echo "of-GEMM over the same run's cuBLASLt GEMM (BT x 4C x C, the step's dtype):"
  echo "llama-b16 is llama-tiny (Llama: 4 layers, C 256, 8 query / 4 key-value heads) on the same settings:"
  bench_rows
  cat "$profile_txt"
  echo "result: $([[ $overall -eq 0 ]] && echo PASS || echo FAIL); logs: $logs"
} >"$logs/summary.txt" 2>&1
cat "$logs/summary.txt"
exit $overall
