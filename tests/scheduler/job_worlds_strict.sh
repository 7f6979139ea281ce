#!/usr/bin/env bash
# A scheduled job of one world per data center with strict rounds, asked
# for in its job file (extra_args: --wan-strict): both worlds (each its own
# mpirun under meridian-worlds) take every round with both parts, so they
# hold the same outer weights at every step, and the job SUCCEEDS.
set -uo pipefail
bin=$1; work=$2
source "$(dirname "$0")/../common/daemon_lib.sh"
rm -rf "$work" && mkdir -p "$work"
"$bin/meridian-data" synth --out "$work/data" --train-bytes 200000 --val-bytes 10000 >/dev/null || exit 1
trap 'daemon_stop_all' EXIT
fail() { echo "FAIL: $*"; "$bin/meridianctl" get job-000001; tail -40 "$work/state/jobs/job-000001/output.log"; tail -20 "$work/daemon.log"; exit 1; }
daemon_start "$work/daemon.log" --listen 127.0.0.1:0 --state "$work/state" --slots-per-dc 1 ||
  fail "the daemon did not come up"
export MERIDIAN_SCHEDULER=127.0.0.1:$DAEMON_PORT
steps=60
cat >"$work/job.yaml" <<YAML
name: strict-worlds
model: {preset: d4, n_layer: 2, n_embd: 96, n_head: 2, vocab_size: 256, max_seq_len: 64}
training: {batch: 8, seq: 64, steps: $steps, lr: 2.0e-3, data: "$work/data/train_*.bin", threads: 1,
           extra_args: ["--diloco-h", "5", "--wan-strict", "--wan-timeout", "60"]}
layout: {dp: 2, pp: 1, dp_sync: diloco}
dc_worlds: true
YAML
"$bin/meridianctl" submit "$work/job.yaml" >/dev/null || fail "submit"
state=$(wait_for_job_to_end job-000001)
[[ $state == SUCCEEDED ]] || fail "the job ended $state"
dir=$work/state/jobs/job-000001
python3 - "$dir/metrics.dc-east.jsonl" "$dir/metrics.dc-west.jsonl" "$steps" <<'PY' || fail "strict rounds"
import json, sys
east, west, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
def rows(path):
    return {r["step"]: r for r in (json.loads(l) for l in open(path)) if "loss" in r}
e, w = rows(east), rows(west)
ok = sorted(e) == sorted(w) == list(range(1, steps + 1))
print(("ok   " if ok else "FAIL ") + f"both worlds trained steps 1..{steps}")
# The first round is applied a step after it ends (step 5): from then on.
late = [s for s in e if s > 6]
both = ok and all(e[s]["round_worlds"] == 2 == w[s]["round_worlds"] for s in late)
print(("ok   " if both else "FAIL ") + "every round held both worlds")
same = ok and all(e[s]["outer_digest"] == w[s]["outer_digest"] for s in e)
print(("ok   " if same else "FAIL ") + "the worlds hold the same outer weights at every step")
sys.exit(0 if ok and both and same else 1)
PY
echo "ok: a strict job of two worlds, asked for in its job file, ran every round with both"
