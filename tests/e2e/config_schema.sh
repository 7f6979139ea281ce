#!/usr/bin/env bash
# One configuration: --print-config prints YAML that --config loads back to
# the same options (awkward strings included); a job file's model, training
# and layout sections read as a trainer config; --global-batch sets the
# micro-batches per step from the layout and refuses what does not divide.
set -euo pipefail
bin=$1; work=$2; source_dir=$3
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*"; exit 1; }

"$bin/meridian-train" --config "$source_dir/examples/configs/demo.yaml" --steps 7 \
  --sample-prompt $'line one\n*not: a key' --print-config >"$work/a.yaml"
"$bin/meridian-train" --config "$work/a.yaml" --print-config >"$work/b.yaml"
cmp "$work/a.yaml" "$work/b.yaml" || { diff "$work/a.yaml" "$work/b.yaml"; fail "--print-config does not load back"; }
grep -q "^steps: 7$" "$work/a.yaml" || fail "the command line's --steps is not in the printed config"

"$bin/meridian-train" --config "$source_dir/examples/jobs/demo.yaml" --print-config >"$work/job.yaml"
for line in "model: d4" "vocab: 256" "dp: 2" "pp: 2" "microbatches: 2" "sample-prompt: 17+25="; do
  grep -qx "$line" "$work/job.yaml" || fail "the job file's '$line' did not come through"
done

"$bin/meridian-data" synth --out "$work/data" --train-bytes 50000 --val-bytes 5000 >/dev/null
common=(--n-layer 1 --n-embd 32 --n-head 2 --vocab 256 --max-seq 16 --seq 16 --batch 2 --steps 1 --threads 1
        --data "$work/data/train_*.bin")
"$bin/meridian-train" "${common[@]}" --global-batch 8 2>"$work/gb.log" || { cat "$work/gb.log"; fail "--global-batch 8"; }
grep -q "x 4 micro-batches" "$work/gb.log" || { cat "$work/gb.log"; fail "--global-batch 8 / batch 2 is not 4 micro-batches"; }
"$bin/meridian-train" "${common[@]}" --global-batch-tokens 96 2>"$work/gbt.log" || { cat "$work/gbt.log"; fail "tokens"; }
grep -q "x 3 micro-batches" "$work/gbt.log" || { cat "$work/gbt.log"; fail "96 tokens / (16 x 2) is not 3 micro-batches"; }
expect_error() {  # expect_error MESSAGE ARGS...
  local message=$1; shift
  if "$bin/meridian-train" "${common[@]}" "$@" 2>"$work/err.log"; then fail "$* was accepted"; fi
  grep -qF -- "$message" "$work/err.log" || { cat "$work/err.log"; fail "$*: expected '$message'"; }
}
expect_error "--global-batch 7 sequences is not a multiple of dp 1 x --batch 2 = 2" --global-batch 7
expect_error "is not a multiple of --seq 16" --global-batch-tokens 100
expect_error "give it or --grad-accum / --microbatches, not both" --global-batch 8 --grad-accum 2
echo "ok: print-config round trip, job file as config, --global-batch"
