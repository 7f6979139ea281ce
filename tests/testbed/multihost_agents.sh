#!/usr/bin/env bash
# Agents on their own hosts find their daemon: started before it, they
# register once it is up; when the daemon restarts on an empty state, they
# register again; an agent stopped with SIGTERM deregisters its node. Only
# a node's own agent token registers it: an agent with an unknown token, or
# with another host's, is refused. Skips (77) where namespaces cannot be made.
set -uo pipefail
src=$1; bin=$2; work=$3
source "$src/tests/testbed/multihost_job_lib.sh"
bed_up
mh_start_agents "$bin" "$MH_SCHEDULER"
sleep 2  # the agents try, fail and back off
start_daemon "$work/state1"
wait_nodes 6
ctl nodes
# Each registered its own address and hostname.
ctl --json nodes | python3 -c '
import json, sys
for p in json.load(sys.stdin)["pools"]:
    for n in p["nodes"]:
        assert n.get("hostname") == n["name"], n
        assert n["host"].startswith("10.78."), n
print("addresses ok")' || fail "wrong addresses"
mh_kill daemon -KILL
sleep 1
start_daemon "$work/state2"   # empty state: the daemon knows no agent
wait_nodes 6
mh_kill agent-hosta
for _ in $(seq 50); do
  alive_nodes | grep -qx hosta || break
  sleep 0.1
done
ctl nodes
alive_nodes | grep -qx hosta && fail "hosta still alive after its agent stopped"
grep -q "hosta deregistered" "$MH_DIR/daemon.log" || fail "no deregistration logged"

# wait_refused NAME WHY: until agent NAME's log says its registration was refused with WHY.
wait_refused() {
  for _ in $(seq 100); do
    grep -q "RegisterNode to .* failed: $2" "$MH_DIR/$1.log" 2>/dev/null && return 0
    sleep 0.1
  done
  cat "$MH_DIR/$1.log"
  fail "$1 was not refused with \"$2\""
}
# Impostors in hosta, now that its own agent is gone: an unknown token
# (UNAUTHENTICATED), and hostb's agent token (good, but not for node hosta).
# The unknown token sits with the bed's: check_no_token_logged looks for it too.
openssl rand -hex 24 >"$MH_DIR/tokens/unknown"
mh_start_agent "$bin" "$MH_SCHEDULER" hosta agent-unknown-token "$MH_DIR/tokens/unknown"
mh_start_agent "$bin" "$MH_SCHEDULER" hosta agent-hostb-token "$MH_DIR/tokens/hostb"
wait_refused agent-unknown-token "missing or invalid credentials"
wait_refused agent-hostb-token "not allowed for this token"
sleep 1  # a few heartbeat periods: still refused
ctl nodes
alive_nodes | grep -qx hosta && fail "an agent without hosta's token registered hosta"
mh_kill agent-unknown-token
mh_kill agent-hostb-token
check_no_token_logged
echo "ok: agents registered over TLS with their tokens before and after a daemon restart, deregistered on SIGTERM;"
echo "ok: agents with an unknown or another host's token were refused"
