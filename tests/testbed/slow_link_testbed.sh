#!/usr/bin/env bash
# A slow-link test bed on one machine: N "data centers" as network
# namespaces, each joined to a router namespace by a veth pair whose router
# side is shaped with tc tbf (each direction separately: egress of the
# router's veth shapes traffic into the DC, egress of the DC's veth traffic
# out of it). Ranks inside one data center talk through shared memory, at
# full speed; only traffic between data centers crosses the shaped link.
# This kernel has no netem: for a delay (jitter, loss, or a link to take
# down) the data centers are joined instead by meridian-wan-link, a
# forwarder between a TUN device in each namespace that applies the rate,
# the delay and the rest in user space (tests/testbed/wan_link.cc).
#
#   slow_link_testbed.sh [--dcs N] [--rate 100mbit] [--ranks-per-dc K]
#       [--delay-ms D] [--jitter-ms J] [--loss P] [--wan-link BIN] [--control FILE] [--user-link]
#       [--window PERIOD:UP[:PHASE]] [--link-window A:B:SPEC]... -- mpirun-args... PROGRAM ARGS...
#
# --delay-ms is one way (a round trip is twice it). --user-link uses the
# forwarder even with no delay (to compare it with the kernel's path). --control FILE: lines
# `down A B` take the link between data centers A and B down; send the
# forwarder SIGHUP (its pid is in FILE.pid) after editing it. --window: the
# links between data centers are up UP seconds of every PERIOD, the first
# window opening PHASE seconds after the Unix epoch (a cluster file's
# `window:`). --link-window A:B:SPEC: the link between data centers A and
# B has its own window (SPEC as --window takes it), e.g. 0:2:6:2:0.
# These link flags are link_settings.sh's, which the multi-host bed shares;
# its LINK_* variables in the environment set the same things.
#
#   slow_link_testbed.sh [options] -- --run COMMAND ARGS...
#
# runs COMMAND instead of mpirun, in this namespace, with TESTBED_NS=the
# namespaces' prefix (data center d is $TESTBED_NS-dcd, at 10.213.d.2).
#
# runs `mpirun` in the router namespace with a launch agent that starts each
# data center's daemon in its namespace (own UTS namespace and hostname, so
# Open MPI's per-host shared-memory names don't collide) and prints
# MERIDIAN_POOLS for the program (dc0:K,dc1:K,...). Everything is removed on
# exit. Exit code 77 (skip) when namespaces cannot be made here.
set -uo pipefail
source "$(dirname "$(readlink -f "$0")")/link_settings.sh"
dcs=2 per_dc=2
wan_link=$(dirname "$(readlink -f "$0")")/../../build/bin/meridian-wan-link
while [[ $# -gt 0 && $1 != "--" ]]; do
  case $1 in
    --dcs) dcs=$2; shift 2 ;;
    --ranks-per-dc) per_dc=$2; shift 2 ;;
    --wan-link) wan_link=$2; shift 2 ;;
    --user-link) LINK_USER_SPACE=1; shift ;;
    *) link_option "$1" "${2:-}" || { echo "unknown option $1" >&2; exit 2; }; shift 2 ;;
  esac
done
shift  # --
skip() { echo "SKIP: $*"; exit 77; }
[[ $(id -u) -eq 0 ]] || skip "needs root for network namespaces"
command -v ip >/dev/null && command -v tc >/dev/null || skip "needs iproute2 (ip, tc)"
user_link=0
link_in_user_space && user_link=1
if ((user_link)); then
  [[ -x $wan_link ]] || skip "no meridian-wan-link at $wan_link (give --wan-link)"
  [[ -c /dev/net/tun ]] || skip "no /dev/net/tun for the delayed link"
