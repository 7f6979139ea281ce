#!/usr/bin/env bash
# The same DP2 x PP2 job through the data center that runs Slurm: sbatch
# with the placement's nodes, ranks started by srun (pmix) on the hosts the
# placement names; it SUCCEEDS with the losses of the one-host run. Then a
# long job is cancelled with meridianctl: no rank, no sbatch and no Slurm
# job is left behind. Skips (77) where namespaces cannot be made.
set -uo pipefail
src=$1; bin=$2; work=$3
source "$src/tests/testbed/multihost_job_lib.sh"
cluster_up
slurm() { SLURM_CONF=$MH_DIR/slurm.conf ip netns exec "$MH_TAG-hub" "$@"; }
job_file in-slurm 12 dc-s >"$work/job.yaml"
ctl submit "$work/job.yaml" || fail "submit"
wait_state job-000001 RUNNING SUCCEEDED FAILED >/dev/null
check_ranks_on_placed_hosts job-000001
state=$(wait_state job-000001 SUCCEEDED FAILED CANCELLED)
[[ $state == SUCCEEDED ]] || fail "job-000001 ended $state"
echo "submit to first step: $(seconds_to_first_step job-000001) s"
slurm sacct >/dev/null 2>&1 || true
run_on_one_host
same_losses "$MH_DIR/jobs/jobs/job-000001/metrics.jsonl" "$work/one-host/metrics.jsonl"

# Cancel a running Slurm job.
job_file long 1000000 dc-s >"$work/long.yaml"
ctl submit "$work/long.yaml" || fail "submit long"
wait_state job-000002 RUNNING >/dev/null
for _ in $(seq 300); do [[ $(ranks_where job-000002 | wc -l) -ge 4 ]] && break; sleep 0.1; done
[[ -n $(slurm squeue -h -n meridian-job-000002-a1 -o %i) ]] || fail "no Slurm job for job-000002's first attempt"
ctl cancel job-000002 || fail "cancel"
state=$(wait_state job-000002 CANCELLED FAILED SUCCEEDED)
[[ $state == CANCELLED ]] || fail "job-000002 ended $state"
for _ in $(seq 100); do
  left=$(ranks_where job-000002; slurm squeue -h -o '%i %j %T'; mh_pgrep hub "sbatch.*meridian-job-000002")
  [[ -z $left ]] && break
  sleep 0.1
done
[[ -z $left ]] || fail "left behind after cancel: $left"
echo "ok: DP2xPP2 through Slurm succeeded with the one-host losses; cancel left nothing behind"
