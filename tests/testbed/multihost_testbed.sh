#!/usr/bin/env bash
# A cluster of real hosts on one machine: six "hosts", each a network
# namespace with its own address, its own UTS hostname and its own sshd
# (key-based root login), in three data centers joined by a hub namespace
# that routes between them and shapes every link into a data center with
# tc tbf (the slow-link test bed's shaping). dc-a and dc-b are launched over
# SSH; dc-s runs a real Slurm (munged, slurmctld in the hub, one slurmd per
# host). The links take the settings of link_settings.sh (LINK_RATE,
# LINK_DELAY_MS, ..., from the environment): with a rate alone the hub
# shapes them with tc tbf; with a delay, jitter, loss, windows or a control
# file, the hub routes the traffic between data centers through
# meridian-wan-link (`--routed`: data centers are 1, 2 and 3 there, the
# third number of their addresses; MH_WAN_LINK names the binary) and
# traffic to or from the hub itself stays off the WAN, as the launcher's
# control path. The hub also runs the Meridian daemon, which the bed secures as a
# deployment must: it makes a certificate for the hub (daemon.crt/.key) and
# a token file (tokens.yaml: an admin token, and one agent token per host
# named after it), each token also alone in tokens/NAME for its client.
#
#   dc-a  10.78.1.0/24  hosta .2  hostb .3     (1 CPU slot each)
#   dc-b  10.78.2.0/24  hostc .2  hostd .3     (1 CPU slot each)
#   dc-s  10.78.3.0/24  hoste .2  hostf .3     (2 CPU slots each, Slurm)
#   hub   10.78.X.1 on every data center's bridge
#
# Its files (keys, configs, the daemons' state, jobs) live in a scratch
# directory every user can reach (tests/common/scratch_dir.sh): munged runs
# as its own user, and a checkout under a mode-0700 parent would block it.
# DIR is the caller's: it names the scratch directory (DIR/bed-dir) while
# the bed is up, and keeps the bed's logs (DIR/logs) once it is down.
#
# Use it from a test (source it) or by hand:
#   multihost_testbed.sh up DIR      # prints what it made and where
#   multihost_testbed.sh down DIR    # stops it, keeps the logs, removes the scratch directory
# Sourced, it gives mh_up DIR, mh_down, mh_bg HOST NAME CMD..., mh_kill NAME,
# mh_start_agents BIN SCHEDULER_ADDR, mh_start_agent BIN SCHEDULER_ADDR HOST
# and mh_pgrep HOST PATTERN. mh_up returns 77 (skip) where namespaces,
# veths or tc cannot be made. Needs root.
# Recipes and pitfalls: shared notes on many hosts with sshd and Slurm.

MH_HOSTS=(hosta hostb hostc hostd hoste hostf)
declare -A MH_DC=([hosta]=dc-a [hostb]=dc-a [hostc]=dc-b [hostd]=dc-b [hoste]=dc-s [hostf]=dc-s)
declare -A MH_ADDR=([hosta]=10.78.1.2 [hostb]=10.78.1.3 [hostc]=10.78.2.2 [hostd]=10.78.2.3
                    [hoste]=10.78.3.2 [hostf]=10.78.3.3)
declare -A MH_SLOTS=([hosta]=1 [hostb]=1 [hostc]=1 [hostd]=1 [hoste]=2 [hostf]=2)
declare -A MH_BRIDGE=([dc-a]=1 [dc-b]=2 [dc-s]=3)
MH_WAN_LINK=${MH_WAN_LINK:-$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../build/bin/meridian-wan-link}
MH_DIR=""    # the bed's files, in a scratch directory
MH_HOME=""   # the caller's directory
MH_TAG=""
source "$(dirname "${BASH_SOURCE[0]}")/../common/scratch_dir.sh"
source "$(dirname "${BASH_SOURCE[0]}")/link_settings.sh"

mh_skip() { echo "SKIP: $*" >&2; return 77; }

