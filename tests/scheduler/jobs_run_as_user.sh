#!/usr/bin/env bash
# A daemon started as root with --run-as runs its jobs as that user: the
# job's files are the user's, and a file only root may read stays unread.
set -uo pipefail
bin=$1; work=$2
[[ $(id -u) == 0 ]] || { echo "skipped: needs root"; exit 77; }
getent passwd nobody >/dev/null || { echo "skipped: no user 'nobody'"; exit 77; }
source "$(dirname "$0")/../common/scratch_dir.sh"
source "$(dirname "$0")/../common/daemon_lib.sh"
# Everything handed to the user lives where it can reach it, wherever the
# checkout lies: the binaries (copied), the data and the daemon's state.
rm -rf "$work" && mkdir -p "$work"
work=$(scratch_dir run-as) || { echo "FAIL: no scratch directory"; exit 1; }
trap 'rm -rf "$work"' EXIT
mkdir -m 755 "$work/bin" && cp "$bin"/meridian{-scheduler,-train,-data,ctl} "$work/bin/" || exit 1
bin=$work/bin
fail() { echo "FAIL: $*"; tail -20 "$work/daemon.log"; exit 1; }
"$bin/meridian-data" synth --out "$work/data" --train-bytes 100000 --val-bytes 10000 >/dev/null || exit 1
chmod -R a+rX "$work/data"
# A trainer the user cannot reach: the daemon refuses to start and names
# the directory that blocks it (else every launch would fail later).
mkdir -m 700 "$work/private" && cp "$bin/meridian-train" "$work/private/" || exit 1
timeout 20 "$bin/meridian-scheduler" --listen 127.0.0.1:0 --state "$work/refused" --run-as nobody \
  --train-binary "$work/private/meridian-train" >"$work/refused.log" 2>&1
rc=$?
[[ $rc -eq 2 ]] && grep -q "$work/private " "$work/refused.log" ||
  { cat "$work/refused.log"; echo "FAIL: a daemon whose trainer nobody cannot reach exited $rc"; exit 1; }
mkdir -p "$work/secret" && cp "$work/data/train_000.bin" "$work/secret/train_000.bin" && chmod 600 "$work/secret/train_000.bin"
trap 'daemon_stop_all; rm -rf "$work"' EXIT
daemon_start "$work/daemon.log" --listen 127.0.0.1:0 --state "$work/state" --slots-per-dc 2 --run-as nobody ||
  fail "the daemon did not come up"
export MERIDIAN_SCHEDULER=127.0.0.1:$DAEMON_PORT
job() {  # job NAME DATA
  cat >"$work/$1.yaml" <<YAML
name: $1
model: {preset: d4, n_layer: 2, n_embd: 32, n_head: 2, vocab_size: 256, max_seq_len: 16}
training: {batch: 2, seq: 16, steps: 10, data: "$2", threads: 1}
layout: {dp: 2, pp: 1}
max_restarts: 0
YAML
  "$bin/meridianctl" submit --watch "$work/$1.yaml" >"$work/$1.watch" 2>&1
}
job plain "$work/data/train_*.bin" || fail "the job did not succeed: $(tail -5 "$work/state/jobs/job-000001/output.log")"
owner=$(stat -c %U "$work/state/jobs/job-000001/metrics.jsonl")
[[ $owner == nobody ]] || fail "metrics written by $owner, not nobody"
ckpt=$(find "$work/state/jobs/job-000001/checkpoints" -name 'rank-*.bin' | head -1)
[[ -n $ckpt && $(stat -c %U "$ckpt") == nobody ]] || fail "checkpoint not written by nobody"
job secret "$work/secret/train_*.bin" && fail "a job read a file only root may read"
grep -qi "permission denied" "$work/state/jobs/job-000002/output.log" || fail "no permission error in the log"
echo "ok: jobs ran as nobody; a root-only file stayed unread; an unreachable trainer was refused at start"
