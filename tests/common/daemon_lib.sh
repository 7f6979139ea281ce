#!/usr/bin/env bash
# The scheduler daemon in a test script: start it, know when it listens and
# on which port, follow its jobs, and leave nothing running. Set `bin` (the
# directory of the built programs) before calling, then:
#
#   trap 'daemon_stop_all' EXIT
#   daemon_start "$work/daemon.log" --listen 127.0.0.1:0 --state "$work/state" || exit 1
#   export MERIDIAN_SCHEDULER=127.0.0.1:$DAEMON_PORT
#   state=$(wait_for_job_to_end job-000001)
#
# Ports: tests run side by side (ctest -j, other checkouts), so a port
# picked at random can be taken by the time the daemon binds it. Give
# --listen HOST:0 (and --http HOST:0), and the daemon's log says which
# port it bound. A daemon restarted under running ranks or agents is given
# the port its predecessor bound, since they keep dialing that address.
#
# Processes: a job's processes outlive its daemon (a restarted daemon
# adopts them), so a test finds and stops them itself. It finds them by the
# attempt's session, never by name across the machine, where another test's
# ranks run too. The launcher starts each attempt under a supervisor that
# calls setsid() and writes its pid, the session id, into
# STATE/launch/JOB/launch-N.lock, which it holds locked while the attempt
# runs (scheduler/launcher/job_processes.cc). mpirun gives each rank a
# process group of its own, but they all stay in that session.
#
# Functions that start a process set globals and must not run in $(...).

DAEMON_PID=""        # the daemon daemon_start started last
DAEMON_PORT=""       # its gRPC port, from its log (daemon_wait_listening)
DAEMON_HTTP_PORT=""  # its --http port, from its log; empty without --http
DAEMON_PIDS=()       # every daemon daemon_start started and has not stopped
DAEMON_START_S=${DAEMON_START_S:-60}  # how long a daemon may take to listen: a loaded 2-core machine is slow

# daemon_wait_listening PID LOG [OFFSET]: waits until LOG, from byte OFFSET
# on (a log appended to by a restarted daemon holds its predecessor's
# lines), says the daemon listens, and sets DAEMON_PORT and
# DAEMON_HTTP_PORT from it. The daemon says so once its state is recovered
# and both ports are bound (the --http line comes first). Returns 1, with
# the end of LOG on stderr, when PID exits first or DAEMON_START_S pass.
# Needs the daemon's info lines (not --log-level warn; see
# daemon_bound_port).
daemon_wait_listening() {
  local pid=$1 log=$2 from=${3:-0} deadline=$((SECONDS + DAEMON_START_S)) lines why
  DAEMON_PORT=""; DAEMON_HTTP_PORT=""
  while :; do
    lines=$(tail -c +$((from + 1)) "$log" 2>/dev/null)
    DAEMON_PORT=$(sed -n 's/.*listening on .* (port \([0-9]*\)), advertised.*/\1/p' <<<"$lines" | tail -1)
    if [[ -n $DAEMON_PORT ]]; then
      DAEMON_HTTP_PORT=$(sed -n 's|.*/healthz.* on https\{0,1\}://[^ ]* (port \([0-9]*\)).*|\1|p' <<<"$lines" | tail -1)
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { why="exited"; break; }
    ((SECONDS < deadline)) || { why="did not listen within $DAEMON_START_S s"; break; }
    sleep 0.1
  done
  echo "daemon_wait_listening: the daemon (pid $pid) $why; the end of $log:" >&2
  tail -20 <<<"$lines" >&2
  return 1
}

# daemon_bound_port PID: the TCP port the process PID listens on, from
# the kernel, for a daemon whose log level hides the line
# daemon_wait_listening reads; nothing while it listens on none. With
# --listen HOST:0 gRPC holds two listening sockets, both serving; this is
# the first one bound (the lower descriptor), the port the log would name.
daemon_bound_port() {
  # ss lines: State Recv-Q Send-Q Local:Port Peer:Port users:(("name",pid=P,fd=F))
  ss -Hltnp 2>/dev/null | awk -v pid="pid=$1," '
    index($0, pid) {
      n = split($4, address, ":")
      match($0, pid "fd=[0-9]+")
      fd = substr($0, RSTART + length(pid) + 3, RLENGTH - length(pid) - 3) + 0
      if (port == "" || fd < lowest) { lowest = fd; port = address[n] }
    }
    END { if (port != "") print port }'
}

