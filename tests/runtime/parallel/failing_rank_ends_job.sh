#!/usr/bin/env bash
# A rank that fails with an error ends the whole job at once: its peers do
# not wait in their next collective for the watchdog (set to 300 s here).
set -uo pipefail
mpirun_line=$1; bin=$2; work=$3
rm -rf "$work" && mkdir -p "$work"
"$bin/meridian-data" synth --out "$work/data" --train-bytes 100000 --val-bytes 10000 >/dev/null || exit 1
start=$(date +%s)
out=$(MERIDIAN_FAULT_FAIL=1:3 timeout 100 $mpirun_line -x MERIDIAN_FAULT_FAIL -np 4 "$bin/meridian-train" --n-layer 2 \
  --n-embd 32 --n-head 2 --vocab 256 --max-seq 16 --seq 16 --batch 2 --steps 10 --threads 1 --dp 2 --pp 2 \
  --data "$work/data/train_*.bin" --comm-timeout 300 2>&1); rc=$?
elapsed=$(( $(date +%s) - start ))
[[ $rc -eq 124 ]] && { echo "FAIL: the job hung after rank 1 failed"; echo "$out" | tail -20; exit 1; }
[[ $rc -ne 0 ]] || { echo "FAIL: job exited 0"; exit 1; }
grep -q "error \[rank 1\]: .*MERIDIAN_FAULT_FAIL: rank 1 fails at step 3" <<<"$out" ||
  { echo "FAIL: rank 1's error is not in the output:"; echo "$out" | tail -20; exit 1; }
grep -q "watchdog" <<<"$out" && { echo "FAIL: the watchdog ended the job, not the failing rank"; exit 1; }
echo "ok: exit $rc after ${elapsed}s, the failing rank's error first"
