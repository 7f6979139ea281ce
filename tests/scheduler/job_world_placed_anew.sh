#!/usr/bin/env bash
# A node of one world is lost (its agent and its rank killed with -9): the
# daemon declares the node dead after its timeout and places that world
# alone on a spare node of its data center; meridian-worlds stops the world
# where it ran and starts it where it now runs; the relaunched world rejoins
# from dc-east's outer weights and step while dc-east trains on; the job
# SUCCEEDS in its first attempt, with dc-west's rank on the spare node.
set -uo pipefail
bin=$1; work=$2
source "$(dirname "$0")/../common/daemon_lib.sh"
rm -rf "$work" && mkdir -p "$work"
"$bin/meridian-data" synth --out "$work/data" --train-bytes 200000 --val-bytes 10000 >/dev/null || exit 1
agents=()
cleanup() {
  for a in ${agents[@]+"${agents[@]}"}; do kill -9 "$a" 2>/dev/null; done
  daemon_stop_all
  kill_job_processes "$work/state"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; "$bin/meridianctl" get job-000001; tail -40 "$work/state/jobs/job-000001/output.log"; tail -20 "$work/daemon.log"; exit 1; }
# dc-east: one slot of this machine; dc-west: only what agents bring.
cat >"$work/cluster.yaml" <<'YAML'
default_inter_dc_gbps: 1
default_inter_dc_latency_ms: 20
data_centers:
  - name: dc-east
    fabric_gbps: 100
    nodes: [{name: east-0, host: localhost, gpus: 1, gpu_model: cpu, gpu_memory_gb: 4, gpu_tflops: 0.1}]
  - name: dc-west
    fabric_gbps: 100
agents:
  - {name: "west-*", data_center: dc-west, max_gpus: 1}
YAML
daemon_start "$work/daemon.log" --listen 127.0.0.1:0 --state "$work/state" --cluster "$work/cluster.yaml" \
  --node-timeout 2 --node-probation 60 || fail "the daemon did not come up"
export MERIDIAN_SCHEDULER=127.0.0.1:$DAEMON_PORT
agent() {  # agent NAME: a node of one slot in dc-west, on this machine
  "$bin/meridian-scheduler" agent --scheduler "$MERIDIAN_SCHEDULER" --name "$1" --data-center dc-west \
    --advertise 127.0.0.1 --slots 1 --interval 0.2 >>"$work/agent-$1.log" 2>&1 &
  agents+=($!)
  for _ in $(seq 100); do grep -q "registered" "$work/agent-$1.log" && return 0; sleep 0.1; done
  return 1
}
agent west-a || fail "west-a did not register"
west_a=${agents[0]}
cat >"$work/job.yaml" <<YAML
name: worlds
model: {preset: d4, n_layer: 2, n_embd: 96, n_head: 2, vocab_size: 256, max_seq_len: 64}
training: {batch: 8, seq: 64, steps: 2000, lr: 2.0e-3, data: "$work/data/train_*.bin", threads: 1,
           extra_args: ["--diloco-h", "10"]}
layout: {dp: 2, pp: 1, dp_sync: diloco}
dc_worlds: true
YAML
"$bin/meridianctl" submit "$work/job.yaml" >/dev/null || fail "submit"
placed=$(job_field job-000001 '" ".join(r["node"] for r in j["placement"]["ranks"])')
[[ $placed == *west-a* && $placed == *east-0* ]] || fail "placed on '$placed', not east-0 and west-a"
# The spare comes after the placement, so the job's first world is on west-a.
agent west-b || fail "west-b did not register"
east=$work/state/jobs/job-000001/metrics.dc-east.jsonl
west=$work/state/jobs/job-000001/metrics.dc-west.jsonl
wait_for_step "$west" 300 90 >/dev/null || fail "dc-west did not reach step 300"
victim=$(for p in $(job_ranks "$work/state" job-000001); do
  tr '\0' ' ' <"/proc/$p/cmdline" | grep -q -- "--wan-world 1 " && echo "$p"; done | head -1)
[[ -n $victim ]] || fail "no dc-west rank to kill"
# west-a is lost: its agent and its rank at once.
kill -9 "$west_a" "$victim"
killed_at=$(date +%s.%N)
echo "west-a lost (agent and rank killed) with dc-east at step $(grep -c '"loss"' "$east")"
state=$(wait_for_job_to_end job-000001)
"$bin/meridianctl" get job-000001
[[ $state == SUCCEEDED ]] || fail "the job ended $state"
[[ $(job_field job-000001 'j.get("restarts", 0)') == 0 ]] || fail "the whole job restarted; only dc-west should have"
[[ $(job_field job-000001 'j["launches"]') == 1 ]] || fail "the job was launched again as a whole"
placed=$(job_field job-000001 '" ".join(r["node"] for r in j["placement"]["ranks"])')
[[ $placed == *west-b* && $placed != *west-a* ]] || fail "dc-west's rank is not on west-b: '$placed'"
events=$("$bin/meridianctl" watch job-000001)
[[ $events == *"world dc-west placed again on dc-west (west-b)"* ]] || fail "no event says dc-west was placed again"
log=$work/state/jobs/job-000001/output.log
grep -q "world dc-west placed anew (generation 1)" "$log" || fail "meridian-worlds did not relaunch dc-west where it now runs"
grep -q "joined the live worlds at step" "$log" || fail "the relaunched dc-west did not rejoin from dc-east"
worlds_trained_through "$east" "$west" "$killed_at" 2000 || fail "dc-east paused or a world did not finish"
echo "ok: west-a was lost; dc-west was placed again on west-b and rejoined while dc-east trained on"
