#!/usr/bin/env bash
# meridian-train --tensorboard writes event files TensorBoard reads: read
# back by an independent reader (tests/reference/read_tfevents.py: its own
# CRC-32C and protobuf decoding), every record's CRCs hold and every scalar
# equals the metrics line of the same step.
set -euo pipefail
bin=$1; work=$2; reference=$3
rm -rf "$work" && mkdir -p "$work"
"$bin/meridian-data" synth --out "$work/data" --train-bytes 100000 --val-bytes 20000 >/dev/null
"$bin/meridian-train" --model d4 --n-layer 2 --n-embd 64 --n-head 2 --vocab 256 --max-seq 32 --batch 2 --seq 32 \
  --steps 6 --eval-every 3 --eval-batches 2 --threads 2 --data "$work/data/train_*.bin" --val-data "$work/data/val_*.bin" \
  --peak-tflops 1 --metrics-out "$work/metrics.jsonl" --tensorboard "$work/tb" 2>"$work/train.log"
events=("$work"/tb/events.out.tfevents.*)
[[ ${#events[@]} == 1 && -s ${events[0]} ]] || { ls -l "$work/tb"; exit 1; }
python3 "$reference/read_tfevents.py" "${events[0]}" >"$work/events.json"
python3 - "$work/metrics.jsonl" "$work/events.json" <<'PY'
import json, struct, sys
metrics = [json.loads(l) for l in open(sys.argv[1])]
events = json.load(open(sys.argv[2]))
assert events["file_version"] == "brain.Event:2", events["file_version"]
scalars = events["scalars"]
f32 = lambda x: struct.unpack("<f", struct.pack("<f", x))[0]
def check(tag, key, rows):
    got = {step: (value, t) for step, value, t in scalars[tag]}
    assert sorted(got) == [r["step"] for r in rows], (tag, sorted(got))
    for r in rows:
        value, t = got[r["step"]]
        assert value == f32(r[key]), (tag, r["step"], value, r[key])
        assert abs(t - r["time"]) < 1e-6, (tag, t, r["time"])
steps = [r for r in metrics if "loss" in r]
evals = [r for r in metrics if "eval_loss" in r]
assert len(steps) == 6 and len(evals) == 2, (len(steps), len(evals))
for key in ("loss", "lr", "grad_norm", "tokens_per_s", "mfu"):
    check("train/" + key, key, steps)
check("eval/loss", "eval_loss", evals)
print("ok:", sorted(scalars))
PY