# Starts CMD in the background in HOST ("hub" for the hub) under HOST's
# hostname (own UTS namespace: Open MPI's shared-memory names include the
# hostname), logs to DIR/NAME.log, records its PID (the exec chain makes $!
# the command itself).
mh_bg() {
  local host=$1 name=$2; shift 2
  nsenter --net="/run/netns/$MH_TAG-$host" unshare --uts sh -c 'hostname "$0"; exec "$@"' "$host" "$@" \
    >>"$MH_DIR/$name.log" 2>&1 &
  echo "$name $!" >>"$MH_DIR/pids"
  disown $!  # stopped by PID (mh_kill, mh_down), never waited for
}

mh_pid() { awk -v n="$1" '$1 == n { p = $2 } END { print p }' "$MH_DIR/pids"; }

mh_kill() {
  local pid
  pid=$(mh_pid "$1")
  [[ -n $pid ]] && kill "${2:--TERM}" "$pid" 2>/dev/null
  true
}

# mh_pgrep HOST PATTERN: the pids of the processes in HOST ("hub" for the
# hub) whose command line, its words joined by spaces, matches the extended
# regular expression PATTERN; `pgrep -f` over this bed's host alone, never
# over the machine, where another bed or test runs the same programs.
mh_pgrep() {
  local pid
  for pid in $(ip netns pids "$MH_TAG-$1" 2>/dev/null); do
    tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qE -- "$2" && echo "$pid"
  done
  true
}

mh_make_network() {
  local hub=$MH_TAG-hub dc host n
  ip netns add "$hub" 2>/dev/null || { mh_skip "ip netns add is not permitted here"; return; }
  echo "$MH_TAG" >"$MH_DIR/tag"
  ip -n "$hub" link set lo up
  ip netns exec "$hub" sysctl -qw net.ipv4.ip_forward=1
  for dc in dc-a dc-b dc-s; do
    n=${MH_BRIDGE[$dc]}
    ip -n "$hub" link add "br-$dc" type bridge || { mh_skip "cannot create bridges"; return; }
    ip -n "$hub" addr add "10.78.$n.1/24" dev "br-$dc"
    ip -n "$hub" link set "br-$dc" up
    # Everything routed into the data center leaves through its bridge:
    # the shaped inter-DC link. Hosts of one data center talk through the
    # bridge's ports, unshaped.
    link_in_user_space && continue
    tc -n "$hub" qdisc add dev "br-$dc" root tbf rate "$LINK_RATE" burst 256kb latency 50ms ||
      { mh_skip "tc tbf unavailable"; return; }
  done
  if link_in_user_space; then mh_route_through_wan_link || return; fi
  for host in "${MH_HOSTS[@]}"; do
    dc=${MH_DC[$host]}
    ip netns add "$MH_TAG-$host" || { mh_skip "cannot create namespace $MH_TAG-$host"; return; }
    ip -n "$MH_TAG-$host" link set lo up
    ip link add "v$MH_TAG$host" netns "$hub" type veth peer name eth0 netns "$MH_TAG-$host" ||
      { mh_skip "cannot create veth pairs"; return; }
    ip -n "$hub" link set "v$MH_TAG$host" master "br-$dc" up
    ip -n "$MH_TAG-$host" addr add "${MH_ADDR[$host]}/24" dev eth0
    ip -n "$MH_TAG-$host" link set eth0 up
    ip -n "$MH_TAG-$host" route add default via "10.78.${MH_BRIDGE[$dc]}.1"
  done
}

