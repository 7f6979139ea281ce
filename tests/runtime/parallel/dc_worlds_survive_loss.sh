#!/usr/bin/env bash
# Each data center its own world: two worlds of one job (separate
# processes, as separate mpiruns would be) exchange DiLoCo rounds over the
# gRPC outer exchange. World 1 is killed (SIGKILL) mid-run and relaunched
# with --resume --wan-join (from its own newest checkpoint, then the live
# world's outer weights and step). World 0 trains on throughout: no pause in its steps
# longer than the time world 1 was away, and rounds that close with world 0
# alone; the relaunched world takes world 0's step and outer weights and
# rejoins the rounds; both end no more than 5% above the eval loss of
# undisturbed runs of the two worlds (plus the spread between two such
# runs, at least 1.5%).
set -euo pipefail
bin=$1; work=$2
rm -rf "$work" && mkdir -p "$work"
"$bin/meridian-data" synth --out "$work/data" --train-bytes 400000 --val-bytes 20000 >/dev/null
export MERIDIAN_JOB_TOKEN=worlds-test-token
# Two free ports, one per world (stage 0 only).
read -r port0 port1 < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
steps=3000
common=(--model d4 --n-head 2 --n-layer 2 --n-embd 96 --vocab 256 --max-seq 64 --seq 64 --batch 8 --lr 2e-3
        --warmup 10 --grad-clip 1.0 --threads 1 --steps $steps --data "$work/data/train_*.bin"
        --val-data "$work/data/val_*.bin" --eval-every 0 --eval-batches 8 --log-every 1000
        --dp-sync diloco --diloco-h 10 --diloco-overlap 1 --diloco-elastic --wan-timeout 20
        --wan-peers "127.0.0.1:$port0,127.0.0.1:$port1")
world() {  # world NAME INDEX CHECKPOINTS EXTRA... (in the background: the process is the job)
  local name=$1 index=$2 ckpt=$3; shift 3
  exec "$bin/meridian-train" "${common[@]}" --wan-world "$index" --metrics-out "$work/$name.jsonl" \
    --checkpoint-dir "$work/$ckpt" --checkpoint-every 50 "$@" >"$work/$name.log" 2>&1
}
fail() { echo "FAIL: $*"; for f in "$work"/*.log; do echo "== $f"; tail -15 "$f"; done; exit 1; }

# Undisturbed, twice: which parts reach a round depends on timing, so two
# undisturbed runs differ too, and no check can be finer than that.
for calm in calm calm_again; do
  world ${calm}0 0 ckpt_${calm}0 & a=$!
  world ${calm}1 1 ckpt_${calm}1 & b=$!
  wait $a || fail "$calm world 0"; wait $b || fail "$calm world 1"
done

# World 1 killed once world 0 has passed step 400, relaunched half a second after.
world hit0 0 ckpt_hit0 & a=$!
world hit1 1 ckpt_hit1 & b=$!
for _ in $(seq 1200); do
  [[ -s $work/hit0.jsonl ]] && (( $(grep -c '"loss"' "$work/hit0.jsonl") >= 400 )) && break
  sleep 0.05
done
kill -9 $b; wait $b 2>/dev/null || true
killed_at=$(date +%s.%N)
sleep 0.5
world hit1_again 1 ckpt_hit1 --resume --wan-join & c=$!
wait $a || fail "world 0 stopped while world 1 was away"
wait $c || fail "relaunched world 1"

python3 - "$work" "$steps" "$killed_at" <<'PY'
import json, sys
work, steps, killed_at = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
def rows(name):
    return [json.loads(l) for l in open(f"{work}/{name}.jsonl")]
def final_eval(name):
    return [r["eval_loss"] for r in rows(name) if "eval_loss" in r][-1]
steps0 = [r for r in rows("hit0") if "loss" in r]
times = [r["time"] for r in steps0]
gaps = [b - a for a, b in zip(times, times[1:])]
longest = max(gaps)
typical = sorted(gaps)[len(gaps) // 2]
rejoined = [r for r in rows("hit1_again") if "loss" in r]
log = open(f"{work}/hit1_again.log").read()
joined = "joined the live worlds at step" in log
calm_runs = [(final_eval(f"{c}0") + final_eval(f"{c}1")) / 2 for c in ("calm", "calm_again")]
calm = sum(calm_runs) / 2
# Two undisturbed runs differed by 1.4%, 1.8% and 2.9% of their loss here:
# one pair's difference can understate that spread by chance, so it counts
# as at least 1.5%.
noise = max(abs(calm_runs[0] - calm_runs[1]), 0.015 * calm)
hit = (final_eval("hit0") + final_eval("hit1_again")) / 2
after_kill = [r for r in steps0 if r["time"] > killed_at]
away = rejoined[0]["time"] - killed_at if rejoined else 0.0
checks = {
    "world 0 trained every step": len(steps0) == steps,
    # World 0 never waited for world 1 while it was away.
    f"world 0's longest pause {longest * 1e3:.0f} ms (typical step {typical * 1e3:.0f} ms) < the {away:.2f} s "
    f"world 1 was away": longest < away,
    "world 0 trained while world 1 was away": len(after_kill) > 0 and after_kill[0]["step"] < rejoined[0]["step"],
    f"world 1 rejoined at step {rejoined[0]['step'] - 1 if rejoined else '?'} from world 0's state": joined and rejoined and rejoined[-1]["step"] == steps,
    # The loss must not suffer from the lost world; ending lower is no harm.
    # Disturbed runs scatter more widely than undisturbed pairs: CI runs
    # ended 5.4% below and 5.1% above the undisturbed mean (with a 3%
    # spread between those two), so 2% failed by chance. 5% still catches
    # real harm: these runs' training loss is 15% higher at step 1500 than
    # at the end, so a lost world that cost half the run shows.
    f"eval loss {hit:.4f} at most 5% above undisturbed {calm:.4f} (runs {calm_runs[0]:.4f}, {calm_runs[1]:.4f}: "
    f"their spread {noise:.4f} added)": hit - calm <= 0.05 * calm + noise,
}
for what, ok in checks.items():
    print(("ok   " if ok else "FAIL ") + what)
sys.exit(0 if all(checks.values()) else 1)
PY
