#!/usr/bin/env bash
# Real runs across the slow-link test bed: 2 data centers (network
# namespaces) x 2 ranks, DP 4 with diloco (H 4):
#  - int8 over the kernel's 100 Mbit/s shaped link;
#  - sparse over a 100 Mbit/s link with a 25 ms one-way delay
#    (meridian-wan-link);
#  - streaming int4 (2 fragments, exchanges overlapping 2 inner steps) over
#    the same delayed link: non-blocking exchanges across real sockets.
# Each must finish, learn, and send its WAN bytes across the link; the two
# modes' WAN bytes per round stand in the ratio of their payloads' sizes.
# Skips (77) where namespaces cannot be made.
set -uo pipefail
src=$1; bin=$2; work=$3
rm -rf "$work" && mkdir -p "$work"
"$bin/meridian-data" synth --out "$work/data" --train-bytes 100000 --val-bytes 10000 >/dev/null || exit 1
run() {  # run NAME LINK-OPTIONS... -- TRAIN-OPTIONS...
  local name=$1 link=()
  shift
  while [[ $1 != "--" ]]; do link+=("$1"); shift; done
  shift
  timeout 300 bash "$src/tests/testbed/slow_link_testbed.sh" --dcs 2 --ranks-per-dc 2 --wan-link "$bin/meridian-wan-link" \
    "${link[@]}" -- "$bin/meridian-train" --n-layer 2 --n-head 2 --n-embd 64 --vocab 256 --max-seq 32 --seq 32 \
    --batch 2 --steps 12 --lr 2e-3 --threads 1 --dp 4 --dp-sync diloco --diloco-h 4 \
    --data "$work/data/train_*.bin" --metrics-out "$work/$name.jsonl" --comm-timeout 120 "$@" >"$work/$name.log" 2>&1
  local rc=$?
  if [[ $rc -eq 77 ]] || grep -q "^SKIP" "$work/$name.log"; then cat "$work/$name.log"; exit 77; fi
  [[ $rc -eq 0 ]] || { echo "FAIL: $name exited $rc"; tail -30 "$work/$name.log"; exit 1; }
}
run int8 --rate 100mbit -- --outer-compress int8
run sparse_delayed --rate 100mbit --delay-ms 25 -- --outer-compress sparse
run streaming_delayed --rate 100mbit --delay-ms 25 -- --outer-compress int4 --diloco-fragments 2 --diloco-overlap 2
python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
ok = True
wan = {}
for name in ("int8", "sparse_delayed", "streaming_delayed"):
    rows = [json.loads(l) for l in open(f"{w}/{name}.jsonl") if '"loss"' in l]
    good = len(rows) == 12 and rows[-1]["loss"] < rows[0]["loss"]
    wan[name] = sum(r["bytes_inter_dc"] for r in rows)
    good &= wan[name] > 0
    print(("ok   " if good else "FAIL ") + f"{name}: loss {rows[0]['loss']:.3f} -> {rows[-1]['loss']:.3f}, "
          f"WAN {wan[name] / 1e6:.3f} MB over 12 steps, {sum(r['tokens_per_s'] for r in rows[2:]) / 10:.0f} tokens/s")
    ok &= good
# Payloads: int8 1 + 4/256 bytes a value, sparse (4 + 4 + 1) / 256.
ratio = wan["int8"] / wan["sparse_delayed"]
good = 25 <= ratio <= 33
print(("ok   " if good else "FAIL ") + f"int8 sends {ratio:.1f}x the WAN bytes of sparse (payloads: 28.9x)")
sys.exit(0 if ok and good else 1)
PY