# The hub sends what one data center's hosts address to another's into
# its TUN device wan0 (policy routing by the bridge it came in on), where
# meridian-wan-link holds each packet for the link's rate and delay and
# writes it back; back in, it is routed on by the main table. Reverse-path
# filtering would drop it there (its source is not behind wan0), so it is
# off in the hub.
mh_route_through_wan_link() {
  local hub=$MH_TAG-hub dc
  [[ -x $MH_WAN_LINK ]] || { mh_skip "no meridian-wan-link at $MH_WAN_LINK (set MH_WAN_LINK)"; return; }
  [[ -c /dev/net/tun ]] || { mh_skip "no /dev/net/tun for the delayed links"; return; }
  ip -n "$hub" tuntap add dev wan0 mode tun || { mh_skip "cannot create a TUN device"; return; }
  ip -n "$hub" addr add 10.78.255.1/32 dev wan0
  ip -n "$hub" link set wan0 up
  ip netns exec "$hub" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.wan0.rp_filter=0
  ip -n "$hub" route add 10.78.0.0/16 dev wan0 table 78
  for dc in dc-a dc-b dc-s; do ip -n "$hub" rule add iif "br-$dc" to 10.78.0.0/16 lookup 78 priority 100; done
  link_forwarder_args
  mh_bg hub wan-link "$MH_WAN_LINK" --routed "$hub" "${LINK_ARGS[@]}"
  [[ -n $LINK_CONTROL ]] && mh_pid wan-link >"$LINK_CONTROL.pid"
  sleep 0.5
  kill -0 "$(mh_pid wan-link)" 2>/dev/null || { echo "testbed: meridian-wan-link did not start" >&2; return 1; }
}

mh_start_sshd() {
  local host
  command -v /usr/sbin/sshd >/dev/null || { mh_skip "sshd is not installed (openssh-server)"; return; }
  ssh-keygen -q -t ed25519 -N '' -f "$MH_DIR/host_key" && ssh-keygen -q -t ed25519 -N '' -f "$MH_DIR/id" || return 1
  cp "$MH_DIR/id.pub" "$MH_DIR/authorized_keys"
  mkdir -p /run/sshd
  for host in "${MH_HOSTS[@]}"; do
    # StrictModes no: the keys live under the world-writable temp dir.
    # SetEnv: what each host's data center is, for the ranks' self-check.
    printf '%s\n' "HostKey $MH_DIR/host_key" "AuthorizedKeysFile $MH_DIR/authorized_keys" 'PidFile none' \
      'PermitRootLogin prohibit-password' 'StrictModes no' 'PasswordAuthentication no' 'UsePAM no' \
      "SetEnv MERIDIAN_DATA_CENTER=${MH_DC[$host]}" >"$MH_DIR/sshd_config.$host"
    mh_bg "$host" "sshd-$host" /usr/sbin/sshd -D -e -f "$MH_DIR/sshd_config.$host"
  done
  printf '%s\n' 'Host 10.78.* host?' '  User root' "  IdentityFile $MH_DIR/id" '  IdentitiesOnly yes' \
    '  StrictHostKeyChecking no' '  UserKnownHostsFile /dev/null' '  BatchMode yes' '  LogLevel ERROR' \
    >"$MH_DIR/ssh_config"
}

