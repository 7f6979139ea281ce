#!/usr/bin/env bash
# A stalled rank must make the job exit non-zero within the timeout, with a
# message naming the operation, the group, its ranks and the step.
set -uo pipefail
mpirun_cmd=$1; probe=$2
start=$(date +%s)
out=$($mpirun_cmd -np 3 "$probe" 2>&1); rc=$?
elapsed=$(( $(date +%s) - start ))
echo "$out" | grep watchdog
if [[ $rc -eq 0 ]]; then echo "FAIL: job exited 0"; exit 1; fi
if (( elapsed > 25 )); then echo "FAIL: took ${elapsed}s, the watchdog did not fire"; exit 1; fi
for want in "watchdog: all-reduce" "group world" "world ranks 0 1 2" "step 7, micro-batch 1"; do
  grep -q "$want" <<<"$out" || { echo "FAIL: message lacks '$want'"; echo "$out"; exit 1; }
done
echo "ok: exit $rc after ${elapsed}s"
