#!/usr/bin/env bash
# Cross-data-center synchronisation modes, 2 data centers x 2 ranks:
#  - hierarchical gives the losses of sync (1e-5 relative) with fewer WAN bytes;
#  - replicas whose stages straddle both data centers train like one process;
#  - diloco with H=1, outer lr 1, no momentum equals sync when all ranks
#    share a data center;
#  - diloco with H>1 trains and cuts WAN bytes per step by about H, int8 by
#    ~4x more, int4 by ~7x, sparse (top-k, 2-bit) by ~100x;
#  - streaming diloco (fragments on staggered rounds, exchanges overlapping
#    inner steps) trains, sends int4 DiLoCo's bytes spread over more steps,
#    and with one fragment and no overlap is plain diloco bit for bit;
#  - a diloco run resumed from a checkpoint continues the same losses, with
#    sparse compression too (its error feedback is in the checkpoint) and
#    streaming with an exchange in flight at the checkpoint; streaming
#    resumed with one replica per data center continues the same losses
#    (1e-5 relative: the data center's gradients are summed in another order).
# ARCH (optional, default gpt2): llama runs the same on a Llama with
# grouped-query attention and an untied head.
set -euo pipefail
mpirun_line=$1; bin=$2; work=$3; arch=${4:-gpt2}
rm -rf "$work" && mkdir -p "$work"
"$bin/meridian-data" synth --out "$work/data" --train-bytes 300000 --val-bytes 20000 >/dev/null
case $arch in
  gpt2) model=(--model d4 --n-head 2) ;;
  llama) model=(--model llama-tiny --n-head 4 --n-kv-head 2 --ffn-hidden 96 --tie-embeddings false) ;;
  *) echo "unknown arch $arch"; exit 2 ;;
