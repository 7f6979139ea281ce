#!/usr/bin/env bash
# The main job: starts the scheduler daemon (unless one is already up),
# submits a small GPT-2 as DP2 x PP2 across the built-in cluster's two data
# centers, shows its placement, streams its progress until it succeeds, and
# prints the sample it wrote. Installs, builds and makes its data as needed.
# A daemon it starts serves the dashboard on $MERIDIAN_HTTP (default
# 127.0.0.1:8080): open the job's page it prints to watch the loss fall.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh >/dev/null
[[ -x build/bin/meridian-scheduler && -x build/bin/meridian-train ]] || bash scripts/build.sh
[[ -f data/synth/train_000.bin ]] || build/bin/meridian-data synth --out data/synth
export MERIDIAN_SCHEDULER=${MERIDIAN_SCHEDULER:-127.0.0.1:50051}
http=${MERIDIAN_HTTP:-127.0.0.1:8080}
ctl() { build/bin/meridianctl "$@"; }

started=""
if ! ctl pools >/dev/null 2>&1; then
  mkdir -p runs
  build/bin/meridian-scheduler --listen "$MERIDIAN_SCHEDULER" --http "$http" --state runs/scheduler-state \
    >runs/scheduler.log 2>&1 &
  started=$!
  trap '[[ -n "$started" ]] && kill "$started" 2>/dev/null && wait "$started" 2>/dev/null' EXIT
  for _ in $(seq 100); do ctl pools >/dev/null 2>&1 && break; sleep 0.1; done
  echo "started meridian-scheduler (pid $started, log runs/scheduler.log)"
fi
ctl pools
echo
ctl plan examples/jobs/demo.yaml
echo
job=$(ctl --json submit examples/jobs/demo.yaml | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
echo "submitted $job"
[[ -n "$started" ]] && echo "watch it in a browser: http://$http/job/$job"
ctl watch "$job" | awk 'NR <= 6 || /eval|SUCCEEDED|FAILED|CANCELLED|PLACED|RUNNING/ || NR % 20 == 0'
state=$(ctl --json get "$job" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
ctl logs "$job" | sed -n '/^---- sample/,/^---- end of sample/p'
python3 - "runs/scheduler-state/jobs/$job/metrics.jsonl" "$job" <<'PY' || true
import json, os, sys
path = sys.argv[1]
if os.path.exists(path):
    rows = [json.loads(l) for l in open(path) if '"loss"' in l]
    print(f"{sys.argv[2]}: loss {rows[0]['loss']:.3f} at step {rows[0]['step']} -> {rows[-1]['loss']:.3f} at step {rows[-1]['step']}")
PY
echo "job $job: $state"
[[ "$state" == SUCCEEDED ]]
