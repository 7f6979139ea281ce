#!/usr/bin/env bash
# What scripts rely on from every program's command line: --json anywhere
# on meridianctl's line, with every field (zeros too) and 64-bit numbers as
# numbers; exit codes 0 done (--help too), 1 failed, 2 bad usage, from
# every program; --version on every program; meridianctl's bash completion.
set -uo pipefail
bin=$1; work=$2
source "$(dirname "$0")/../common/daemon_lib.sh"
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*"; exit 1; }
trap 'daemon_stop_all' EXIT
daemon_start "$work/daemon.log" --listen 127.0.0.1:0 --dry-run --state "$work/state" || fail "the daemon did not come up"
export MERIDIAN_SCHEDULER=127.0.0.1:$DAEMON_PORT

# exit_code CODE CMD...: CMD exits with CODE.
exit_code() {
  local want=$1; shift
  "$@" >"$work/out" 2>&1
  local got=$?
  [[ $got -eq $want ]] || { cat "$work/out"; fail "$* exited $got, expected $want"; }
}
exit_code 0 "$bin/meridianctl" --help
exit_code 2 "$bin/meridianctl"
exit_code 2 "$bin/meridianctl" --no-such-option pools
exit_code 2 "$bin/meridianctl" get
exit_code 1 "$bin/meridianctl" get job-999999
for program in meridianctl meridian-scheduler meridian-train meridian-data meridian-bench; do
  exit_code 0 "$bin/$program" --help
  exit_code 2 "$bin/$program" --no-such-option
  # --version: the program, the project's version and the commit it was built from.
  exit_code 0 "$bin/$program" --version
  grep -Eq "^$program [0-9]+\.[0-9]+\.[0-9]+ \(commit [0-9a-z-]+\)$" "$work/out" || { cat "$work/out"; fail "$program --version"; }
done

cat >"$work/job.yaml" <<YAML
name: cli
model: {preset: d4, vocab_size: 256}
training: {batch: 1, seq: 16, steps: 1, data: none}
layout: {dp: 1, pp: 1}
YAML
"$bin/meridianctl" submit "$work/job.yaml" --json >"$work/submitted.json" || fail "submit --json after the verb"
"$bin/meridianctl" get job-000001 --json >"$work/job.json" || fail "get --json after the id"
python3 - "$work/submitted.json" "$work/job.json" <<'PY' || fail "the JSON is not what scripts expect"
import json, sys
submitted = json.load(open(sys.argv[1]))
job = json.load(open(sys.argv[2]))
assert submitted["id"] == job["id"] == "job-000001", (submitted, job)
for field in ("exit_code", "restarts", "message", "owner"):   # zeros and empty strings are there
    assert field in job, field
assert job["exit_code"] == 0 and job["restarts"] == 0
assert isinstance(job["spec"]["training"]["steps"], int), job["spec"]["training"]  # int64 as a number
assert isinstance(job["submitted_unix_s"], float)
assert job["state"] in ("PLACED", "RUNNING", "QUEUED", "SUCCEEDED"), job["state"]
print("json ok:", job["state"])
PY
# bash completion: verbs, the verb's options, and the daemon's job ids.
complete_line() {  # the words of a command line; prints the completions of its last word
  PATH="$bin:$PATH" bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _meridianctl; echo "${COMPREPLY[*]}"' \
    _ "$(dirname "$0")/../../scripts/completion/meridianctl.bash" "$@"
}
[[ $(complete_line meridianctl su) == submit ]] || fail "completion of 'su': $(complete_line meridianctl su)"
[[ " $(complete_line meridianctl logs --f) " == *" --follow "* ]] || fail "completion of 'logs --f'"
[[ " $(complete_line meridianctl get job-) " == *" job-000001 "* ]] || fail "completion of job ids: $(complete_line meridianctl get job-)"
echo "ok: exit codes 0/1/2 everywhere, --json anywhere with every field, completion"