esac
common=("${model[@]}" --n-layer 2 --n-embd 64 --vocab 256 --max-seq 32 --seq 32 --lr 2e-3 --warmup 2
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
run diloco_h4_int4 4 "${two_dcs[@]}" --steps 16 --dp-sync diloco --diloco-h 4 --outer-compress int4
run diloco_h4_sparse 4 "${two_dcs[@]}" --steps 16 --dp-sync diloco --diloco-h 4 --outer-compress sparse
run diloco_resume_a 4 "${two_dcs[@]}" --steps 16 --dp-sync diloco --diloco-h 4 --checkpoint-dir "$work/ckpt" --checkpoint-every 4
rm -rf "$work"/ckpt/step_000000{08,12,16} "$work/ckpt/latest"   # keep the step-4 checkpoint only
run diloco_resume_b 4 "${two_dcs[@]}" --steps 16 --dp-sync diloco --diloco-h 4 --checkpoint-dir "$work/ckpt" --resume
sparse=(--dp-sync diloco --diloco-h 4 --outer-compress sparse)
run sparse_resume_a 4 "${two_dcs[@]}" --steps 16 "${sparse[@]}" --checkpoint-dir "$work/ckpt_sparse" --checkpoint-every 4
rm -rf "$work"/ckpt_sparse/step_000000{08,12,16} "$work/ckpt_sparse/latest"
run sparse_resume_b 4 "${two_dcs[@]}" --steps 16 "${sparse[@]}" --checkpoint-dir "$work/ckpt_sparse" --resume
# Streaming: 2 fragments of layers on staggered rounds, each exchange
# overlapping 2 inner steps; and one fragment overlapping 1 (one-step delay).
streaming=(--dp-sync diloco --diloco-h 4 --diloco-fragments 2 --diloco-overlap 2 --outer-compress int4)
run streaming_f2_o2_int4 4 "${two_dcs[@]}" --steps 16 "${streaming[@]}"
run overlap1 4 "${two_dcs[@]}" --steps 16 --dp-sync diloco --diloco-h 4 --diloco-overlap 1
run streaming_f1_o0 4 "${two_dcs[@]}" --steps 16 --dp-sync diloco --diloco-h 4 --diloco-fragments 1 --diloco-overlap 0
# A checkpoint taken while an exchange is in flight (fragment 1's, sent
# after step 4) resumes with it, sparse error feedback and all.
streaming_sparse=(--dp-sync diloco --diloco-h 4 --diloco-fragments 2 --diloco-overlap 2 --outer-compress sparse)
run streaming_resume_a 4 "${two_dcs[@]}" --steps 16 "${streaming_sparse[@]}" --checkpoint-dir "$work/ckpt_stream" --checkpoint-every 4
rm -rf "$work"/ckpt_stream/step_000000{08,12,16} "$work/ckpt_stream/latest"
cp -r "$work/ckpt_stream" "$work/ckpt_stream_dp2"
run streaming_resume_b 4 "${two_dcs[@]}" --steps 16 "${streaming_sparse[@]}" --checkpoint-dir "$work/ckpt_stream" --resume
# ... and in another layout: one replica per data center, each twice the batch.
run streaming_resume_dp2 2 --pools dcA:1,dcB:1 --dp 2 --batch 4 --steps 16 "${streaming_sparse[@]}" \
  --checkpoint-dir "$work/ckpt_stream_dp2" --resume
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
i4, sp = rows("diloco_h4_int4"), rows("diloco_h4_sparse")
check(i4[16]["loss"] < 0.8 * i4[1]["loss"], f"diloco H=4 int4 trains: {i4[1]['loss']:.3f} -> {i4[16]['loss']:.3f}")
# Sparse applies ~2% of each round's pseudo-gradient (the rest waits in the
# error feedback), so a round starts near where the last one did: what
# counts here is that round starts move down.
starts = [sp[s]["loss"] for s in (1, 5, 9, 13)]
check(all(b < a for a, b in zip(starts[1:], starts[2:])) and starts[3] < 0.99 * starts[0],
      "diloco H=4 sparse: round starts go down " + " -> ".join(f"{x:.3f}" for x in starts))
for name, least in (("int4", 6.5), ("sparse", 80)):
    r = rows(f"diloco_h4_{name}")
    check(wan(d4) / wan(r) >= least,
          f"{name} sends {wan(d4) / wan(r):.1f}x fewer WAN bytes than uncompressed diloco (>= {least})")
st, o1 = rows("streaming_f2_o2_int4"), rows("overlap1")
check(st[16]["loss"] < 0.8 * st[1]["loss"], f"streaming F=2 overlap 2 int4 trains: {st[1]['loss']:.3f} -> {st[16]['loss']:.3f}")
check(o1[16]["loss"] < 0.8 * o1[1]["loss"], f"diloco overlap 1 trains: {o1[1]['loss']:.3f} -> {o1[16]['loss']:.3f}")
# Each fragment crosses once a round: the bytes of int4 DiLoCo, spread out.
check(abs(wan(st) / wan(i4) - 1) < 0.05, f"streaming sends int4 DiLoCo's WAN bytes per step ({wan(st):.0f} vs {wan(i4):.0f})")
per_step = [st[s]["bytes_inter_dc"] for s in range(1, 17)]
check(sum(1 for b in per_step if b > 0) == 8, f"streaming crosses the WAN after 8 of 16 steps, not 4: {per_step}")
f1 = rows("streaming_f1_o0")
check(all(f1[s]["loss"] == d4[s]["loss"] for s in d4), "one fragment without overlap is plain diloco, bit for bit")
for kind in ("diloco", "sparse", "streaming"):
    a, b = rows(f"{kind}_resume_a"), rows(f"{kind}_resume_b")
    check(sorted(b) == list(range(5, 17)), f"{kind} resume continued from step 5 (steps {min(b)}-{max(b)})")
    check(all(b[s]["loss"] == a[s]["loss"] for s in range(5, 17)), f"{kind} resume is bit-exact")
dp2 = rows("streaming_resume_dp2")
check(sorted(dp2) == list(range(5, 17)), "streaming resumes at DP2 (one replica per data center) from step 5")
worst = max(rel(dp2[s]["loss"], a[s]["loss"]) for s in range(5, 17))
check(worst <= 1e-5, f"streaming resumed at DP2 continues DP4's losses (worst {worst:.1e} relative)")
sys.exit(0 if ok else 1)
PY
