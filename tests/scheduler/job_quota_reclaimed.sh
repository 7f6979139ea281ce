#!/usr/bin/env bash
# Tenants' quotas on the real daemon, with tokens mapped to tenants: lab-a
# is guaranteed 1 GPU and may borrow 1; lab-b is guaranteed 1 and borrows
# nothing. alice (lab-a) runs a dp-2 job on both GPUs, borrowing one. bob
# (lab-b) submits a job of the same priority: it is inside lab-b's
# guarantee, so it takes the borrowed GPU back. alice's job is stopped,
# requeued (no restart counted), runs again after bob's and resumes from
# its checkpoint. A job above lab-b's quota is refused at submit, and bob
# cannot submit for lab-a.
set -uo pipefail
bin=$1; work=$2
source "$(dirname "$0")/../common/daemon_lib.sh"
rm -rf "$work" && mkdir -p "$work"
"$bin/meridian-data" synth --out "$work/data" --train-bytes 100000 --val-bytes 10000 >/dev/null || exit 1
trap 'daemon_stop_all' EXIT
fail() {
  echo "FAIL: $*"
  for j in job-000001 job-000002; do "$bin/meridianctl" get $j; tail -15 "$work/state/jobs/$j/output.log"; done
  tail -20 "$work/daemon.log"; exit 1
}
cat >"$work/tokens.yaml" <<YAML
tokens:
  - {name: ops, role: admin, token: "ops-$RANDOM-0123456789abcdef"}
  - {name: alice, role: submit, token: "alice-$RANDOM-0123456789abcdef", tenant: lab-a}
  - {name: bob, role: submit, token: "bob-$RANDOM-0123456789abcdef", tenant: lab-b}
YAML
for who in ops alice bob; do
  sed -n "s/.*name: $who,.*token: \"\([^\"]*\)\".*/\1/p" "$work/tokens.yaml" >"$work/$who.token"
done
cat >"$work/quotas.yaml" <<YAML
tenants:
  lab-a: {gpus: 1, borrow: 1}
  lab-b: {gpus: 1, borrow: 0}
YAML
daemon_start "$work/daemon.log" --listen 127.0.0.1:0 --state "$work/state" --slots-per-dc 1 \
  --token-file "$work/tokens.yaml" --quota-file "$work/quotas.yaml" || fail "the daemon did not come up"
export MERIDIAN_SCHEDULER=127.0.0.1:$DAEMON_PORT MERIDIAN_TOKEN_FILE=$work/ops.token
job() {  # job NAME DP STEPS
  cat <<YAML
name: $1
model: {preset: d4, n_layer: 2, n_embd: 64, n_head: 2, vocab_size: 256, max_seq_len: 32}
training: {batch: 2, seq: 32, steps: $3, lr: 2.0e-3, data: "$work/data/train_*.bin", threads: 1,
           extra_args: ["--checkpoint-every", "50"]}
layout: {dp: $2, pp: 1, dp_sync: sync}
YAML
}
job borrower 2 800 >"$work/a.yaml"
job guaranteed 1 40 >"$work/b.yaml"
job too-big 2 40 >"$work/b2.yaml"
ctl() { local who=$1; shift; "$bin/meridianctl" --token-file "$work/$who.token" "$@"; }
ctl alice submit "$work/a.yaml" >/dev/null || fail "submit a"
wait_for_step "$work/state/jobs/job-000001/metrics.jsonl" 120 120 >/dev/null || fail "alice's job did not reach step 120"
out=$(ctl bob submit "$work/b2.yaml" 2>&1) && fail "a job above lab-b's quota was taken"
grep -q "more than tenant 'lab-b' may ever hold" <<<"$out" || fail "over quota: $out"
out=$(ctl bob submit --tenant lab-a "$work/b.yaml" 2>&1) && fail "bob submitted for lab-a"
grep -q "spec.tenant" <<<"$out" || fail "another tenant: $out"
ctl bob submit "$work/b.yaml" >/dev/null || fail "submit b"
[[ $(wait_for_job_to_end job-000002) == SUCCEEDED ]] || fail "bob's job did not succeed"
[[ $(wait_for_job_to_end job-000001) == SUCCEEDED ]] || fail "alice's job did not succeed"
for j in job-000001 job-000002; do "$bin/meridianctl" --json watch $j >"$work/$j-events.jsonl"; done
python3 "$(dirname "$0")/preemption_checks.py" "$work" job-000001 job-000002 || fail "reclaim"
[[ $(job_field job-000001 'j["spec"].get("tenant")') == lab-a ]] || fail "alice's job is not lab-a's"
[[ $(job_field job-000002 'j["spec"].get("tenant")') == lab-b ]] || fail "bob's job is not lab-b's"
[[ $(job_field job-000001 'j.get("restarts", 0)') == 0 ]] || fail "the reclaim was counted as a restart"
"$bin/meridianctl" list | grep -q "tenant lab-b" || fail "list does not show the tenant"
echo "ok: lab-b took back the GPU lab-a borrowed; over-quota and foreign-tenant submits refused"