fi
tag=mrd$$
ip netns add "$tag-r" 2>/dev/null || skip "ip netns add is not permitted here"
wan_pid=""
cleanup() {
  [[ -n $wan_pid ]] && kill "$wan_pid" 2>/dev/null && wait "$wan_pid" 2>/dev/null
  for ((d = 0; d < dcs; d++)); do ip netns del "$tag-dc$d" 2>/dev/null; done
  ip netns del "$tag-r" 2>/dev/null
  rm -rf "$agent_dir"
}
agent_dir=$(mktemp -d)
trap cleanup EXIT
ip -n "$tag-r" link set lo up
ip netns exec "$tag-r" sysctl -qw net.ipv4.ip_forward=1
hosts=""
for ((d = 0; d < dcs; d++)); do
  ns=$tag-dc$d
  ip netns add "$ns" || skip "cannot create namespace $ns"
  ip -n "$ns" link set lo up
  subnet=10.213.$d
  if ((user_link)); then
    # Everything for another data center (10.213.0.0/16) goes into wan0,
    # and meridian-wan-link carries it.
    ip -n "$ns" tuntap add dev wan0 mode tun || skip "cannot create a TUN device"
    ip -n "$ns" addr add "$subnet.2/16" dev wan0
    ip -n "$ns" link set wan0 up
    echo "$subnet.2 dc$d" >>"$agent_dir/hosts"
    hosts+="${hosts:+,}dc$d:$per_dc"
    continue
  fi
  ip link add "v$tag$d" netns "$tag-r" type veth peer name eth0 netns "$ns" || skip "cannot create veth pairs"
  ip -n "$tag-r" addr add "$subnet.1/24" dev "v$tag$d"
  ip -n "$tag-r" link set "v$tag$d" up
  ip -n "$ns" addr add "$subnet.2/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" route add default via "$subnet.1"
  # Shape both directions of the inter-DC path.
  tc -n "$tag-r" qdisc add dev "v$tag$d" root tbf rate "$LINK_RATE" burst 256kb latency 50ms || skip "tc tbf unavailable"
  tc -n "$ns" qdisc add dev eth0 root tbf rate "$LINK_RATE" burst 256kb latency 50ms || skip "tc tbf unavailable"
  echo "$subnet.2 dc$d" >>"$agent_dir/hosts"
  hosts+="${hosts:+,}dc$d:$per_dc"
done
if ((user_link)); then
  # mpirun's namespace reaches every data center through the forwarder too
  # (its traffic unshaped: the launcher's, not the WAN's).
  ip -n "$tag-r" tuntap add dev wan0 mode tun || skip "cannot create a TUN device"
  ip -n "$tag-r" addr add 10.213.255.1/16 dev wan0
  ip -n "$tag-r" link set wan0 up
  netns=()
  for ((d = 0; d < dcs; d++)); do netns+=(--netns "$tag-dc$d"); done
  link_forwarder_args
  "$wan_link" "${netns[@]}" --hub "$tag-r" "${LINK_ARGS[@]}" &
  wan_pid=$!
  [[ -n $LINK_CONTROL ]] && echo "$wan_pid" >"$LINK_CONTROL.pid"
  sleep 0.5
  kill -0 "$wan_pid" 2>/dev/null || { echo "FAIL: meridian-wan-link did not start" >&2; exit 1; }
fi
# The launch agent: called like ssh (AGENT HOST CMD...), runs CMD in HOST's
# namespace with its own hostname.
cat >"$agent_dir/agent" <<AGENT
#!/usr/bin/env bash
host=\$1; shift
while [[ \$1 == -* ]]; do shift; done   # ssh-style options mpirun may pass
exec ip netns exec $tag-\$host unshare --uts sh -c "hostname \$host; \$*"
AGENT
chmod +x "$agent_dir/agent"
pools=""
for ((d = 0; d < dcs; d++)); do pools+="${pools:+,}dc$d:$per_dc"; done
echo "testbed: $dcs data centers x $per_dc ranks, inter-DC link $(link_describe) (namespaces $tag-*)" >&2
export MERIDIAN_POOLS=$pools
if [[ ${1:-} == --run ]]; then
  shift
  TESTBED_NS=$tag "$@"
  exit $?
fi
ip netns exec "$tag-r" env HOSTALIASES= mpirun --allow-run-as-root --bind-to none \
  --mca plm_rsh_agent "$agent_dir/agent" --mca plm_rsh_no_tree_spawn 1 \
  --mca oob_tcp_if_include 10.213.0.0/16 --mca btl_tcp_if_include 10.213.0.0/16 \
  --mca btl self,vader,tcp --mca btl_vader_single_copy_mechanism none --mca mpi_yield_when_idle 1 \
  --host "$(sed 's/^[^ ]* //' "$agent_dir/hosts" | paste -sd, | sed "s/\([^,]*\)/\1:$per_dc/g")" \
  -np $((dcs * per_dc)) -x MERIDIAN_POOLS "$@"