mh_start_slurm() {
  local host
  command -v slurmctld >/dev/null && command -v munged >/dev/null ||
    { mh_skip "Slurm or MUNGE is not installed (slurm-wlm, munge)"; return; }
  # The bed's own munged (its socket is a file, so one serves every
  # namespace), with its own key and socket: another bed on this machine,
  # or the machine's munged, neither shares nor stops it.
  local m=$MH_DIR/munge
  install -d -o munge -g munge -m 700 "$m"
  mungekey -c -k "$m/munge.key" 2>/dev/null || dd if=/dev/urandom of="$m/munge.key" bs=1024 count=1 2>/dev/null
  chown munge:munge "$m/munge.key" && chmod 400 "$m/munge.key"
  setpriv --reuid=munge --regid=munge --init-groups /usr/sbin/munged -F --force --key-file="$m/munge.key" \
    --socket="$m/socket" --pid-file="$m/munged.pid" --log-file="$m/munged.log" --seed-file="$m/seed" \
    >"$MH_DIR/munged.log" 2>&1 &
  echo "munged $!" >>"$MH_DIR/pids"
  disown $!
  local ok=0
  for _ in $(seq 50); do
    munge -n -S "$m/socket" </dev/null 2>/dev/null | unmunge -S "$m/socket" >/dev/null 2>&1 && { ok=1; break; }
    sleep 0.1
  done
  [[ $ok -eq 1 ]] || { echo "testbed: munged did not start" >&2; cat "$MH_DIR/munged.log" >&2; return 1; }
  mkdir -p "$MH_DIR/slurm-state"
  {
    echo "ClusterName=meridian-testbed"
    echo "AuthType=auth/munge"
    echo "CredType=cred/munge"
    echo "AuthInfo=socket=$m/socket"
    echo "SlurmctldHost=hub(10.78.3.1)"
    echo "SlurmUser=root"
    echo "SlurmdUser=root"
    echo "StateSaveLocation=$MH_DIR/slurm-state"
    echo "SlurmdSpoolDir=$MH_DIR/%n/spool"
    echo "TmpFS=$MH_DIR/%n/tmp"  # per node: pmix's app directories would collide
    echo "SlurmctldPidFile=$MH_DIR/slurmctld.pid"
    echo "SlurmdPidFile=$MH_DIR/%n/slurmd.pid"
    echo "SlurmctldPort=6817"
    echo "SlurmdPort=6818"
    echo "ProctrackType=proctrack/linuxproc"
    echo "TaskPlugin=task/none"
    echo "SelectType=select/cons_tres"
    echo "SelectTypeParameters=CR_Core"
    echo "SlurmdParameters=config_overrides"
    echo "MpiDefault=pmix"
    echo "MailProg=/bin/true"
    echo "ReturnToService=2"
    echo "KillWait=5"
    for host in hoste hostf; do
      mkdir -p "$MH_DIR/$host/spool" "$MH_DIR/$host/tmp"
      echo "NodeName=$host NodeAddr=${MH_ADDR[$host]} CPUs=${MH_SLOTS[$host]} Boards=1 SocketsPerBoard=1" \
        "CoresPerSocket=${MH_SLOTS[$host]} ThreadsPerCore=1 RealMemory=1000"
    done
    echo "PartitionName=batch Nodes=hoste,hostf Default=YES MaxTime=INFINITE State=UP"
  } >"$MH_DIR/slurm.conf"
  mh_bg hub slurmctld /usr/sbin/slurmctld -D -f "$MH_DIR/slurm.conf"
  # slurmd under nsenter --net, never `ip netns exec` (which remounts /sys
  # and hides the cgroup file system that slurmd needs).
  for host in hoste hostf; do
    mh_bg "$host" "slurmd-$host" env MERIDIAN_DATA_CENTER=dc-s /usr/sbin/slurmd -D -f "$MH_DIR/slurm.conf"
  done
  local idle
  for _ in $(seq 100); do
    idle=$(SLURM_CONF=$MH_DIR/slurm.conf ip netns exec "$MH_TAG-hub" sinfo -h -o '%D %t' 2>/dev/null)
    [[ $idle == "2 idle" ]] && return 0
    sleep 0.2
  done
  echo "testbed: Slurm nodes did not become idle: $idle" >&2
  tail -5 "$MH_DIR/slurmctld.log" "$MH_DIR"/slurmd-*.log >&2
  return 1
}

# The bed's credentials. The certificate names every address of the hub
# (agents and ranks dial the daemon's advertised address, 10.78.1.1 in
# dc-a; a client by hand may use any data center's gateway or loopback).
# Tokens never go on a command line: each client reads its own from a file.
mh_make_credentials() {
  command -v openssl >/dev/null || { mh_skip "openssl is not installed"; return; }
  local name role
  (
    umask 077  # the key and the tokens: root's alone, as on a daemon machine
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=meridian-testbed-hub \
      -addext "subjectAltName=IP:10.78.1.1,IP:10.78.2.1,IP:10.78.3.1,IP:127.0.0.1,DNS:localhost" \
      -keyout "$MH_DIR/daemon.key" -out "$MH_DIR/daemon.crt" >"$MH_DIR/openssl.log" 2>&1 || exit 1
    mkdir -p "$MH_DIR/tokens"
    echo "tokens:" >"$MH_DIR/tokens.yaml"
    for name in admin "${MH_HOSTS[@]}"; do
      role=agent  # an agent token's name is its node's: it registers that node only
      [[ $name == admin ]] && role=admin
      openssl rand -hex 24 >"$MH_DIR/tokens/$name" || exit 1
      echo "  - {name: $name, role: $role, token: \"$(cat "$MH_DIR/tokens/$name")\"}" >>"$MH_DIR/tokens.yaml"
    done
  ) || { echo "testbed: could not make the credentials" >&2; cat "$MH_DIR/openssl.log" >&2; return 1; }
  chmod 644 "$MH_DIR/daemon.crt"  # the CA every client (ranks too) reads
}

