#!/usr/bin/env bash
# Agents on their own hosts find their daemon: started before it, they
# register once it is up; when the daemon restarts on an empty state, they
# register again; an agent stopped with SIGTERM deregisters its node.
# Skips (77) where namespaces cannot be made.
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
echo "ok: agents registered before and after a daemon restart, and deregistered on SIGTERM"
