#!/usr/bin/env bash
# meridian-train --device cuda trains the same model as the CPU path on the
# same data: per-step losses over 20 steps agree with the CPU run (fp32
# 1e-4 relative: float sums in another order compound over steps; bf16
# 3e-2), gradient accumulation and (with two or more GPUs) DP2 over NCCL
# agree with one GPU, and a GPU checkpoint resumes on the same curve. With
# two GPUs, pipeline stages (pp 2, 1F1B and GPipe, activations over NCCL)
# follow the CPU curve and resume from their own checkpoint; with four, pp 4
# and dp 2 x pp 2 do too.
# Without a GPU it checks that --device cuda fails with a clear message,
# then reports a skip (77).
set -euo pipefail
mpirun_line=$1; bin=$2; work=$3
rm -rf "$work" && mkdir -p "$work"
gpus=0
if command -v nvidia-smi >/dev/null 2>&1; then gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true); fi
"$bin/meridian-data" synth --out "$work/data" --train-bytes 300000 --val-bytes 20000 >/dev/null
common=(--model d4 --n-layer 4 --n-head 2 --n-embd 64 --vocab 256 --max-seq 32 --seq 32 --steps 20
        --lr 2e-3 --warmup 3 --grad-clip 1.0 --threads 1 --data "$work/data/train_*.bin" --comm-timeout 120)

if [[ $gpus -eq 0 ]]; then
  if "$bin/meridian-train" "${common[@]}" --steps 1 --device cuda 2>"$work/nogpu.log"; then
    echo "FAIL: --device cuda succeeded on a machine without a GPU"; exit 1
  fi
  grep -E "no CUDA device|built without CUDA" "$work/nogpu.log" >/dev/null ||
    { echo "FAIL: unclear error without a GPU:"; cat "$work/nogpu.log"; exit 1; }
  echo "no GPU here: --device cuda refuses clearly ($(tail -1 "$work/nogpu.log")); GPU checks skipped"
  exit 77
fi

source "$(dirname "$0")/train_runs.sh"
run cpu 1 --batch 4 --grad-accum 2
run gpu 1 --batch 4 --grad-accum 2 --device cuda --checkpoint-dir "$work/ckpt" --checkpoint-every 10
run gpu_accum 1 --batch 2 --grad-accum 4 --device cuda
run gpu_bf16 1 --batch 4 --grad-accum 2 --device cuda --dtype bf16
rm -rf "$work/ckpt/step_00000020" "$work/ckpt/latest"
run gpu_resume 1 --batch 4 --grad-accum 2 --device cuda --checkpoint-dir "$work/ckpt" --resume
compare=("gpu cpu 1e-4" "gpu_accum gpu 1e-5" "gpu_bf16 cpu 3e-2" "gpu_resume gpu 1e-5")
if [[ $gpus -ge 2 ]]; then
  run gpu_dp2 2 --dp 2 --batch 2 --grad-accum 2 --device cuda
  run gpu_pp2 2 --pp 2 --batch 4 --grad-accum 2 --device cuda --checkpoint-dir "$work/ckpt_pp2" --checkpoint-every 10
  run gpu_pp2_gpipe 2 --pp 2 --pp-schedule gpipe --batch 4 --grad-accum 2 --device cuda
  rm -rf "$work/ckpt_pp2/step_00000020" "$work/ckpt_pp2/latest"
  run gpu_pp2_resume 2 --pp 2 --batch 4 --grad-accum 2 --device cuda --checkpoint-dir "$work/ckpt_pp2" --resume
  # 1F1B and GPipe run each stage's backwards in the same micro-batch order.
  compare+=("gpu_dp2 gpu 1e-5" "gpu_pp2 cpu 1e-4" "gpu_pp2_gpipe gpu_pp2 1e-5" "gpu_pp2_resume gpu_pp2 1e-5")
fi
if [[ $gpus -ge 4 ]]; then
  run gpu_pp4 4 --pp 4 --batch 4 --grad-accum 2 --device cuda
  run gpu_dp2_pp2 4 --dp 2 --pp 2 --batch 2 --grad-accum 2 --device cuda
  compare+=("gpu_pp4 cpu 1e-4" "gpu_dp2_pp2 cpu 1e-4")
fi
python3 - "$work" "${compare[@]}" <<'PY'
import json, sys
w = sys.argv[1]
def losses(name):
    return {r["step"]: r["loss"] for r in map(json.loads, open(f"{w}/{name}.jsonl")) if "loss" in r}
bad = False
for spec in sys.argv[2:]:
    name, ref_name, tol = spec.split()
    got, ref = losses(name), losses(ref_name)
    steps = sorted(got)
    expect = list(range(11, 21)) if name.endswith("resume") else list(range(1, 21))
    worst = max(abs(got[s] - ref[s]) / abs(ref[s]) for s in steps)
    ok = steps == expect and worst <= float(tol)
    bad |= not ok
    print(f"{name:12s} vs {ref_name:4s} steps {steps[0]}-{steps[-1]}  max rel diff {worst:.2e} (bound {tol})  "
          f"{'ok' if ok else 'FAIL'}")
ref = losses("cpu")
print(f"cpu loss {ref[1]:.4f} -> {ref[20]:.4f}")
sys.exit(1 if bad else 0)
PY