# The cluster file for this bed: the six hosts as nodes that come alive
# when their agents register, the launch options every mpirun needs here.
mh_write_cluster_file() {
  # Ranks over SSH get sshd's environment, not the daemon's: pass what
  # changes their numbers (OpenBLAS picks its kernels by core type).
  local env=""
  [[ -n ${OPENBLAS_CORETYPE:-} ]] && env="  env: [OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE]"
  cat >"$MH_DIR/cluster.yaml" <<YAML
# Written by multihost_testbed.sh for the bed in $MH_DIR.
launch:
  ssh_config: $MH_DIR/ssh_config
  network: 10.78.0.0/16
  ports: 47000-47999
  job_root: $MH_DIR/jobs
$env
data_centers:
  - name: dc-a
    launcher: ssh
    nodes:
      - {name: hosta, gpus: 1, agent: true}
      - {name: hostb, gpus: 1, agent: true}
  - name: dc-b
    launcher: ssh
    nodes:
      - {name: hostc, gpus: 1, agent: true}
      - {name: hostd, gpus: 1, agent: true}
  - name: dc-s
    launcher: slurm
    slurm: {conf: $MH_DIR/slurm.conf, partition: batch}
    nodes:
      - {name: hoste, gpus: 2, agent: true}
      - {name: hostf, gpus: 2, agent: true}
links:
YAML
  # The links as the bed makes them: the rate, the one-way delay (at least
  # 1 ms) and every link's contact windows (LINK_WINDOW's, as the
  # cluster file declares them).
  python3 - "$LINK_RATE" "$LINK_DELAY_MS" "$LINK_WINDOW" >>"$MH_DIR/cluster.yaml" <<'LINKS'
import re, sys
rate, delay, window = sys.argv[1:]
m = re.fullmatch(r"([0-9.]+)(gbit|mbit|kbit)", rate)
gbps = float(m[1]) * {"gbit": 1, "mbit": 1e-3, "kbit": 1e-6}[m[2]] if m else 0.1
extra = ""
if window.startswith("@"):
    spans = [w.split("-") for w in window[1:].split(",")]
    extra = ", windows: [" + ", ".join(f"[{a}, {b}]" for a, b in spans) + "]"
elif window:
    parts = window.split(":") + ["0"]
    extra = f", window: {{period_s: {parts[0]}, up_s: {parts[1]}, phase_s: {parts[2]}}}"
for a, b in (("dc-a", "dc-b"), ("dc-a", "dc-s"), ("dc-b", "dc-s")):
    print(f"  - {{a: {a}, b: {b}, gbps: {gbps:g}, latency_ms: {max(1.0, float(delay)):g}{extra}}}")
LINKS
}

