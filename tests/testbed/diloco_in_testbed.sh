#!/usr/bin/env bash
# A real run across the slow-link test bed: 2 data centers (network
# namespaces) x 2 ranks joined by a 100 Mbit/s shaped link, DP 4 with
# diloco. It must finish, learn, and send its WAN bytes across the link.
# Skips (77) where namespaces cannot be made.
set -uo pipefail
src=$1; bin=$2; work=$3
rm -rf "$work" && mkdir -p "$work"
"$bin/meridian-data" synth --out "$work/data" --train-bytes 100000 --val-bytes 10000 >/dev/null || exit 1
timeout 300 bash "$src/tests/testbed/slow_link_testbed.sh" --dcs 2 --ranks-per-dc 2 --rate 100mbit -- \
  "$bin/meridian-train" --n-layer 2 --n-head 2 --n-embd 64 --vocab 256 --max-seq 32 --seq 32 --batch 2 \
  --steps 12 --lr 2e-3 --threads 1 --dp 4 --dp-sync diloco --diloco-h 4 --outer-compress int8 \
  --data "$work/data/train_*.bin" --metrics-out "$work/metrics.jsonl" --comm-timeout 120 >"$work/run.log" 2>&1
rc=$?
[[ $rc -eq 77 ]] && { cat "$work/run.log"; exit 77; }
grep -q "^SKIP" "$work/run.log" && { cat "$work/run.log"; exit 77; }
[[ $rc -eq 0 ]] || { echo "FAIL: exit $rc"; tail -30 "$work/run.log"; exit 1; }
python3 - "$work/metrics.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"loss"' in l]
assert len(rows) == 12, len(rows)
assert rows[-1]["loss"] < rows[0]["loss"], (rows[0]["loss"], rows[-1]["loss"])
wan = sum(r["bytes_inter_dc"] for r in rows)
assert wan > 0, "no WAN traffic recorded"
print(f"ok: loss {rows[0]['loss']:.3f} -> {rows[-1]['loss']:.3f}, WAN {wan/1e6:.2f} MB over 12 steps, "
      f"{sum(r['tokens_per_s'] for r in rows[2:]) / 10:.0f} tokens/s")
PY
