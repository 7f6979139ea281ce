#!/usr/bin/env bash
# examples/clusters/constellation.yaml at a size this machine holds, in the
# slow-link test bed: two ground data centers joined by fiber (always up)
# and an orbital pool of two satellites (one world of two ranks, joined by
# their "laser links": the pool's own fabric), seen from each ground station
# only during passes. The orbit of 90 minutes is scaled to 6 s: each ground
# link is up 2 s of every 6, the two stations half an orbit apart (phases 0
# and 3 s). meridian-wan-link enforces each link's windows; each world is
# given the window of each of its links (--wan-peer-windows, as the daemon
# hands them from the placement's link_windows).
# Checks: every world trains to the end and never waits out a closed
# window (no pause of a second); the ground worlds merge in nearly every
# round (their link is always up); the orbit merges with a ground world in
# some rounds and finds each ground station out of its window at times.
# Skips (77) where namespaces cannot be made.
set -uo pipefail
src=$1; bin=$2; work=$3; inside=${4:-}
steps=1200 h=50
north=6:2:0 south=6:2:3  # the ground stations' windows to the orbit
if [[ -z $inside ]]; then
  rm -rf "$work" && mkdir -p "$work"
  "$bin/meridian-data" synth --out "$work/data" --train-bytes 400000 --val-bytes 20000 >/dev/null || exit 1
  timeout 400 bash "$src/tests/testbed/slow_link_testbed.sh" --dcs 3 --ranks-per-dc 1 \
    --wan-link "$bin/meridian-wan-link" --rate 100mbit --delay-ms 10 \
    --link-window "0:2:$north" --link-window "1:2:$south" \
    -- --run bash "$0" "$src" "$bin" "$work" inside >"$work/testbed.log" 2>&1
  rc=$?
  if [[ $rc -eq 77 ]] || grep -q "^SKIP" "$work/testbed.log"; then cat "$work/testbed.log"; exit 77; fi
  if [[ $rc -ne 0 ]]; then
    echo "FAIL: the test bed exited $rc"; tail -20 "$work/testbed.log"
    for f in "$work"/*.log; do echo "== $f"; grep -v "^step" "$f" | tail -8; done
    exit 1
  fi
  python3 - "$work" "$steps" <<'PY'
import json, sys
work, steps = sys.argv[1], int(sys.argv[2])
ok = True
def check(what, cond):
    global ok
    ok &= bool(cond)
    print(("ok   " if cond else "FAIL ") + what)
names = ["ground-north", "ground-south", "orbit"]
worlds = [[json.loads(l) for l in open(f"{work}/world{w}.jsonl") if '"loss"' in l] for w in range(3)]
for w, r in enumerate(worlds):
    gaps = [b["time"] - a["time"] for a, b in zip(r, r[1:])]
    check(f"{names[w]} trained all {steps} steps, longest pause {max(gaps) * 1e3:.0f} ms", len(r) == steps and max(gaps) < 1.0)
def rounds(r):  # round_worlds of each outer step, once per step
    seen = {}
    for x in r:
        if x["outer_steps"] > 0:
            seen.setdefault(x["outer_steps"], x["round_worlds"])
    return list(seen.values())
north, south, orbit = (rounds(r) for r in worlds)
both_ground = sum(1 for n in north if n >= 2)
check(f"the ground worlds merged in {both_ground} of {len(north)} rounds (their link is always up)",
      len(north) > 0 and both_ground >= 0.7 * len(north))
with_orbit = sum(1 for n in orbit if n >= 2)
check(f"the orbit merged with a ground world in {with_orbit} of {len(orbit)} rounds", with_orbit > 0)
log = open(f"{work}/world2.log").read()
for w in (0, 1):
    check(f"the orbit found {names[w]} out of its window at times",
          f"world {w} out of its contact window" in log)
sys.exit(0 if ok else 1)
PY
  exit $?
fi

# Inside the test bed: each world in its data center's namespace; the orbit
# is one world of two ranks (mpirun inside its namespace).
export MERIDIAN_JOB_TOKEN=testbed-constellation-token
unset MERIDIAN_POOLS
peers=10.213.0.2:7100,10.213.1.2:7100,10.213.2.2:7100
windows=(";;$north" ";;$south" "$north;$south;")
common=(--model d4 --n-head 2 --n-layer 2 --n-embd 96 --vocab 256 --max-seq 64 --seq 64 --batch 8 --lr 2e-3
        --warmup 10 --grad-clip 1.0 --threads 1 --steps $steps --data "$work/data/train_*.bin" --log-every 1000
        --dp-sync diloco --diloco-h $h --diloco-overlap 1 --diloco-elastic --wan-timeout 20 --wan-peers "$peers")
world() {  # world INDEX DP [mpirun ARGS...]
  local w=$1 dp=$2; shift 2
  exec ip netns exec "$TESTBED_NS-dc$w" "$@" "$bin/meridian-train" "${common[@]}" --dp "$dp" --wan-world "$w" \
    --wan-peer-windows "${windows[$w]}" --metrics-out "$work/world$w.jsonl" >"$work/world$w.log" 2>&1
}
world 0 1 & a=$!
world 1 1 & b=$!
world 2 2 mpirun --allow-run-as-root --oversubscribe -np 2 -x MERIDIAN_JOB_TOKEN & c=$!
wait $a; ra=$?
wait $b; rb=$?
wait $c; rc=$?
exit $((ra || rb || rc))
