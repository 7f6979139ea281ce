#!/usr/bin/env bash
# Every DP x PP x ZeRO layout trains the same model as one process on the
# same global batch: per-step losses agree to 1e-5 relative over 20 steps.
# Also: a checkpoint written at DP2 x PP2 with ZeRO-1 (sharded: one file per
# rank) resumes at PP4, at DP4 with ZeRO-1 and in one process on the same
# loss curve; so does a whole-model checkpoint (the older format).
# ARCH (optional, default gpt2): llama runs the same layouts on a Llama with
# grouped-query attention and an untied head.
set -euo pipefail
mpirun_line=$1; bin=$2; work=$3; arch=${4:-gpt2}
rm -rf "$work" && mkdir -p "$work"
"$bin/meridian-data" synth --out "$work/data" --train-bytes 300000 --val-bytes 20000 >/dev/null
case $arch in
  gpt2) model=(--model d4 --n-layer 4 --n-head 2 --n-embd 64) ;;
  llama) model=(--model llama-tiny --n-layer 4 --n-head 4 --n-kv-head 2 --n-embd 64 --ffn-hidden 96
                --tie-embeddings false) ;;
  *) echo "unknown arch $arch"; exit 2 ;;
esac
common=("${model[@]}" --vocab 256 --max-seq 32 --seq 32 --steps 20
        --lr 2e-3 --warmup 3 --grad-clip 1.0 --threads 1 --data "$work/data/train_*.bin" --comm-timeout 120)
source "$(dirname "$0")/train_runs.sh"
run single 1 --batch 4 --grad-accum 2
run accum 1 --batch 2 --grad-accum 4
run dp2 2 --dp 2 --pp 1 --batch 2 --grad-accum 2
run pp2 2 --dp 1 --pp 2 --batch 4 --microbatches 2
run pp4 4 --dp 1 --pp 4 --batch 4 --microbatches 2
run pp4_gpipe 4 --dp 1 --pp 4 --batch 4 --microbatches 2 --pp-schedule gpipe
run dp2pp2 4 --dp 2 --pp 2 --batch 2 --microbatches 2
run dp2pp2_zero1 4 --dp 2 --pp 2 --batch 2 --microbatches 2 --zero 1 --checkpoint-dir "$work/ckpt" --checkpoint-every 10
run dp2_no_overlap 2 --dp 2 --batch 2 --grad-accum 2 --no-overlap --bucket-mb 0.01
run dp2pp2_whole 4 --dp 2 --pp 2 --batch 2 --microbatches 2 --checkpoint-dir "$work/ckpt_whole" \
  --checkpoint-every 10 --checkpoint-format whole
# Four ranks wrote four files; the whole format one set of arrays.
for r in 0 1 2 3; do test -s "$work/ckpt/step_00000010/rank-0000$r.bin"; done
test -s "$work/ckpt_whole/step_00000010/model.bin"
# Resume the step-10 checkpoints in other layouts.
rm -rf "$work/ckpt/step_00000020" "$work/ckpt/latest" "$work/ckpt_whole/step_00000020" "$work/ckpt_whole/latest"
cp -r "$work/ckpt" "$work/ckpt_pp4"; cp -r "$work/ckpt" "$work/ckpt_single"; cp -r "$work/ckpt" "$work/ckpt_dp4"
run resume_pp4 4 --dp 1 --pp 4 --batch 4 --microbatches 2 --checkpoint-dir "$work/ckpt_pp4" --resume
run resume_single 1 --batch 4 --grad-accum 2 --checkpoint-dir "$work/ckpt_single" --resume
run resume_dp4_zero1 4 --dp 4 --batch 1 --microbatches 2 --zero 1 --checkpoint-dir "$work/ckpt_dp4" --resume
run resume_whole_dp4 4 --dp 4 --batch 1 --microbatches 2 --zero 1 --checkpoint-dir "$work/ckpt_whole" --resume
python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
def losses(name):
    return {r["step"]: r["loss"] for r in map(json.loads, open(f"{w}/{name}.jsonl")) if "loss" in r}
ref = losses("single")
assert sorted(ref) == list(range(1, 21)), sorted(ref)
assert ref[20] < ref[1], "the reference run did not learn"
bad = False
for name in ["accum", "dp2", "pp2", "pp4", "pp4_gpipe", "dp2pp2", "dp2pp2_zero1", "dp2_no_overlap",
             "dp2pp2_whole", "resume_pp4", "resume_single", "resume_dp4_zero1", "resume_whole_dp4"]:
    got = losses(name)
    steps = sorted(got)
    expect = list(range(11, 21)) if name.startswith("resume") else list(range(1, 21))
    worst = max(abs(got[s] - ref[s]) / abs(ref[s]) for s in steps)
    ok = steps == expect and worst <= 1e-5
    bad |= not ok
    print(f"{name:16s} steps {steps[0]}-{steps[-1]}  max rel diff {worst:.2e}  {'ok' if ok else 'FAIL'}")
print(f"reference loss {ref[1]:.4f} -> {ref[20]:.4f}")
sys.exit(1 if bad else 0)
PY
