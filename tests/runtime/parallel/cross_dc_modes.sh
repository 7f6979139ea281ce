#!/usr/bin/env bash
# Cross-data-center synchronisation modes, 2 data centers x 2 ranks:
#  - hierarchical gives the losses of sync (1e-5 relative) with fewer WAN bytes;
#  - replicas whose stages straddle both data centers train like one process;
#  - diloco with H=1, outer lr 1, no momentum equals sync when all ranks
#    share a data center;
#  - diloco with H>1 trains and cuts WAN bytes per step by about H, int8 by ~4x more;
#  - a diloco run resumed from a checkpoint continues the same losses.
set -euo pipefail
mpirun_line=$1; bin=$2; work=$3
rm -rf "$work" && mkdir -p "$work"
"$bin/meridian-data" synth --out "$work/data" --train-bytes 300000 --val-bytes 20000 >/dev/null
common=(--n-layer 2 --n-head 2 --n-embd 64 --vocab 256 --max-seq 32 --seq 32 --lr 2e-3 --warmup 2
        --grad-clip 1.0 --threads 1 --data "$work/data/train_*.bin" --comm-timeout 120)
source "$(dirname "$0")/train_runs.sh"
two_dcs=(--pools dcA:2,dcB:2 --dp 4 --batch 2)
run single 1 --batch 8 --steps 16
run sync 4 "${two_dcs[@]}" --steps 16 --dp-sync sync
run hier 4 "${two_dcs[@]}" --steps 16 --dp-sync hierarchical
# Replicas that straddle the data centers: stage 0 of each in dcA, stage 1 in dcB.
run straddle 4 --pools dcA:1,dcB:1,dcA:1,dcB:1 --dp 2 --pp 2 --batch 4 --steps 16 --dp-sync hierarchical
run diloco_h1_one_dc 4 --pools dcA:4 --dp 4 --batch 2 --steps 16 --dp-sync diloco --diloco-h 1 --outer-lr 1 --outer-momentum 0
run diloco_h4 4 "${two_dcs[@]}" --steps 16 --dp-sync diloco --diloco-h 4
run diloco_h4_int8 4 "${two_dcs[@]}" --steps 16 --dp-sync diloco --diloco-h 4 --outer-compress int8
run diloco_resume_a 4 "${two_dcs[@]}" --steps 16 --dp-sync diloco --diloco-h 4 --checkpoint-dir "$work/ckpt" --checkpoint-every 4
rm -rf "$work"/ckpt/step_000000{08,12,16} "$work/ckpt/latest"   # keep the step-4 checkpoint only
run diloco_resume_b 4 "${two_dcs[@]}" --steps 16 --dp-sync diloco --diloco-h 4 --checkpoint-dir "$work/ckpt" --resume
python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
def rows(name):
    return {r["step"]: r for r in map(json.loads, open(f"{w}/{name}.jsonl")) if "loss" in r}
def rel(a, b): return abs(a - b) / abs(b)
ok = True
def check(cond, msg):
    global ok
    print(("ok   " if cond else "FAIL ") + msg)
    ok &= bool(cond)
single, sync, hier = rows("single"), rows("sync"), rows("hier")
check(max(rel(sync[s]["loss"], single[s]["loss"]) for s in single) <= 1e-5, "sync over 2 DCs matches one process")
check(max(rel(hier[s]["loss"], sync[s]["loss"]) for s in sync) <= 1e-5, "hierarchical matches sync")
straddle = rows("straddle")
check(max(rel(straddle[s]["loss"], single[s]["loss"]) for s in single) <= 1e-5,
      "DP2 x PP2 with replicas straddling both DCs matches one process")
wan = lambda r: sum(x["bytes_inter_dc"] for x in r.values()) / len(r)
check(wan(hier) < wan(sync), f"hierarchical WAN bytes/step {wan(hier):.0f} < sync {wan(sync):.0f}")
d1 = rows("diloco_h1_one_dc")
check(max(rel(d1[s]["loss"], single[s]["loss"]) for s in single) <= 1e-5, "diloco H=1, lr 1, no momentum, one DC equals sync")
d4, d4q = rows("diloco_h4"), rows("diloco_h4_int8")
check(d4[16]["loss"] < 0.8 * d4[1]["loss"], f"diloco H=4 trains: {d4[1]['loss']:.3f} -> {d4[16]['loss']:.3f}")
check(d4q[16]["loss"] < 0.8 * d4q[1]["loss"], f"diloco H=4 int8 trains: {d4q[1]['loss']:.3f} -> {d4q[16]['loss']:.3f}")
ratio = wan(sync) / wan(d4)
check(ratio >= 4, f"diloco H=4 sends {ratio:.1f}x fewer WAN bytes per step than sync")
qratio = wan(d4) / wan(d4q)
check(qratio >= 3.5, f"int8 sends {qratio:.2f}x fewer WAN bytes than uncompressed diloco")
a, b = rows("diloco_resume_a"), rows("diloco_resume_b")
check(sorted(b) == list(range(5, 17)), f"resume continued from step 5 (steps {min(b)}-{max(b)})")
check(all(b[s]["loss"] == a[s]["loss"] for s in range(5, 17)), "diloco resume is bit-exact")
sys.exit(0 if ok else 1)
PY
