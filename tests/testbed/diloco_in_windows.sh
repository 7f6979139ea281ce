#!/usr/bin/env bash
# DiLoCo across a link in contact windows: 2 data centers (network
# namespaces) x 2 ranks, the link between them up 2 s of every 6 s
# (meridian-wan-link --window, down two thirds of the time), exchanges
# overlapping 2 inner steps, --diloco-elastic. Given the windows
# (--wan-window), the run trains to the end, learns, and no step waits out a
# closed window (every step well under the 4 s one stays shut), while its
# exchanges start inside windows and come back in bursts, one burst a
# window, with training going on between them. (Without --diloco-elastic a step blocks on the
# closed link: its all-gather, retried by TCP with exponential backoff over
# a link that keeps closing, did not finish within 120 s here.)
# The watchdog waits 240 s: setting up the communicators opens TCP
# connections across the link, and a SYN dropped in closed windows is
# retried after 1, 2, 4, 8, 16 and 32 s; once (CI, 2026-12-08) the first
# split took longer than 120 s.
# Skips (77) where namespaces cannot be made.
set -uo pipefail
src=$1; bin=$2; work=$3
rm -rf "$work" && mkdir -p "$work"
"$bin/meridian-data" synth --out "$work/data" --train-bytes 100000 --val-bytes 10000 >/dev/null || exit 1
run() {  # run NAME STEPS TRAIN-OPTIONS...
  local name=$1 steps=$2
  shift 2
  timeout 420 bash "$src/tests/testbed/slow_link_testbed.sh" --dcs 2 --ranks-per-dc 2 --wan-link "$bin/meridian-wan-link" \
    --rate 100mbit --delay-ms 10 --window 6:2:0 -- "$bin/meridian-train" --n-layer 2 --n-head 2 --n-embd 64 --vocab 256 \
    --max-seq 32 --seq 32 --batch 2 --steps "$steps" --lr 2e-3 --threads 1 --dp 4 --dp-sync diloco --diloco-h 20 \
    --outer-compress int8 --diloco-overlap 2 --data "$work/data/train_*.bin" --metrics-out "$work/$name.jsonl" \
    --log-every 100 --comm-timeout 240 "$@" >"$work/$name.log" 2>&1
  local rc=$?
  if [[ $rc -eq 77 ]] || grep -q "^SKIP" "$work/$name.log"; then cat "$work/$name.log"; exit 77; fi
  [[ $rc -eq 0 ]] || { echo "FAIL: $name exited $rc"; tail -30 "$work/$name.log"; exit 1; }
}
steps=5000
run windows $steps --diloco-elastic --wan-window 6:2:0
python3 - "$work" $steps <<'PY'
import json, sys
w, steps = sys.argv[1], int(sys.argv[2])
rows = [json.loads(l) for l in open(f"{w}/windows.jsonl") if '"loss"' in l]
first = sum(r["loss"] for r in rows[:50]) / 50
last = sum(r["loss"] for r in rows[-50:]) / 50
slowest = max(r["ms_per_step"] for r in rows[5:])
# When (in training seconds) each outer step arrived; arrivals more than
# 2 s of training apart belong to different windows.
t, arrivals, seen = 0.0, [], 0
for r in rows:
    t += r["ms_per_step"] / 1e3
    if r["outer_steps"] > seen:
        arrivals.append(t)
        seen = r["outer_steps"]
bursts = 1 + sum(1 for a, b in zip(arrivals, arrivals[1:]) if b - a > 2.0) if arrivals else 0
ok = len(rows) == steps and last < first and slowest < 1500 and bursts >= 2
print(("ok   " if ok else "FAIL ") + f"{steps} steps over {t:.1f} s of a link up 2 s in 6: loss {first:.3f} -> "
      f"{last:.3f}, slowest step {slowest:.0f} ms (a closed window lasts 4000), {seen} outer steps in {bursts} "
      f"bursts, training on between them")
sys.exit(0 if ok else 1)
PY
