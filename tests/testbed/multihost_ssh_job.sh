#!/usr/bin/env bash
# A DP2 x PP2 job submitted with meridianctl to a daemon whose cluster is
# real hosts (network namespaces with sshd) in two data centers, launched
# by mpirun over SSH: every rank runs in the host namespace its placement
# names, the job SUCCEEDS, and its losses equal those of the same job on
# one machine. Skips (77) where namespaces cannot be made.
set -uo pipefail
src=$1; bin=$2; work=$3
source "$src/tests/testbed/multihost_job_lib.sh"
cluster_up
ctl pools
job_file across-dcs 12 "dc-b, dc-a" >"$work/job.yaml"
ctl submit "$work/job.yaml" || fail "submit"
wait_state job-000001 RUNNING SUCCEEDED FAILED >/dev/null
check_ranks_on_placed_hosts job-000001
# Both data centers hold ranks, and no rank is on the daemon's host.
[[ $(cut -d' ' -f2 "$work/placed" | sort -u | wc -l) -eq 4 ]] || fail "expected 4 hosts in the placement"
state=$(wait_state job-000001 SUCCEEDED FAILED CANCELLED)
[[ $state == SUCCEEDED ]] || fail "job-000001 ended $state"
echo "submit to first step: $(seconds_to_first_step job-000001) s"
metrics=$MH_DIR/jobs/jobs/job-000001/metrics.jsonl
run_on_one_host
same_losses "$metrics" "$work/one-host/metrics.jsonl"
losses "$metrics" | tail -2
echo "ok: DP2xPP2 over ssh on 4 hosts in 2 data centers, ranks where placed, losses equal to one host"
