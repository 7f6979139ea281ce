#!/usr/bin/env bash
# What the multi-host tests share: the test bed (multihost_testbed.sh), the
# daemon in the hub, meridianctl against it, the test job, waiting for
# states, and the same job run on one machine for comparison.
# Set src, bin and work before sourcing.
source "$src/tests/testbed/multihost_testbed.sh"
source "$src/tests/common/daemon_lib.sh"

MH_PORT=7070
MH_SCHEDULER=10.78.1.1:$MH_PORT   # the hub's address in dc-a, what --advertise picks

fail() {
  echo "FAIL: $*"
  for f in "$MH_DIR"/daemon.log "$MH_DIR"/jobs/jobs/*/output.log; do
    [[ -f $f ]] && { echo "--- $f"; tail -25 "$f"; }
  done
  exit 1
}

# Makes the bed (exit 77 where it cannot) and tears it down on exit.
bed_up() {
  rm -rf "$work" && mkdir -p "$work"
  "$bin/meridian-data" synth --out "$work/data" --train-bytes 100000 --val-bytes 10000 >/dev/null || exit 1
  mh_up "$work/bed"
  local rc=$?
  trap 'daemon_stop_all; mh_down' EXIT
  [[ $rc -eq 77 ]] && exit 77
  [[ $rc -eq 0 ]] || fail "the test bed did not come up ($rc)"
}

# meridianctl as the operator: over TLS, with the admin token.
ctl() {
  ip netns exec "$MH_TAG-hub" "$bin/meridianctl" --scheduler "$MH_SCHEDULER" \
    --tls-ca "$MH_DIR/daemon.crt" --token-file "$MH_DIR/tokens/admin" "$@"
}

# start_daemon [STATE]: the daemon in the hub, as a deployment runs one
# beyond loopback: TLS with the bed's certificate and tokens from its token
# file (mh_make_credentials). Its ranks get their job token and the CA
# from it (MERIDIAN_JOB_TOKEN, MERIDIAN_TLS_CA: the path is the same on
# every host). A fixed port: the hub is a network namespace of its own.
start_daemon() {
  MH_STATE=${1:-$work/state}  # its job-token key, for check_no_token_logged
  local from  # the log is appended to: a restarted daemon's lines start here
  from=$(stat -c %s "$MH_DIR/daemon.log" 2>/dev/null || echo 0)
  mh_bg hub daemon "$bin/meridian-scheduler" --listen "0.0.0.0:$MH_PORT" --cluster "$MH_DIR/cluster.yaml" \
    --tls-cert "$MH_DIR/daemon.crt" --tls-key "$MH_DIR/daemon.key" --token-file "$MH_DIR/tokens.yaml" \
    --state "$MH_STATE" --node-timeout 5 --node-probation 3
  daemon_wait_listening "$(mh_pid daemon)" "$MH_DIR/daemon.log" "$from" || fail "the daemon did not come up"
}

# The bed, the daemon in its hub, and every host registered by its agent.
cluster_up() {
  bed_up
  start_daemon
  mh_start_agents "$bin" "$MH_SCHEDULER"
  wait_nodes 6
}

# alive_nodes: the names of the nodes that are alive, one per line.
alive_nodes() {
  ctl --json nodes 2>/dev/null | python3 -c '
import json, sys
for p in json.load(sys.stdin).get("pools", []):
    for n in p.get("nodes", []):
        if n.get("alive"): print(n["name"])'
}

# wait_nodes N: until N nodes are alive (registered by their agents).
wait_nodes() {
  local alive=0
  for _ in $(seq 150); do
    alive=$(alive_nodes | wc -l)
    [[ $alive -ge $1 ]] && return 0
    sleep 0.2
  done
  ctl nodes
  fail "only ${alive:-0} of $1 nodes registered"
}

# job_file NAME STEPS [DATA_CENTERS]: the test job, DP2 x PP2.
job_file() {
  cat <<YAML
name: $1
model: {preset: d4, n_layer: 2, n_embd: 64, n_head: 2, vocab_size: 256, max_seq_len: 32}
training: {batch: 2, seq: 32, microbatches: 2, steps: $2, lr: 2.0e-3, data: "$work/data/train_*.bin",
           val_data: "$work/data/val_*.bin", eval_every: 6, threads: 1}
layout: {dp: 2, pp: 2, dp_sync: sync}
YAML
  [[ -n ${3:-} ]] && echo "data_centers: [$3]"
  true
}

# wait_state JOB STATE... : until the job is in one of the states; prints it.
# A job that has ended is checked for refused ranks and logged tokens here,
# so every test checks every job it sees end (on stderr: callers read the
# state from stdout, some drop it).
wait_state() {
  local job=$1 state=""; shift
  for _ in $(seq 600); do
    state=$(ctl --json get "$job" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])' 2>/dev/null)
    for s in "$@"; do
      [[ $state == "$s" ]] || continue
      [[ $state =~ ^(SUCCEEDED|FAILED|CANCELLED)$ ]] && check_job_credentials "$job" >&2
      echo "$state"
      return 0
    done
    sleep 0.2
  done
  fail "$job is $state, never reached $*"
}

# bed_tokens [JOB]: every token of the bed, one per line: the token file's,
# and JOB's job tokens of its first attempts (their secret part: the HMAC
# of "JOB.ATTEMPT" under the daemon's key, as the daemon derives it).
bed_tokens() {
  cat "$MH_DIR"/tokens/*
  [[ -n ${1:-} ]] && python3 -c '
import hashlib, hmac, sys
key = open(sys.argv[1], "rb").read()
for attempt in range(1, 11):
    print(hmac.new(key, ("%s.%d" % (sys.argv[2], attempt)).encode(), hashlib.sha256).hexdigest())' \
    "$MH_STATE/job-token.key" "$1"
  true
}

# check_no_token_logged [JOB]: no token is in any log of the bed (the
# daemon's, the agents', sshd's, Slurm's) or of JOB. Prints only file names.
check_no_token_logged() {
  [[ -z ${1:-} || -f $MH_STATE/job-token.key ]] || fail "no job-token key in $MH_STATE"
  local leaked  # the tokens go to grep through a pipe, never into a file of their own
  leaked=$(grep -l -F -f <(bed_tokens "${1:-}") "$MH_DIR"/*.log ${1:+"$MH_DIR/jobs/jobs/$1"/*.log} 2>/dev/null)
  [[ -z $leaked ]] || fail "a token is logged in: $leaked"
}

# check_job_credentials JOB: the ended JOB's ranks, on whichever hosts, got
# in with their job token over TLS (none refused), and no token is logged.
check_job_credentials() {
  local log=$MH_DIR/jobs/jobs/$1/output.log
  [[ -f $log ]] || fail "$1 has no output.log"
  grep -q -e "missing or invalid credentials" -e "UNAUTHENTICATED" "$log" && fail "a rank of $1 was refused"
  check_no_token_logged "$1"
}

# losses FILE: the training losses of a metrics file, one per line.
losses() { python3 -c '
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if "loss" in r and "step" in r: print(r["step"], repr(r["loss"]))' "$1"; }

# The same job on one machine: a daemon with the built-in cluster, local
# launcher. Writes its metrics to $work/one-host/metrics.jsonl.
run_on_one_host() {
  local dir=$work/one-host scheduler
  mkdir -p "$dir"
  daemon_start "$dir/daemon.log" --listen 127.0.0.1:0 --state "$dir/state" --slots-per-dc 2 ||
    fail "the one-host daemon did not come up"
  scheduler=127.0.0.1:$DAEMON_PORT
  job_file one-host 12 >"$dir/job.yaml"
  "$bin/meridianctl" --scheduler "$scheduler" submit --watch "$dir/job.yaml" >"$dir/watch.log" 2>&1
  local rc=$?
  local first
  first=$("$bin/meridianctl" --scheduler "$scheduler" --json watch job-000001 | first_step_from_events)
  daemon_stop "$DAEMON_PID"
  [[ $rc -eq 0 ]] || { cat "$dir/watch.log" "$dir/daemon.log"; fail "the one-host run failed"; }
  cp "$dir/state/jobs/job-000001/metrics.jsonl" "$dir/metrics.jsonl"
  echo "one host, local launcher: submit to first step: $first s"
}

# same_losses A B: the two metrics files have equal losses at every step.
same_losses() {
  diff <(losses "$1") <(losses "$2") >"$work/losses.diff" || { cat "$work/losses.diff"; fail "losses differ: $1 vs $2"; }
  [[ $(losses "$1" | wc -l) -ge 12 ]] || fail "$1 has $(losses "$1" | wc -l) losses, expected 12"
}

# ranks_where JOB: "RANK HOST" for each running meridian-train of the job,
# HOST being the host namespace of this bed the process is in (seen from
# outside).
ranks_where() {
  local host pid rank
  for host in hub "${MH_HOSTS[@]}"; do
    for pid in $(mh_pgrep "$host" "--job $1 "); do
      # The rank itself, not mpirun or orted, whose command lines name it too.
      [[ $(cat "/proc/$pid/comm" 2>/dev/null) == meridian-train ]] || continue
      rank=$(tr '\0' '\n' 2>/dev/null <"/proc/$pid/environ" | sed -n 's/^\(OMPI_COMM_WORLD_RANK\|PMIX_RANK\)=//p' | head -1)
      echo "${rank:-?} $host"
    done
  done | sort -u
}

# placed_hosts JOB: "RANK NODE" from the job's placement.
placed_hosts() {
  ctl --json get "$1" | python3 -c '
import json, sys
for i, r in enumerate(json.load(sys.stdin)["placement"]["ranks"]):
    print(r.get("rank", i), r["node"])'
}

# check_ranks_on_placed_hosts JOB: samples the ranks while the job runs
# and compares each one's namespace with its placement. What each pass
# sees is kept: a short job's ranks may live for only a pass or two on a
# busy machine, and one that is exiting may no longer show its rank.
check_ranks_on_placed_hosts() {
  local seen=""
  for _ in $(seq 300); do
    seen=$( (echo "$seen"; ranks_where "$1" | grep -v '^?') | grep . | sort -u)
    [[ $(cut -d' ' -f1 <<<"$seen" | sort -u | grep -c .) -ge 4 ]] && break
    sleep 0.1
  done
  echo "ranks seen in:"; echo "$seen"
  echo "placement:"; placed_hosts "$1" | tee "$work/placed"
  [[ $seen == "$(sort "$work/placed")" ]] || fail "ranks do not run where the placement says"
}

# first_step_from_events: reads a job's events (meridianctl --json watch)
# and prints the seconds from its submission to its first progress report,
# by the daemon's clock.
first_step_from_events() {
  python3 -c '
import json, sys
events = [json.loads(l) for l in sys.stdin if l.startswith("{")]
steps = [e["unix_s"] for e in events if int(e.get("progress", {}).get("step", 0)) >= 1]
print("%.2f" % (steps[0] - events[0]["unix_s"]) if steps else "?")'
}
seconds_to_first_step() { ctl --json watch "$1" | first_step_from_events; }