# daemon_start LOG ARGS...: starts meridian-scheduler ARGS in the
# background, its stdout and stderr appended to LOG, and returns once it
# listens (daemon_wait_listening): DAEMON_PID, DAEMON_PORT and
# DAEMON_HTTP_PORT are set, and daemon_stop_all will stop it. Environment
# assignments before the call reach the daemon and its jobs
# (VAR=VALUE daemon_start ...). Returns 1, the daemon stopped, when it did
# not come up.
daemon_start() {
  local log=$1 from; shift
  from=$(stat -c %s "$log" 2>/dev/null || echo 0)
  "$bin/meridian-scheduler" "$@" >>"$log" 2>&1 &
  DAEMON_PID=$!
  DAEMON_PIDS+=("$DAEMON_PID")
  daemon_wait_listening "$DAEMON_PID" "$log" "$from" && return 0
  daemon_stop "$DAEMON_PID" -KILL
  return 1
}

# daemon_stop PID [SIGNAL]: signals the daemon (SIGTERM: it shuts down in
# order; -KILL as a crash) and waits for it to end. Its jobs' processes
# run on (kill_job_processes stops them).
daemon_stop() {
  local pid=$1 signal=${2:--TERM} kept=() p
  kill "$signal" "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  # Forgotten once stopped: its pid may be reused by then.
  for p in ${DAEMON_PIDS[@]+"${DAEMON_PIDS[@]}"}; do [[ $p == "$pid" ]] || kept+=("$p"); done
  DAEMON_PIDS=(${kept[@]+"${kept[@]}"})
  true
}

# daemon_stop_all [SIGNAL]: daemon_stop for every daemon still running
# that daemon_start started; for an EXIT trap.
daemon_stop_all() {
  local pid
  for pid in ${DAEMON_PIDS[@]+"${DAEMON_PIDS[@]}"}; do kill "${1:--TERM}" "$pid" 2>/dev/null; done
  for pid in ${DAEMON_PIDS[@]+"${DAEMON_PIDS[@]}"}; do wait "$pid" 2>/dev/null; done
  DAEMON_PIDS=()
  true
}

# job_field JOB EXPR: prints EXPR, Python over the job as `meridianctl
# --json get JOB` answers it (`j`), e.g. 'j["state"]' or
# 'j.get("restarts", 0)'. Asks the daemon at $MERIDIAN_SCHEDULER.
job_field() {
  "$bin/meridianctl" --json get "$1" | python3 -c "import json,sys; j=json.load(sys.stdin); print($2)"
}

# wait_for_job_to_end JOB [SECONDS]: polls until JOB is SUCCEEDED, FAILED
# or CANCELLED and prints that state; after SECONDS (default 300) prints
# the last state seen and returns 1.
wait_for_job_to_end() {
  local job=$1 deadline=$((SECONDS + ${2:-300})) state=""
  while ((SECONDS < deadline)); do
    state=$(job_field "$job" 'j["state"]' 2>/dev/null)
    [[ $state =~ ^(SUCCEEDED|FAILED|CANCELLED)$ ]] && { echo "$state"; return 0; }
    sleep 0.1
  done
  echo "${state:-unknown}"
  return 1
}

# wait_for_step METRICS STEP SECONDS: polls until the last line of METRICS
# (rank 0's metrics.jsonl, cheaper to poll than the daemon) is at step STEP
# or later, and prints that step; after SECONDS prints the last step seen
# (0 for none) and returns 1.
wait_for_step() {
  local metrics=$1 want=$2 deadline=$((SECONDS + $3)) step
  while :; do
    step=$(tail -n 1 "$metrics" 2>/dev/null | grep -o '"step":[0-9]*' | cut -d: -f2)
    ((${step:-0} >= want)) && { echo "$step"; return 0; }
    ((SECONDS < deadline)) || { echo "${step:-0}"; return 1; }
    sleep 0.01
  done
}

