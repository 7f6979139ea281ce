#!/usr/bin/env bash
# A DiLoCo job over an SSH data center (dc-a) and the Slurm one (dc-s) of
# the multi-host bed, as one world per data center (dc_worlds: true): dc-a's
# world is an mpirun over SSH, dc-s's a Slurm job (sbatch, srun), both under
# the job's meridian-worlds; their leaders exchange the outer rounds over
# the bed's network with the job's token. Each world's ranks run where the
# placement put them, the world that starts first trains alone until the
# other (a Slurm job waits for Slurm's scheduler) joins it, their rounds
# then combine both worlds, and cancelling the job stops both worlds, the
# Slurm job included.
# Skips (77) where namespaces cannot be made.
set -uo pipefail
src=$1; bin=$2; work=$3
source "$src/tests/testbed/multihost_job_lib.sh"
cluster_up
# Six ranks span dc-a (2 one-slot hosts) and dc-s (2 two-slot hosts).
cat >"$work/job.yaml" <<YAML
name: worlds-ssh-slurm
model: {preset: d4, n_layer: 2, n_embd: 64, n_head: 2, vocab_size: 256, max_seq_len: 32}
training: {batch: 2, seq: 32, steps: 1000000, lr: 2.0e-3, data: "$work/data/train_*.bin", threads: 1, diloco_h: 100}
layout: {dp: 6, pp: 1, dp_sync: diloco}
data_centers: [dc-a, dc-s]
dc_worlds: true
YAML
ctl submit "$work/job.yaml" || fail "submit"
wait_state job-000001 RUNNING >/dev/null
dir=$MH_DIR/jobs/jobs/job-000001
# Both worlds training, and rounds that held both (each world's metrics).
together() {
  python3 - "$dir/metrics.dc-a.jsonl" "$dir/metrics.dc-s.jsonl" <<'PY'
import json, sys
out = []
for path in sys.argv[1:]:
    try:
        rows = [json.loads(l) for l in open(path) if '"loss"' in l and l.endswith("}\n")]
    except (OSError, ValueError):
        sys.exit(1)
    both = sum(1 for r in rows if r["round_worlds"] == 2)
    out.append(f"{path.rsplit('/', 1)[1]}: at step {rows[-1]['step'] if rows else 0}, {both} steps after rounds with both worlds")
    if both < 10:
        sys.exit(1)
print("; ".join(out))
PY
}
deadline=$((SECONDS + 120))
while ((SECONDS < deadline)); do together >"$work/together" 2>/dev/null && break; sleep 1; done
together >"$work/together" || fail "the two worlds never trained together"
cat "$work/together"
# Each world numbers its ranks from 0 (its own MPI world): compare hosts.
seen=$(ranks_where job-000001 | awk '{print $2}' | sort)
placed=$(placed_hosts job-000001 | awk '{print $2}' | sort)
[[ $seen == "$placed" ]] || fail "ranks run on $(echo $seen), the placement says $(echo $placed)"
echo "ranks on their placed hosts: $(echo $seen)"
grep -q "2 worlds started" "$dir/output.log" || fail "meridian-worlds did not start two worlds"
slurm() { SLURM_CONF=$MH_DIR/slurm.conf ip netns exec "$MH_TAG-hub" "$@"; }
[[ -n $(slurm squeue -h -n meridian-job-000001-a1 -o %i) ]] || fail "no Slurm job for dc-s's world"
ctl cancel job-000001 || fail "cancel"
state=$(wait_state job-000001 CANCELLED FAILED SUCCEEDED)
[[ $state == CANCELLED ]] || fail "job-000001 ended $state"
for _ in $(seq 100); do
  left=$(ranks_where job-000001; slurm squeue -h -o '%i %j %T'; mh_pgrep hub "meridian-worlds")
  [[ -z $left ]] && break
  sleep 0.1
done
[[ -z $left ]] || fail "left behind after cancel: $left"
echo "ok: one job over an SSH and a Slurm data center, one world each, trained together; cancel stopped both"
