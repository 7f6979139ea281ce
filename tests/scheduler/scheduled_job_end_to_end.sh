#!/usr/bin/env bash
# End to end: daemon + meridianctl + a 4-rank mpirun job (DP2 x PP2 across
# the built-in cluster's two data centers) that reaches SUCCEEDED with its
# progress recorded; `meridianctl logs -f` follows its output until it ends.
set -uo pipefail
bin=$1; work=$2
source "$(dirname "$0")/../common/daemon_lib.sh"
rm -rf "$work" && mkdir -p "$work"
"$bin/meridian-data" synth --out "$work/data" --train-bytes 100000 --val-bytes 10000 >/dev/null || exit 1
trap 'daemon_stop_all' EXIT
daemon_start "$work/daemon.log" --listen 127.0.0.1:0 --state "$work/state" --slots-per-dc 2 || exit 1
export MERIDIAN_SCHEDULER=127.0.0.1:$DAEMON_PORT
cat >"$work/job.yaml" <<YAML
name: e2e
model: {preset: d4, n_layer: 2, n_embd: 64, n_head: 2, vocab_size: 256, max_seq_len: 32}
training: {batch: 2, seq: 32, microbatches: 2, steps: 12, lr: 2.0e-3, data: "$work/data/train_*.bin",
           val_data: "$work/data/val_*.bin", sample: 20, threads: 1}
layout: {dp: 2, pp: 2}
YAML
"$bin/meridianctl" plan "$work/job.yaml" || { cat "$work/daemon.log"; exit 1; }
"$bin/meridianctl" submit "$work/job.yaml" || { cat "$work/daemon.log"; exit 1; }
"$bin/meridianctl" logs -f job-000001 >"$work/follow.log" 2>&1 &
follower=$!
"$bin/meridianctl" watch job-000001 | tee "$work/watch.log"
rc=${PIPESTATUS[0]}
"$bin/meridianctl" get job-000001
if [[ $rc -ne 0 ]]; then
  echo "FAIL: watch exited $rc"; "$bin/meridianctl" logs job-000001 | tail -30; cat "$work/daemon.log"; exit 1
fi
state=$("$bin/meridianctl" --json get job-000001)
grep -q '"state":"SUCCEEDED"' <<<"$state" || { echo "FAIL: $state"; exit 1; }
grep -q '"step":12' <<<"$state" || { echo "FAIL: progress not recorded: $state"; exit 1; }
grep -q "step 12 " "$work/watch.log" || { echo "FAIL: watch did not stream progress"; exit 1; }
# The placement spans both data centers, one replica in each.
"$bin/meridianctl" --json get job-000001 | python3 -c '
import json, sys
p = json.load(sys.stdin)["placement"]
dcs = {r["data_center"] for r in p["ranks"]}
assert len(dcs) == 2, dcs
for d in range(2):
    assert len({r["data_center"] for r in p["ranks"] if r.get("dp_index", 0) == d}) == 1, "a replica straddles data centers"
print("placement ok:", sorted(dcs), p["dp_sync"])'
# The follower ends by itself once the job has, having printed the whole
# log (the same bytes a plain `logs` prints now), and --tail is its end.
for _ in $(seq 100); do kill -0 $follower 2>/dev/null || break; sleep 0.1; done
kill -0 $follower 2>/dev/null && { echo "FAIL: logs -f still running after the job ended"; exit 1; }
wait $follower || { echo "FAIL: logs -f exited $?"; cat "$work/follow.log"; exit 1; }
"$bin/meridianctl" logs job-000001 >"$work/whole.log" || exit 1
cmp "$work/follow.log" "$work/whole.log" || { echo "FAIL: logs -f and logs differ"; exit 1; }
grep -q "sample" "$work/follow.log" || { echo "FAIL: the followed log lacks the final sample"; cat "$work/follow.log"; exit 1; }
"$bin/meridianctl" logs --tail 100 job-000001 >"$work/tail.log" || exit 1
[[ $(stat -c %s "$work/tail.log") == 100 && "$(tail -c 100 "$work/whole.log" | md5sum)" == "$(md5sum <"$work/tail.log")" ]] ||
  { echo "FAIL: --tail 100 is not the log's last 100 bytes"; exit 1; }
"$bin/meridianctl" logs job-999999 >/dev/null 2>&1 && { echo "FAIL: logs of an unknown job succeeded"; exit 1; }
echo "ok: scheduled DP2xPP2 job succeeded; its log followed to the end"
