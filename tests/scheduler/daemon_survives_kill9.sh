#!/usr/bin/env bash
# The daemon as a process: acknowledged requests survive kill -9. Nodes
# registered by an agent, queued and running jobs are all there after a
# restart, and the running job is adopted, not launched again.
set -uo pipefail
bin=$1; work=$2
source "$(dirname "$0")/../common/daemon_lib.sh"
rm -rf "$work" && mkdir -p "$work"
"$bin/meridian-data" synth --out "$work/data" --train-bytes 100000 --val-bytes 10000 >/dev/null || exit 1
agent=""
cleanup() {
  daemon_stop_all -KILL
  [[ -n $agent ]] && kill -9 "$agent" 2>/dev/null
  kill_job_processes "$work/state"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; cat "$work/daemon.log"; exit 1; }
# The first daemon picks a port; the restarted one takes the same, which
# the agent and the running job's ranks keep dialing.
listen=127.0.0.1:0
start_daemon() {
  daemon_start "$work/daemon.log" --listen "$listen" --state "$work/state" --slots-per-dc 2 ||
    fail "daemon did not come up"
  listen=127.0.0.1:$DAEMON_PORT
  export MERIDIAN_SCHEDULER=$listen
}
start_daemon
"$bin/meridian-scheduler" agent --scheduler "$MERIDIAN_SCHEDULER" --name agent-node --data-center dc-west --slots 1 \
  --interval 0.5 >"$work/agent.log" 2>&1 &
agent=$!
for _ in $(seq 50); do "$bin/meridianctl" nodes | grep -q agent-node && break; sleep 0.1; done
# A long job that holds 4 of the 5 slots, and one that must queue behind it.
cat >"$work/long.yaml" <<YAML
name: long
model: {preset: d4, n_layer: 2, n_embd: 32, n_head: 2, vocab_size: 256, max_seq_len: 16}
training: {batch: 1, seq: 16, steps: 1000000, data: "$work/data/train_*.bin", threads: 1}
layout: {dp: 2, pp: 2}
YAML
sed 's/name: long/name: queued/' "$work/long.yaml" >"$work/queued.yaml"
"$bin/meridianctl" submit "$work/long.yaml" >/dev/null || fail "submit long"
"$bin/meridianctl" submit "$work/queued.yaml" >/dev/null || fail "submit queued"
# Killed while the long job really trains: after its first metrics line.
for _ in $(seq 600); do [[ -s "$work/state/jobs/job-000001/metrics.jsonl" ]] && break; sleep 0.1; done
[[ -s "$work/state/jobs/job-000001/metrics.jsonl" ]] || fail "the long job never trained a step"
before=$("$bin/meridianctl" list)
echo "$before"
daemon_stop "$DAEMON_PID" -KILL
start_daemon
after=$("$bin/meridianctl" list)
echo "$after"
"$bin/meridianctl" nodes | grep -q "agent-node" || fail "the registered node was lost"
grep -q "job-000001.*long" <<<"$after" || fail "job-000001 was lost"
grep -q "job-000002.*QUEUED.*queued" <<<"$after" || fail "the queued job was lost"
"$bin/meridianctl" --json get job-000001 | grep -q '"launches":1' || fail "the running job was launched again"
"$bin/meridianctl" get job-000001 | grep -q RUNNING || fail "the running job is not RUNNING"
"$bin/meridianctl" cancel job-000001 >/dev/null || fail "cancel"
echo "ok: state survived kill -9"
