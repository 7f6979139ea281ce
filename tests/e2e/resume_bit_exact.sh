#!/usr/bin/env bash
# Resume is bit-exact: N steps straight and N/2 + resume + N/2 give
# identical per-step losses (same thread count, CPU). Also checks the
# metrics lines' time, attempt and mfu.
set -euo pipefail
bin=$1; work=$2
rm -rf "$work" && mkdir -p "$work"
"$bin/meridian-data" synth --out "$work/data" --train-bytes 200000 --val-bytes 20000 >/dev/null
common=(--model d4 --n-layer 2 --n-embd 64 --n-head 2 --vocab 256 --max-seq 32 --batch 4 --seq 32
        --steps 12 --lr 1e-3 --warmup 2 --threads 2 --data "$work/data/train_*.bin" --grad-accum 2)
"$bin/meridian-train" "${common[@]}" --peak-tflops 0.05 --metrics-out "$work/straight.jsonl" 2>/dev/null
"$bin/meridian-train" "${common[@]}" --steps 12 --checkpoint-dir "$work/ckpt" --checkpoint-every 6 \
  --metrics-out "$work/first.jsonl" 2>/dev/null
rm -rf "$work/ckpt/step_00000012" "$work/ckpt/latest"   # keep only the mid-run checkpoint
"$bin/meridian-train" "${common[@]}" --checkpoint-dir "$work/ckpt" --resume \
  --metrics-out "$work/resumed.jsonl" 2>"$work/resume.log"
grep -q "resumed from .*step_00000006 at step 6" "$work/resume.log" || { cat "$work/resume.log"; exit 1; }
python3 - "$work" <<'PY'
import json, sys, time
w = sys.argv[1]
for r in map(json.loads, open(f"{w}/straight.jsonl")):
    assert r["attempt"] == 1, r
    assert abs(r["time"] - time.time()) < 3600, r
    if "loss" in r:   # one rank: mfu = achieved GFLOP/s over the 50 GFLOP/s peak
        assert abs(r["mfu"] - r["gflops"] / 50.0) < 1e-9 * max(1.0, r["mfu"]), r
assert all("mfu" not in r for r in map(json.loads, open(f"{w}/resumed.jsonl"))), "mfu without a peak"
def losses(f): return {r["step"]: r["loss"] for r in map(json.loads, open(f)) if "loss" in r}
straight, resumed = losses(f"{w}/straight.jsonl"), losses(f"{w}/resumed.jsonl")
assert sorted(resumed) == list(range(7, 13)), sorted(resumed)
bad = [s for s in resumed if resumed[s] != straight[s]]
for s in sorted(resumed): print(s, straight[s], resumed[s])
sys.exit(f"resume diverged at steps {bad}" if bad else 0)
PY
# A long save or load shows a progress bar where a person watches (forced
# on here: stderr is no terminal in a test).
MERIDIAN_PROGRESS=always "$bin/meridian-train" "${common[@]}" --steps 2 --checkpoint-dir "$work/whole" \
  --checkpoint-format whole 2>"$work/bar.log" >/dev/null
grep -q "checkpoint step 2 \[####################\] 100%" "$work/bar.log" || { cat "$work/bar.log"; exit 1; }
MERIDIAN_PROGRESS=always "$bin/meridian-train" "${common[@]}" --steps 3 --checkpoint-dir "$work/whole" \
  --checkpoint-format whole --resume 2>"$work/bar.log" >/dev/null
grep -q "loading .*step_00000002  [0-9.]* [KM]iB" "$work/bar.log" || { cat "$work/bar.log"; exit 1; }
echo "resume is bit-exact"
