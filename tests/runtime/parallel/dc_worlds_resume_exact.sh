#!/usr/bin/env bash
# Each data center its own world, strict rounds (--wan-strict): two worlds
# (separate processes, as separate mpiruns would be) take every round with
# both parts, so the whole job is deterministic and resumes bit for bit:
#  - two full runs of both worlds give the same losses, step for step,
#    though world 1 stalls for four seconds in the second;
#  - the whole job stopped and resumed from both worlds' checkpoints of
#    step 16 (the later ones deleted, no live world to join) continues with
#    the full run's per-step losses and eval losses, exactly;
#  - in every round after the first both worlds' parts were applied, and
#    the worlds hold the same outer weights (digest) at every step;
#  - a world that joins the other mid-run agrees with it from the second
#    round after it joined on (strict rounds are numbered by step).
# The rounds' exchanges overlap two inner steps, so the checkpoint at a
# round's end holds a round whose average is applied two steps later.
# --wan-timeout bounds a rare wait at the end: a world that exits may cut
# off its last part's push, and its peer then waits that long for it
# (the part's average only goes into the final checkpoint, never a loss).
set -euo pipefail
bin=$1; work=$2
rm -rf "$work" && mkdir -p "$work"
"$bin/meridian-data" synth --out "$work/data" --train-bytes 200000 --val-bytes 20000 >/dev/null
export MERIDIAN_JOB_TOKEN=worlds-test-token
# Two free ports, one per world (stage 0 only).
read -r port0 port1 < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
steps=40
common=(--model d4 --n-head 2 --n-layer 2 --n-embd 96 --vocab 256 --max-seq 64 --seq 64 --batch 8 --lr 2e-3
        --warmup 10 --grad-clip 1.0 --threads 1 --steps $steps --data "$work/data/train_*.bin"
        --val-data "$work/data/val_*.bin" --eval-every 8 --eval-batches 4 --log-every 1000
        --dp-sync diloco --diloco-h 4 --diloco-overlap 2 --diloco-elastic --wan-strict --wan-timeout 30
        --wan-peers "127.0.0.1:$port0,127.0.0.1:$port1" --checkpoint-every 8)
