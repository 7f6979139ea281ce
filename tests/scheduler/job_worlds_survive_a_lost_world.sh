#!/usr/bin/env bash
# A scheduled DiLoCo job that runs as one world per data center
# (dc_worlds: true) over the built-in cluster's two data centers: each
# world is its own mpirun under the job's meridian-worlds supervisor. The
# ranks of dc-west are killed (-9) mid-run: dc-east trains on without a
# pause, meridian-worlds relaunches dc-west alone (no restart of the job:
# still its first attempt), the relaunched world rejoins from dc-east's
# outer weights and step, and the job SUCCEEDS.
set -uo pipefail
bin=$1; work=$2
source "$(dirname "$0")/../common/daemon_lib.sh"
rm -rf "$work" && mkdir -p "$work"
"$bin/meridian-data" synth --out "$work/data" --train-bytes 200000 --val-bytes 10000 >/dev/null || exit 1
trap 'daemon_stop_all' EXIT
fail() { echo "FAIL: $*"; "$bin/meridianctl" get job-000001; tail -40 "$work/state/jobs/job-000001/output.log"; tail -20 "$work/daemon.log"; exit 1; }
# One slot per data center: the two replicas go one to each.
daemon_start "$work/daemon.log" --listen 127.0.0.1:0 --state "$work/state" --slots-per-dc 1 ||
  fail "the daemon did not come up"
export MERIDIAN_SCHEDULER=127.0.0.1:$DAEMON_PORT
cat >"$work/job.yaml" <<YAML
name: worlds
model: {preset: d4, n_layer: 2, n_embd: 96, n_head: 2, vocab_size: 256, max_seq_len: 64}
training: {batch: 8, seq: 64, steps: 1500, lr: 2.0e-3, data: "$work/data/train_*.bin", threads: 1,
           extra_args: ["--diloco-h", "10"]}
layout: {dp: 2, pp: 1, dp_sync: diloco}
dc_worlds: true
YAML
"$bin/meridianctl" submit "$work/job.yaml" >/dev/null || fail "submit"
east=$work/state/jobs/job-000001/metrics.dc-east.jsonl
west=$work/state/jobs/job-000001/metrics.dc-west.jsonl
wait_for_step "$west" 300 90 >/dev/null || fail "dc-west did not reach step 300"
# dc-west's rank: this job's (its attempt's session) with --wan-world 1.
victim=$(for p in $(job_ranks "$work/state" job-000001); do
  tr '\0' ' ' <"/proc/$p/cmdline" | grep -q -- "--wan-world 1 " && echo "$p"; done | head -1)
[[ -n $victim ]] || fail "no dc-west rank to kill"
east_before=$(grep -c '"loss"' "$east")
kill -9 "$victim"
killed_at=$(date +%s.%N)
echo "killed dc-west's rank (pid $victim) with dc-east at step $east_before"
state=$(wait_for_job_to_end job-000001)
"$bin/meridianctl" get job-000001
[[ $state == SUCCEEDED ]] || fail "the job ended $state"
[[ $(job_field job-000001 'j.get("restarts", 0)') == 0 ]] || fail "the whole job restarted; only dc-west should have"
# The operator sees each world's own progress (the dashboard's Worlds table).
worlds=$(job_field job-000001 '" ".join(w["world"] + ":" + str(w["step"]) for w in j.get("worlds", []))')
[[ $worlds == *"dc-east:1500"* && $worlds == *"dc-west:1500"* ]] || fail "each world's progress: got '$worlds'"
log=$work/state/jobs/job-000001/output.log
grep -q "world dc-west ended with" "$log" || fail "meridian-worlds did not see dc-west end"
grep -q "joined the live worlds at step" "$log" || fail "the relaunched dc-west did not rejoin from dc-east"
worlds_trained_through "$east" "$west" "$killed_at" 1500 || fail "dc-east paused or a world did not finish"
echo "ok: dc-west was lost and rejoined while dc-east trained on; the job succeeded in its first attempt"