# attempt_session LOCK: the session of the attempt whose lock file is LOCK
# (STATE/launch/JOB/launch-N.lock), while that attempt runs. Returns 1 once
# it has ended: the number in the file is then a pid that may be reused.
attempt_session() {
  local sid
  sid=$(cat "$1" 2>/dev/null)
  [[ $sid =~ ^[0-9]+$ ]] && ((sid > 1)) || return 1
  # The supervisor holds the lock while it runs, so taking it fails then.
  # When it succeeds the attempt has ended, and holding the lock for that
  # instant could only mislead a daemon recovering at the same moment
  # (it adopts an attempt whose lock is held); tests call this while their
  # daemon runs or once it is stopped.
  flock -n -E 200 "$1" true
  [[ $? -eq 200 ]] || return 1
  echo "$sid"
}

# job_session STATE JOB: the session of JOB's newest attempt, under the
# daemon's --state STATE, while it runs; returns 1 otherwise.
job_session() {
  local lock="" file n newest=0
  for file in "$1/launch/$2"/launch-*.lock; do
    n=${file##*/launch-}; n=${n%.lock}
    [[ -f $file && $n =~ ^[0-9]+$ ]] && ((n > newest)) && { newest=$n; lock=$file; }
  done
  [[ -n $lock ]] && attempt_session "$lock"
}

# job_ranks STATE JOB [PGREP_OPTIONS...]: the pids of the meridian-train
# processes of JOB's running attempt, one a line; options narrow them
# further (e.g. -u nobody).
job_ranks() {
  local sid
  sid=$(job_session "$1" "$2") || return 1
  pgrep -s "$sid" -x meridian-train "${@:3}"
}

# job_rank_pid STATE JOB RANK: the pid of JOB's rank RANK (by the rank that
# mpirun put in its environment); returns 1 when it does not run.
job_rank_pid() {
  local pid
  for pid in $(job_ranks "$1" "$2"); do
    tr '\0' '\n' 2>/dev/null <"/proc/$pid/environ" | grep -qx -e "OMPI_COMM_WORLD_RANK=$3" -e "PMIX_RANK=$3" &&
      { echo "$pid"; return 0; }
  done
  return 1
}

# kill_job_processes STATE: SIGKILL to every process of every job attempt
# still running under the daemon's --state STATE (its supervisor, mpirun,
# its ranks); for an EXIT trap, after the daemon is stopped.
kill_job_processes() {
  local lock sid pids
  for lock in "$1"/launch/*/launch-*.lock; do
    sid=$(attempt_session "$lock") || continue
    pids=$(pgrep -s "$sid")
    [[ -n $pids ]] && kill -9 $pids 2>/dev/null
  done
  true
}

# worlds_trained_through EAST WEST KILLED_AT STEPS: a job of one world per
# data center lost dc-west at KILLED_AT (Unix seconds): dc-east (metrics
# file EAST) trained every step with no pause of 1.5 s or more and closed
# rounds alone after the loss, and both worlds reached STEPS. Prints what
# it saw; returns 1 when a check fails.
worlds_trained_through() {
  python3 - "$@" <<'PY'
import json, sys
east = [json.loads(l) for l in open(sys.argv[1]) if '"loss"' in l]
west = [json.loads(l) for l in open(sys.argv[2]) if '"loss"' in l]
killed, steps = float(sys.argv[3]), int(sys.argv[4])
gaps = [b["time"] - a["time"] for a, b in zip(east, east[1:])]
after = [r for r in east if r["time"] > killed]
alone = sum(1 for r in after if r["round_worlds"] == 1 and r["outer_steps"] > 0)
print(f"dc-east: {len(east)} steps, longest pause {max(gaps) * 1e3:.0f} ms, {alone} steps after rounds it had alone; "
      f"dc-west ended at step {west[-1]['step']}")
ok = east[-1]["step"] == steps and west[-1]["step"] == steps and max(gaps) < 1.5 and alone > 0
sys.exit(0 if ok else 1)
PY
}
