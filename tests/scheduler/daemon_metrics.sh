#!/usr/bin/env bash
# Prometheus can scrape the daemon: with TLS and tokens, /metrics over
# HTTPS wants a token that may read the cluster; while a real job trains it
# shows the job's step and loss, and what it shows passes `promtool check
# metrics`; /healthz answers anyone.
set -uo pipefail
bin=$1; work=$2
source "$(dirname "$0")/../common/daemon_lib.sh"
rm -rf "$work" && mkdir -p "$work"
command -v promtool >/dev/null || { echo "SKIP: promtool is not installed"; exit 77; }
fail() { echo "FAIL: $*"; tail -20 "$work/daemon.log"; exit 1; }
"$bin/meridian-data" synth --out "$work/data" --train-bytes 100000 --val-bytes 10000 >/dev/null || exit 1
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$work/daemon.key" -out "$work/daemon.crt" \
  >/dev/null 2>&1 || fail "openssl"
cat >"$work/tokens.yaml" <<YAML
tokens:
  - {name: ops, role: admin, token: "ops-$RANDOM-0123456789abcdef"}
  - {name: prometheus, role: read, token: "prom-$RANDOM-0123456789abcdef"}
YAML
sed -n 's/.*name: ops.*token: "\([^"]*\)".*/\1/p' "$work/tokens.yaml" >"$work/ops.token"
sed -n 's/.*name: prometheus.*token: "\([^"]*\)".*/\1/p' "$work/tokens.yaml" >"$work/prom.token"
trap 'daemon_stop_all' EXIT
daemon_start "$work/daemon.log" --listen 127.0.0.1:0 --http 127.0.0.1:0 --state "$work/state" \
  --slots-per-dc 2 --tls-cert "$work/daemon.crt" --tls-key "$work/daemon.key" --token-file "$work/tokens.yaml" ||
  fail "the daemon did not come up"
export MERIDIAN_SCHEDULER=127.0.0.1:$DAEMON_PORT
http=$DAEMON_HTTP_PORT
ctl() { "$bin/meridianctl" --tls-ca "$work/daemon.crt" --token-file "$work/ops.token" "$@"; }

# get PATH [TOKEN_FILE]: prints the HTTP status, then the body.
get() {
  python3 - "https://127.0.0.1:$http$1" "$work/daemon.crt" "${2:-}" <<'PY'
import ssl, sys, urllib.error, urllib.request
url, ca, token_file = sys.argv[1:4]
req = urllib.request.Request(url)
if token_file:
    req.add_header("Authorization", "Bearer " + open(token_file).readline().strip())
try:
    with urllib.request.urlopen(req, context=ssl.create_default_context(cafile=ca), timeout=10) as r:
        print(r.status); print(r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code)
PY
}
[[ $(get /healthz | head -1) == 200 ]] || fail "/healthz"
[[ $(get /metrics | head -1) == 401 ]] || fail "/metrics without a token"

cat >"$work/job.yaml" <<YAML
name: scraped
model: {preset: d4, n_layer: 2, n_embd: 32, n_head: 2, vocab_size: 256, max_seq_len: 16}
training: {batch: 2, seq: 16, steps: 100000, data: "$work/data/train_*.bin", threads: 1}  # cancelled long before
layout: {dp: 2, pp: 1}
YAML
ctl submit "$work/job.yaml" >/dev/null || fail "submit"
for _ in $(seq 300); do
  get /metrics "$work/prom.token" >"$work/running.txt"
  grep -q '^meridian_job_step{job="job-000001",name="scraped"} [1-9]' "$work/running.txt" && break
  sleep 0.1
done
grep -q '^meridian_job_step{job="job-000001"' "$work/running.txt" || { cat "$work/running.txt"; fail "no step of the running job"; }
for metric in 'meridian_jobs{state="RUNNING"} 1' 'meridian_job_loss{job="job-000001"' \
              'meridian_rpc_requests_total{code="OK",method="SubmitJob"} 1' \
              'meridian_rpc_requests_total{code="OK",method="ReportProgress"}' 'meridian_nodes{state="alive"} 2' \
              'meridian_scheduler_lock_hold_seconds_count '; do
  grep -qF "$metric" "$work/running.txt" || { cat "$work/running.txt"; fail "missing: $metric"; }
done
tail -n +2 "$work/running.txt" | promtool check metrics || fail "promtool check metrics"
ctl cancel job-000001 >/dev/null
for _ in $(seq 100); do
  get /metrics "$work/prom.token" >"$work/after.txt"
  grep -qF 'meridian_jobs{state="CANCELLED"} 1' "$work/after.txt" && break
  sleep 0.1
done
grep -qF 'meridian_jobs{state="CANCELLED"} 1' "$work/after.txt" || fail "the cancelled job is not counted"
grep -q 'job="job-000001"' "$work/after.txt" && fail "an ended job still has series"
echo "ok: /metrics over HTTPS with a read token, the running job's step and loss, promtool clean; /healthz open"
