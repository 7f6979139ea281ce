#!/usr/bin/env bash
# The multi-host bed over links with delay (link_settings.sh, as the
# slow-link bed takes them): 20 ms each way between data centers puts a
# ~40 ms round trip between hosts of two data centers and none between
# hosts of one, or between a host and the hub (the launcher's path); the
# cluster file the daemon reads says so; `down 1 2` in the control file
# cuts dc-a from dc-b and leaves dc-s reachable, and the link carries again
# once brought back; and a DP2 x PP2 job over SSH across dc-a and dc-b
# SUCCEEDS over the delayed link with the losses of one host.
# Skips (77) where namespaces or TUN devices cannot be made.
set -uo pipefail
src=$1; bin=$2; work=$3
export LINK_DELAY_MS=20 LINK_CONTROL=$work/links MH_WAN_LINK=$bin/meridian-wan-link
source "$src/tests/testbed/multihost_job_lib.sh"
cluster_up

# measure FROM TO: the round trip (ms) and TCP throughput between two hosts.
measure() {
  python3 "$src/tests/testbed/measure_link.py" --from "$MH_TAG-$1" --to "$MH_TAG-$2" --to-addr "${MH_ADDR[$2]}" \
    --mbytes 2 --pings 20 | tail -1
}
check_rtt() {  # check_rtt FROM TO LOW HIGH
  local m rtt
  m=$(measure "$1" "$2") || fail "cannot measure the link from $1 to $2"
  rtt=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["rtt_ms"])' "$m")
  python3 -c 'import sys; sys.exit(0 if float(sys.argv[2]) <= float(sys.argv[1]) <= float(sys.argv[3]) else 1)' \
    "$rtt" "$3" "$4" || fail "round trip $1 -> $2: $rtt ms, expected $3 to $4 ms"
  echo "ok  $1 -> $2: $m"
}
check_rtt hosta hostc 38 50    # dc-a to dc-b: 20 ms each way
check_rtt hoste hostb 38 50    # dc-s to dc-a
check_rtt hosta hostb 0 5      # inside dc-a: bridged, no WAN
ip netns exec "$MH_TAG-hosta" python3 - <<'PY' || fail "the hub is not reached at once from dc-a"
import socket, time
t = time.perf_counter()  # a TCP connection to the daemon's port: one round trip to the hub
c = socket.create_connection(("10.78.1.1", 7070), timeout=2); rtt = (time.perf_counter() - t) * 1e3; c.close()
print(f"ok  hosta -> hub: connect {rtt:.2f} ms"); raise SystemExit(0 if rtt < 10 else 1)
PY
ctl pools | grep -E "^link" | tee "$work/links.txt"
grep -q "dc-a <-> dc-b: 0.1 Gbit/s, 20.0 ms" "$work/links.txt" || fail "the cluster file does not declare the bed's delay"

# connect FROM TO: "ok" when a TCP connection from host FROM reaches TO's sshd within 2 s.
connect() {
  ip netns exec "$MH_TAG-$1" python3 -c '
import socket, sys
try: socket.create_connection((sys.argv[1], 22), timeout=2).close(); print("ok")
except OSError: print("failed")' "${MH_ADDR[$2]}"
}
relink() { printf '%s\n' "$@" >"$LINK_CONTROL"; kill -HUP "$(cat "$LINK_CONTROL.pid")"; sleep 0.3; }
relink "down 1 2"
during="$(connect hosta hostc) $(connect hosta hoste)"
relink
after=$(connect hosta hostc)
[[ $during == "failed ok" && $after == ok ]] ||
  fail "dc-a -> dc-b down: $during (expected failed, with dc-s still ok); back up: $after"
echo "ok  link dc-a <-> dc-b down: dc-b unreachable from dc-a, dc-s reachable; back up: reachable"

job_file across-dcs 12 "dc-b, dc-a" >"$work/job.yaml"
ctl submit "$work/job.yaml" || fail "submit"
state=$(wait_state job-000001 SUCCEEDED FAILED CANCELLED)
[[ $state == SUCCEEDED ]] || fail "job-000001 ended $state"
metrics=$MH_DIR/jobs/jobs/job-000001/metrics.jsonl
run_on_one_host
same_losses "$metrics" "$work/one-host/metrics.jsonl"
echo "ok: the multi-host bed's links carry a 40 ms round trip, go down and back, and a DP2xPP2 job across them equals one host"
