#!/usr/bin/env bash
# A job that lets the placement tune DiLoCo (layout.tune_diloco) on the
# built-in cluster, whose two data centers are joined by 1 Gbit/s and 20 ms:
# `meridianctl plan` shows the settings it chose for that link, the ranks
# run them instead of their own (each round sends the WAN bytes the chosen
# mode's row priced, not the plain exchange's), and the job SUCCEEDS.
set -uo pipefail
bin=$1; work=$2
source "$(dirname "$0")/../common/daemon_lib.sh"
rm -rf "$work" && mkdir -p "$work"
"$bin/meridian-data" synth --out "$work/data" --train-bytes 200000 --val-bytes 10000 >/dev/null || exit 1
trap 'daemon_stop_all' EXIT
fail() { echo "FAIL: $*"; "$bin/meridianctl" get job-000001; tail -30 "$work/state/jobs/job-000001/output.log"; tail -20 "$work/daemon.log"; exit 1; }
daemon_start "$work/daemon.log" --listen 127.0.0.1:0 --state "$work/state" --slots-per-dc 1 ||
  fail "the daemon did not come up"
export MERIDIAN_SCHEDULER=127.0.0.1:$DAEMON_PORT
cat >"$work/job.yaml" <<YAML
name: tuned-diloco
model: {preset: d4, n_layer: 2, n_embd: 96, n_head: 2, vocab_size: 256, max_seq_len: 64}
training: {batch: 8, seq: 64, steps: 40, lr: 2.0e-3, data: "$work/data/train_*.bin", threads: 1,
           extra_args: ["--diloco-h", "10"]}
layout: {dp: 2, pp: 1, tune_diloco: true}
YAML
"$bin/meridianctl" plan "$work/job.yaml" | tee "$work/plan.txt"
grep -q "^tuned for these links" "$work/plan.txt" || fail "plan does not show the tuned settings"
"$bin/meridianctl" --json plan "$work/job.yaml" >"$work/plan.json" || fail "plan --json"
"$bin/meridianctl" submit "$work/job.yaml" >/dev/null || fail "submit"
state=$(wait_for_job_to_end job-000001)
[[ $state == SUCCEEDED ]] || fail "the job ended $state"
python3 - "$work/plan.json" "$work/state/jobs/job-000001/metrics.jsonl" <<'PY' || fail "the ranks did not run the tuned settings"
import json, sys
plan = json.load(open(sys.argv[1]))["placement"]
tuned = plan["tuned_diloco"]
chosen = [m for m in plan["modes"] if m.get("chosen")]
own = [m for m in plan["modes"] if m["mode"] == "diloco h10"][0]
ok = len(chosen) == 1 and chosen[0]["mode"] != "diloco h10" and tuned.get("outer_compress", "none") != "none"
print(("ok   " if ok else "FAIL ") + f"plan chose {chosen[0]['mode'] if chosen else None} over {own['mode']}: {tuned}")
rounds = [r["bytes_inter_dc"] for r in map(json.loads, open(sys.argv[2])) if r.get("bytes_inter_dc")]
want = chosen[0]["wan_bytes_per_step"] * 10 if chosen else -1
sent = bool(rounds) and all(abs(b - want) <= 1e-6 * want for b in rounds)
print(("ok   " if sent else "FAIL ") + f"{len(rounds)} rounds sent {sorted(set(rounds))} WAN bytes each; "
      f"the chosen row prices {want:.0f}, the job's own {own['wan_bytes_per_step'] * 10:.0f}")
sys.exit(0 if ok and sent else 1)
PY
echo "ok: the placement tuned DiLoCo for the link, and the ranks ran what it chose"
