#!/usr/bin/env bash
# meridian-train --device cuda trains the same model as the CPU path on the
# same data: per-step losses over 20 steps agree with the CPU run (fp32
# 1e-4 relative: float sums in another order compound over steps; bf16
# 3e-2), gradient accumulation and (with two or more GPUs) DP2 over NCCL
# agree with one GPU, and a GPU checkpoint resumes on the same curve. With
# two GPUs, pipeline stages (pp 2, 1F1B and GPipe, activations over NCCL)
# follow the CPU curve and resume from their own checkpoint; with four, pp 4
# and dp 2 x pp 2 do too.
# The other data-parallel modes against the CPU run of the same layout: with
# two GPUs ZeRO-1 (fp32 and bf16; its sharded checkpoint resumed in one GPU
# without ZeRO and by the CPU with ZeRO, its whole checkpoint on GPUs),
# hierarchical and DiLoCo (uncompressed with a resume, and int8) over two
# data centers of one GPU each; with four, ZeRO-1 at dp 2 x pp 2, and
# hierarchical and int8 DiLoCo over two data centers of two GPUs.
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

  # ZeRO-1: the gradient reduce-scattered and the weights all-gathered on
  # the device, AdamW on the shard only.
  zero=(--dp 2 --batch 2 --grad-accum 2 --zero 1)
  run cpu_zero 2 "${zero[@]}"
  run gpu_zero 2 "${zero[@]}" --device cuda --checkpoint-dir "$work/ckpt_zero" --checkpoint-every 10
  run gpu_zero_bf16 2 "${zero[@]}" --device cuda --dtype bf16
  run gpu_zero_whole 2 "${zero[@]}" --device cuda --checkpoint-dir "$work/ckpt_zero_whole" --checkpoint-every 10 \
    --checkpoint-format whole
  rm -rf "$work"/ckpt_zero*/step_00000020 "$work"/ckpt_zero*/latest
  cp -r "$work/ckpt_zero" "$work/ckpt_zero_cpu"
  # The shards' moments came from the GPUs: one GPU without ZeRO, and the
  # CPU with ZeRO, continue the curve from them.
  run gpu_zero_single_resume 1 --batch 4 --grad-accum 2 --device cuda --checkpoint-dir "$work/ckpt_zero" --resume
  run cpu_zero_resume 2 "${zero[@]}" --checkpoint-dir "$work/ckpt_zero_cpu" --resume
  run gpu_zero_whole_resume 2 "${zero[@]}" --device cuda --checkpoint-dir "$work/ckpt_zero_whole" --resume
  # Two data centers of one GPU each.
  two_dcs=(--pools dcA:1,dcB:1 --dp 2 --batch 2 --grad-accum 2)
  run cpu_hier 2 "${two_dcs[@]}" --dp-sync hierarchical
  run gpu_hier 2 "${two_dcs[@]}" --dp-sync hierarchical --device cuda
  diloco=("${two_dcs[@]}" --dp-sync diloco --diloco-h 5)
  run cpu_diloco 2 "${diloco[@]}"
  run gpu_diloco 2 "${diloco[@]}" --device cuda --checkpoint-dir "$work/ckpt_diloco" --checkpoint-every 10
  run cpu_diloco_int8 2 "${diloco[@]}" --outer-compress int8
  run gpu_diloco_int8 2 "${diloco[@]}" --outer-compress int8 --device cuda
  rm -rf "$work/ckpt_diloco/step_00000020" "$work/ckpt_diloco/latest"
  run gpu_diloco_resume 2 "${diloco[@]}" --device cuda --checkpoint-dir "$work/ckpt_diloco" --resume
  # int8 rounds each pseudo-gradient value to one of 255 steps: a value the
  # GPU computes a last bit away from the CPU's can land one step over, so
  # int8 DiLoCo gets 1e-3 where the uncompressed run keeps fp32's 1e-4.
  compare+=("gpu_zero cpu_zero 1e-4" "gpu_zero_bf16 cpu_zero 3e-2" "gpu_zero_whole gpu_zero 1e-5"
            "gpu_zero_single_resume gpu_zero 1e-4" "cpu_zero_resume cpu_zero 1e-4"
            "gpu_zero_whole_resume gpu_zero 1e-5" "gpu_hier cpu_hier 1e-4" "gpu_diloco cpu_diloco 1e-4"
            "gpu_diloco_int8 cpu_diloco_int8 1e-3" "gpu_diloco_resume gpu_diloco 1e-5")
fi
if [[ $gpus -ge 4 ]]; then
  run gpu_pp4 4 --pp 4 --batch 4 --grad-accum 2 --device cuda
  run gpu_dp2_pp2 4 --dp 2 --pp 2 --batch 2 --grad-accum 2 --device cuda
  compare+=("gpu_pp4 cpu 1e-4" "gpu_dp2_pp2 cpu 1e-4")
  run cpu_zero_dp2_pp2 4 --dp 2 --pp 2 --batch 2 --grad-accum 2 --zero 1
  run gpu_zero_dp2_pp2 4 --dp 2 --pp 2 --batch 2 --grad-accum 2 --zero 1 --device cuda
  four=(--pools dcA:2,dcB:2 --dp 4 --batch 1 --grad-accum 2)
  run cpu_hier4 4 "${four[@]}" --dp-sync hierarchical
  run gpu_hier4 4 "${four[@]}" --dp-sync hierarchical --device cuda
  run cpu_diloco4 4 "${four[@]}" --dp-sync diloco --diloco-h 5 --outer-compress int8
  run gpu_diloco4 4 "${four[@]}" --dp-sync diloco --diloco-h 5 --outer-compress int8 --device cuda
  compare+=("gpu_zero_dp2_pp2 cpu_zero_dp2_pp2 1e-4" "gpu_hier4 cpu_hier4 1e-4" "gpu_diloco4 cpu_diloco4 1e-3")
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
    print(f"{name:22s} vs {ref_name:16s} steps {steps[0]}-{steps[-1]}  max rel diff {worst:.2e} (bound {tol})  "
          f"{'ok' if ok else 'FAIL'}")
ref = losses("cpu")
print(f"cpu loss {ref[1]:.4f} -> {ref[20]:.4f}")
sys.exit(1 if bad else 0)
PY
