#!/usr/bin/env bash
# The main job: trains a small GPT-2 on the built-in synthetic corpus and
# prints a sample. Installs, builds and makes its data as needed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh >/dev/null
[[ -x build/bin/meridian-train ]] || bash scripts/build.sh
[[ -f data/synth/train_000.bin ]] || build/bin/meridian-data synth --out data/synth
rm -rf runs/demo && mkdir -p runs/demo
build/bin/meridian-train --config examples/configs/demo.yaml "$@"
python3 - runs/demo/metrics.jsonl <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
train = [r for r in rows if "loss" in r]
evals = [r for r in rows if "eval_loss" in r]
first, last = train[0]["loss"], train[-1]["loss"]
print(f"loss: step {train[0]['step']} {first:.3f} -> step {train[-1]['step']} {last:.3f}"
      f" ({last / first:.0%} of the start)" + (f"; eval loss {evals[-1]['eval_loss']:.3f}" if evals else ""))
PY
