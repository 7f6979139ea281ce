#!/usr/bin/env bash
# `meridianctl plan` on examples/clusters/constellation.yaml, whose orbit is
# seen from each ground station 600 s of every 5400 s: a DiLoCo job over a
# ground data center and the orbit shows the least-up link it crosses, and
# run as one world per data center it also shows each link's own windows
# (what each world's exchange will wait for).
set -uo pipefail
bin=$1; work=$2
source "$(dirname "$0")/../common/daemon_lib.sh"
rm -rf "$work" && mkdir -p "$work"
trap 'daemon_stop_all' EXIT
fail() { echo "FAIL: $*"; tail -20 "$work/daemon.log"; exit 1; }
daemon_start "$work/daemon.log" --listen 127.0.0.1:0 --state "$work/state" \
  --cluster "$(dirname "$0")/../../examples/clusters/constellation.yaml" || fail "the daemon did not come up"
export MERIDIAN_SCHEDULER=127.0.0.1:$DAEMON_PORT
# 36 replicas: more than ground-north's 32 GPUs, so some fly.
job() {
  cat <<YAML
name: ground-and-orbit
model: {preset: d4, n_layer: 2, n_embd: 96, n_head: 2, vocab_size: 256, max_seq_len: 64}
training: {batch: 8, seq: 64, steps: 40, data: "$work/train_*.bin", diloco_h: 50}
layout: {dp: 36, pp: 1, dp_sync: diloco}
data_centers: [ground-north, orbit]
dc_worlds: $1
YAML
}
job false >"$work/one-world.yaml"
job true >"$work/worlds.yaml"
"$bin/meridianctl" plan "$work/one-world.yaml" >"$work/one-world.txt" || fail "plan"
"$bin/meridianctl" plan "$work/worlds.yaml" >"$work/worlds.txt" || fail "plan (worlds)"
grep "^contact windows" "$work/one-world.txt" "$work/worlds.txt"
want="600 s every 5400 s (11% up): 5400:600:0"
grep -qxF "contact windows: the least-up link crossed is up $want" "$work/one-world.txt" ||
  fail "plan does not show the least-up link's windows"
grep -q "^contact windows: link" "$work/one-world.txt" && fail "one world has no per-link windows to show"
grep -qxF "contact windows: link ground-north <-> orbit is up $want" "$work/worlds.txt" ||
  fail "plan does not show the worlds' link windows"
echo "ok: plan shows the contact windows a job's exchanges wait for"