world() {  # world NAME INDEX CHECKPOINTS EXTRA... (in the background: the process is the job)
  local name=$1 index=$2 ckpt=$3; shift 3
  exec "$bin/meridian-train" "${common[@]}" --wan-world "$index" --metrics-out "$work/$name.jsonl" \
    --checkpoint-dir "$work/$ckpt" "$@" >"$work/$name.log" 2>&1
}
fail() { echo "FAIL: $*"; for f in "$work"/*.log; do echo "== $f"; tail -15 "$f"; done; exit 1; }
job() {  # job NAME EXTRA...: both worlds, together, to the end ($stall: world 1 stops for 4 s on the way)
  local name=$1; shift
  world ${name}0 0 ckpt_${name}0 "$@" & local a=$!
  world ${name}1 1 ckpt_${name}1 "$@" & local b=$!
  [[ -z ${stall:-} ]] || (sleep 1; kill -STOP $b; sleep 4; kill -CONT $b) 2>/dev/null &
  wait $a || fail "$name world 0"; wait $b || fail "$name world 1"
}

job full
# The second run has world 1 stalled for four seconds (as a loaded machine
# may stall it): longer than a connection's keepalive allows, so pushes
# break and are tried again, and still every round holds both parts.
stall=1 job again
# The whole job stops after step 16: both worlds' later checkpoints go.
for w in 0 1; do
  cp -r "$work/ckpt_full$w" "$work/ckpt_resumed$w"
  rm -rf "$work"/ckpt_resumed$w/step_000000{24,32,40} "$work/ckpt_resumed$w/latest"
  [[ -d $work/ckpt_resumed$w/step_00000016 ]] || fail "world $w wrote no checkpoint of step 16: $(ls "$work/ckpt_full$w")"
done
job resumed --resume

# A world that joins a strict job already training numbers its rounds by
# the job's schedule as the live world does: world 1 starts alone (its wait
# for world 0 cut to 2 s), world 0 joins it seconds later (--wan-join).
join_steps=400
world joined1 1 ckpt_joined1 --steps $join_steps --wan-timeout 2 & a=$!
sleep 3
world joined0 0 ckpt_joined0 --steps $join_steps --wan-join & b=$!
wait $a || fail "joined world 1"; wait $b || fail "joined world 0"
grep -q "joined the live worlds at step" "$work/joined0.log" || fail "world 0 did not join world 1"

python3 - "$work" "$steps" "$join_steps" <<'PY'
import json, re, sys
work, steps, join_steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def rows(name):
    return [json.loads(l) for l in open(f"{work}/{name}.jsonl")]
def raw(name, key):  # step -> the value exactly as written
    out = {}
    for line in open(f"{work}/{name}.jsonl"):
        m = re.search(r'"%s":([^,}]+)' % key, line)
        if m: out[json.loads(line)["step"]] = m.group(1)
    return out
checks = {}
for w in (0, 1):
    full, again, resumed = (raw(f"{n}{w}", "loss") for n in ("full", "again", "resumed"))
    efull, eagain, eresumed = (raw(f"{n}{w}", "eval_loss") for n in ("full", "again", "resumed"))
    checks[f"world {w}: full runs trained {steps} steps"] = sorted(full) == sorted(again) == list(range(1, steps + 1))
    checks[f"world {w}: two full runs, the same losses and eval losses"] = full == again and efull == eagain
    log = open(f"{work}/resumed{w}.log").read()
    checks[f"world {w}: resumed at step 16"] = "at step 16" in log and sorted(resumed) == list(range(17, steps + 1))
    diff = [s for s in resumed if resumed[s] != full.get(s)]
    checks[f"world {w}: resumed losses after step 16 equal the full run's (differ at {diff[:5]})"] = not diff and resumed
    after = {s: v for s, v in efull.items() if s > 16}
    checks[f"world {w}: resumed eval losses {eresumed} equal the full run's {after}"] = eresumed == after and steps in after
for name in ("full", "again", "resumed"):
    r0 = {r["step"]: r for r in rows(f"{name}0") if "loss" in r}
    r1 = {r["step"]: r for r in rows(f"{name}1") if "loss" in r}
    # The first round (sent after step 4, or after step 20 when resumed) is
    # applied two steps later; before that, no round has closed yet.
    late = [s for s in r0 if s >= (22 if name == "resumed" else 6)]
    checks[f"{name}: every round held both worlds"] = all(r0[s]["round_worlds"] == 2 == r1[s]["round_worlds"] for s in late)
    checks[f"{name}: the worlds hold the same outer weights at every step"] = all(
        r0[s]["outer_digest"] == r1[s]["outer_digest"] for s in r0)
# Joined: from the second round after the join (the first holds parts that
# started from other weights, the next carries them) the worlds hold the
# same outer weights at every step and every round holds both.
j0 = {r["step"]: r for r in rows("joined0") if "loss" in r}
j1 = {r["step"]: r for r in rows("joined1") if "loss" in r}
joined_at = min(j0) - 1
settled = [s for s in sorted(j0) if s > (joined_at // 4 + 3) * 4 + 2 and s in j1 and s < join_steps]
checks[f"joined at step {joined_at}: {len(settled)} steps after two rounds"] = len(settled) > 100
checks["joined: the same outer weights at every step after two rounds"] = all(
    j0[s]["outer_digest"] == j1[s]["outer_digest"] for s in settled)
checks["joined: every round after two held both worlds"] = all(
    j0[s]["round_worlds"] == 2 == j1[s]["round_worlds"] for s in settled)
for what, ok in checks.items():
    print(("ok   " if ok else "FAIL ") + what)
sys.exit(0 if all(checks.values()) else 1)
PY
