#!/usr/bin/env bash
# A node lost mid-job: the agent of one of the four hosts of a running
# DP2 x PP2 job over SSH is killed (-9). The daemon declares the node dead
# after --node-timeout, stops the job and marks it RESTARTING; when the
# agent is back (and its probation over) the job is placed again, resumes
# from its checkpoint and ends with the final loss of the undisturbed run.
# Skips (77) where namespaces cannot be made.
set -uo pipefail
src=$1; bin=$2; work=$3
source "$src/tests/testbed/multihost_job_lib.sh"
cluster_up
job_file lost-node 300 "dc-a, dc-b" >"$work/job.yaml"
ctl submit "$work/job.yaml" >/dev/null || fail "submit"
metrics=$MH_DIR/jobs/jobs/job-000001/metrics.jsonl
step=0
for _ in $(seq 3000); do
  step=$(tail -n 1 "$metrics" 2>/dev/null | grep -o '"step":[0-9]*' | cut -d: -f2)
  [[ ${step:-0} -ge 80 ]] && break  # past the first checkpoint (every 60 steps)
  sleep 0.05
done
victim=$(placed_hosts job-000001 | awk '$1 == 2 { print $2 }')
echo "killing the agent of $victim (rank 2's host) after step $step"
mh_kill "agent-$victim" -KILL
state=$(wait_state job-000001 RESTARTING FAILED SUCCEEDED)
[[ $state == RESTARTING ]] || fail "job-000001 is $state after its node was lost"
ctl get job-000001
mh_bg "$victim" "agent-$victim" "$bin/meridian-scheduler" agent --scheduler "$MH_SCHEDULER" \
  --data-center "${MH_DC[$victim]}" --slots "${MH_SLOTS[$victim]}" --interval 0.5
state=$(wait_state job-000001 SUCCEEDED FAILED CANCELLED)
ctl get job-000001
[[ $state == SUCCEEDED ]] || fail "job-000001 ended $state"
ctl --json watch job-000001 | grep '"RESTARTING"' | grep -q "node $victim stopped heartbeating" ||
  fail "no RESTARTING event naming $victim"
grep -q "node $victim is back after it failed" "$MH_DIR/daemon.log" || fail "no probation for $victim"
# The same job undisturbed, in the same bed.
job_file lost-node 300 "dc-a, dc-b" >"$work/calm.yaml"
ctl submit "$work/calm.yaml" >/dev/null || fail "submit the undisturbed run"
state=$(wait_state job-000002 SUCCEEDED FAILED CANCELLED)
[[ $state == SUCCEEDED ]] || fail "job-000002 ended $state"
final() { losses "$MH_DIR/jobs/jobs/$1/metrics.jsonl" | awk '$1 == 300 { l = $2 } END { print l }'; }
a=$(final job-000001); b=$(final job-000002)
[[ -n $a && $a == "$b" ]] || fail "final loss $a after the lost node, $b undisturbed"
echo "ok: the job lost $victim, restarted when it came back, and ended with the undisturbed final loss $a"