# mh_up DIR: makes the bed. 0 ready, 77 cannot be made here, else failed.
mh_up() {
  MH_HOME=$1
  mkdir -p "$MH_HOME" || return 1
  [[ $(id -u) -eq 0 ]] || { mh_skip "needs root for network namespaces"; return; }
  command -v ip >/dev/null && command -v tc >/dev/null && command -v nsenter >/dev/null ||
    { mh_skip "needs iproute2 and util-linux (ip, tc, nsenter)"; return; }
  MH_DIR=$(scratch_dir bed) || { echo "testbed: no scratch directory for the bed" >&2; return 1; }
  echo "$MH_DIR" >"$MH_HOME/bed-dir"
  mkdir -p "$MH_DIR/jobs" && : >"$MH_DIR/pids"
  MH_TAG=mh$((RANDOM % 9000 + 1000))
  mh_make_network || return
  mh_make_credentials || return
  mh_start_sshd || return
  mh_start_slurm || return
  mh_write_cluster_file
  echo "testbed: 6 hosts in dc-a, dc-b (ssh) and dc-s (Slurm), links $(link_describe), namespaces $MH_TAG-*," \
    "files in $MH_DIR" >&2
  echo "testbed: daemon TLS $MH_DIR/daemon.crt (.key), tokens $MH_DIR/tokens.yaml, one per client in $MH_DIR/tokens/" >&2
}

# mh_start_agent BIN SCHEDULER_ADDR HOST [NAME TOKEN_FILE]: HOST's agent, in
# its host, registering by itself over TLS with HOST's agent token; or, with
# NAME (its log) and TOKEN_FILE, an agent in HOST presenting that token.
mh_start_agent() {
  local bin=$1 scheduler=$2 host=$3
  mh_bg "$host" "${4:-agent-$host}" "$bin/meridian-scheduler" agent --scheduler "$scheduler" \
    --tls-ca "$MH_DIR/daemon.crt" --token-file "${5:-$MH_DIR/tokens/$host}" \
    --data-center "${MH_DC[$host]}" --slots "${MH_SLOTS[$host]}" --interval 0.5
}

# Agents for every host.
mh_start_agents() {
  local host
  for host in "${MH_HOSTS[@]}"; do mh_start_agent "$1" "$2" "$host"; done
}

# mh_down [DIR]: stops everything the bed started, removes its namespaces,
# keeps its logs in DIR/logs and removes its scratch directory.
mh_down() {
  if [[ -n ${1:-} ]]; then
    MH_HOME=$1
    MH_DIR=$(cat "$MH_HOME/bed-dir" 2>/dev/null)
  fi
  [[ -n $MH_DIR && -f $MH_DIR/pids ]] || return 0
  [[ -z $MH_TAG && -f $MH_DIR/tag ]] && MH_TAG=$(cat "$MH_DIR/tag")
  local name pid ns
  while read -r name pid; do kill "$pid" 2>/dev/null; done <"$MH_DIR/pids"
  # Whatever the hosts still run (ranks, orted, slurmstepd) goes with them.
  for ns in $(ip netns list 2>/dev/null | awk -v t="$MH_TAG-" 'index($1, t) == 1 { print $1 }'); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
  done
  sleep 1.5  # slurmd takes a moment to exit
  while read -r name pid; do kill -9 "$pid" 2>/dev/null; done <"$MH_DIR/pids"
  for ns in $(ip netns list 2>/dev/null | awk -v t="$MH_TAG-" 'index($1, t) == 1 { print $1 }'); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
    ip netns del "$ns"
  done
  mh_keep_logs
  rm -rf "$MH_DIR" "$MH_HOME/bed-dir"
  MH_DIR=""
}

# Copies the bed's logs and its jobs' output into MH_HOME/logs.
mh_keep_logs() {
  local f job
  mkdir -p "$MH_HOME/logs"
  for f in "$MH_DIR"/*.log; do [[ -f $f ]] && cp "$f" "$MH_HOME/logs/"; done
  [[ -f $MH_DIR/munge/munged.log ]] && cp "$MH_DIR/munge/munged.log" "$MH_HOME/logs/munge.log"
  for job in "$MH_DIR"/jobs/jobs/*/; do
    [[ -f $job/output.log ]] && cp "$job/output.log" "$MH_HOME/logs/$(basename "$job").output.log"
  done
  true
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  set -uo pipefail
  case ${1:-} in
    up) mh_up "$2"; rc=$?; [[ $rc -eq 0 ]] && cat "$MH_DIR/cluster.yaml"; exit $rc ;;
    down) mh_down "$2" ;;
    *) echo "usage: $0 up DIR | down DIR" >&2; exit 2 ;;
  esac
fi
