#!/usr/bin/env bash
# A training rank that stalls makes the others' collective trip the
# watchdog: the job exits non-zero, naming the operation, group and step.
set -uo pipefail
mpirun_line=$1; bin=$2; work=$3
rm -rf "$work" && mkdir -p "$work"
"$bin/meridian-data" synth --out "$work/data" --train-bytes 100000 --val-bytes 10000 >/dev/null || exit 1
start=$(date +%s)
out=$(MERIDIAN_FAULT_STALL=1:3 $mpirun_line -x MERIDIAN_FAULT_STALL -np 2 "$bin/meridian-train" --n-layer 2 \
  --n-embd 32 --n-head 2 --vocab 256 --max-seq 16 --seq 16 --batch 2 --steps 10 --threads 1 --dp 2 \
  --data "$work/data/train_*.bin" --comm-timeout 3 2>&1); rc=$?
elapsed=$(( $(date +%s) - start ))
echo "$out" | grep -E "watchdog|FAULT"
[[ $rc -ne 0 ]] || { echo "FAIL: job exited 0"; exit 1; }
(( elapsed < 60 )) || { echo "FAIL: took ${elapsed}s"; exit 1; }
for want in "watchdog: " "group dp\[stage 0\]" "step 3"; do
  grep -q "$want" <<<"$out" || { echo "FAIL: no '$want' in:"; echo "$out"; exit 1; }
done
echo "ok: exit $rc after ${elapsed}s"
