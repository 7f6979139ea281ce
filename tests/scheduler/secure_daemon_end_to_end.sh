#!/usr/bin/env bash
# A daemon with TLS and tokens runs a real job: meridianctl needs a token
# and the CA, the ranks get in with their job token over TLS, and nothing
# gets in without them. A daemon asked to serve beyond loopback without
# TLS and tokens refuses unless told --insecure, and then says so.
set -uo pipefail
bin=$1; work=$2
source "$(dirname "$0")/../common/daemon_lib.sh"
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*"; tail -20 "$work/daemon.log"; exit 1; }
"$bin/meridian-data" synth --out "$work/data" --train-bytes 100000 --val-bytes 10000 >/dev/null || exit 1
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$work/daemon.key" -out "$work/daemon.crt" \
  >/dev/null 2>&1 || fail "openssl"
cat >"$work/tokens.yaml" <<YAML
tokens:
  - {name: alice, role: submit, token: "alice-$RANDOM-0123456789abcdef"}
  - {name: viewer, role: read, token: "viewer-$RANDOM-0123456789abcdef"}
YAML
sed -n 's/.*name: alice.*token: "\([^"]*\)".*/\1/p' "$work/tokens.yaml" >"$work/alice.token"
sed -n 's/.*name: viewer.*token: "\([^"]*\)".*/\1/p' "$work/tokens.yaml" >"$work/viewer.token"
trap 'daemon_stop_all' EXIT
daemon_start "$work/daemon.log" --listen 127.0.0.1:0 --state "$work/state" --slots-per-dc 2 \
  --tls-cert "$work/daemon.crt" --tls-key "$work/daemon.key" --token-file "$work/tokens.yaml" ||
  fail "the daemon did not come up"
export MERIDIAN_SCHEDULER=127.0.0.1:$DAEMON_PORT
ctl() { "$bin/meridianctl" --tls-ca "$work/daemon.crt" "$@"; }
ctl --token-file "$work/viewer.token" pools >/dev/null || fail "a read token was not let in"
out=$(ctl pools 2>&1) && fail "no token was let in"
grep -q "missing or invalid credentials" <<<"$out" || fail "no token: $out"
"$bin/meridianctl" --token-file "$work/viewer.token" pools >/dev/null 2>&1 && fail "plaintext was let in"
cat >"$work/job.yaml" <<YAML
name: secure
model: {preset: d4, n_layer: 2, n_embd: 32, n_head: 2, vocab_size: 256, max_seq_len: 16}
training: {batch: 2, seq: 16, steps: 20, data: "$work/data/train_*.bin", threads: 1}
layout: {dp: 2, pp: 1}
YAML
out=$(ctl --token-file "$work/viewer.token" submit "$work/job.yaml" 2>&1) && fail "a read token submitted"
grep -q "not allowed for this token" <<<"$out" || fail "read token: $out"
ctl --token-file "$work/alice.token" submit --watch "$work/job.yaml" >"$work/watch.log" ||
  { ctl --token-file "$work/alice.token" logs job-000001 | tail -20; fail "the job did not succeed"; }
ctl --token-file "$work/alice.token" --json get job-000001 | grep -q '"owner":"alice"' || fail "owner not recorded"
grep -q "missing or invalid credentials" "$work/state/jobs/job-000001/output.log" && fail "a rank was refused"
grep -q "alice-" "$work/daemon.log" "$work/state/jobs/job-000001/output.log" && fail "a token was logged"
echo "ok: TLS and tokens: only the right token in, the job's ranks in with theirs"

# Beyond loopback: refused without TLS and tokens, unless --insecure.
out=$("$bin/meridian-scheduler" --listen 0.0.0.0:0 --state "$work/state2" 2>&1) && fail "served 0.0.0.0 plainly"
grep -q -- "--insecure" <<<"$out" || fail "refusal: $out"
daemon_start "$work/insecure.log" --listen 0.0.0.0:0 --insecure --state "$work/state2" ||
  fail "the --insecure daemon did not come up"
pools=$("$bin/meridianctl" --scheduler "127.0.0.1:$DAEMON_PORT" pools)
daemon_stop "$DAEMON_PID"
grep -q "WARNING: --insecure" "$work/insecure.log" || fail "no warning at start"
grep -q "WARNING: the daemon runs with --insecure" <<<"$pools" || fail "pools does not say --insecure: $pools"
echo "ok: beyond loopback only with TLS and tokens, or --insecure said out loud"
