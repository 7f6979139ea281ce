#!/usr/bin/env bash
# Corrupt inputs are refused with an error that names the file, and the
# program exits non-zero instead of crashing.
set -uo pipefail
bin=$1; work=$2
rm -rf "$work" && mkdir -p "$work"
"$bin/meridian-data" synth --out "$work/data" --train-bytes 50000 --val-bytes 5000 >/dev/null || exit 1
fail=0
expect_error() {  # expect_error DESCRIPTION PATTERN CMD...
  local what=$1 pattern=$2; shift 2
  out=$("$@" 2>&1); rc=$?
  if [[ $rc -eq 0 || $rc -gt 128 ]] || ! grep -q -- "$pattern" <<<"$out"; then
    echo "FAIL: $what (exit $rc): $out"; fail=1
  else
    echo "ok: $what -> $(grep -m1 -- "$pattern" <<<"$out")"
  fi
}
train=("$bin/meridian-train" --vocab 256 --n-layer 1 --n-embd 32 --n-head 2 --max-seq 16 --seq 16 --batch 2 --steps 1)
head -c 3000 "$work/data/train_000.bin" > "$work/truncated.bin"
expect_error "truncated shard" "truncated.bin" "${train[@]}" --data "$work/truncated.bin"
printf 'garbage' > "$work/garbage.bin"
expect_error "llm.c checkpoint that is not one" "garbage.bin" "${train[@]}" --data "$work/data/train_*.bin" --init-from "$work/garbage.bin"
expect_error "missing data" "nothing.bin" "${train[@]}" --data "$work/nothing.bin"
"${train[@]}" --data "$work/data/train_*.bin" --checkpoint-dir "$work/ckpt" 2>/dev/null || { echo "FAIL: training run"; exit 1; }
printf '\x01' | dd of="$work/ckpt/step_00000001/rank-00000.bin" bs=1 seek=100 conv=notrunc status=none
expect_error "corrupt checkpoint" "rank-00000.bin" "${train[@]}" --data "$work/data/train_*.bin" --checkpoint-dir "$work/ckpt" --resume --steps 2
# With older checkpoints to fall back on, a corrupted newest one is skipped
# with a warning naming its file, and training resumes from the one before.
"${train[@]}" --data "$work/data/train_*.bin" --checkpoint-dir "$work/ckpt3" --checkpoint-every 1 --steps 3 \
  2>/dev/null || { echo "FAIL: training run"; exit 1; }
printf '\x01' | dd of="$work/ckpt3/step_00000003/rank-00000.bin" bs=1 seek=100 conv=notrunc status=none
out=$("${train[@]}" --data "$work/data/train_*.bin" --checkpoint-dir "$work/ckpt3" --resume --steps 4 2>&1)
if [[ $? -eq 0 ]] && grep -q "skipping checkpoint .*step_00000003: .*step_00000003/rank-00000.bin" <<<"$out" &&
   grep -q "resumed from .*step_00000002 at step 2" <<<"$out"; then
  echo "ok: corrupted newest checkpoint skipped, resumed from step 2"
else
  echo "FAIL: corrupted newest checkpoint: $out"; fail=1
fi
# Hugging Face GPT-2 imports: a damaged safetensors file, a config Meridian cannot compute.
"${train[@]}" --data "$work/data/train_*.bin" --export-hf "$work/hf" 2>/dev/null || { echo "FAIL: HF export"; exit 1; }
mkdir -p "$work/hf_cut" && cp "$work/hf/config.json" "$work/hf_cut/"
head -c 3000 "$work/hf/model.safetensors" > "$work/hf_cut/model.safetensors"
expect_error "truncated safetensors file" "hf_cut/model.safetensors" "${train[@]}" --data "$work/data/train_*.bin" \
  --init-from "$work/hf_cut"
sed -i 's/"layer_norm_epsilon": 1e-05/"layer_norm_epsilon": 1e-06/' "$work/hf/config.json"
expect_error "HF config with another LayerNorm epsilon" "layer_norm_epsilon" "${train[@]}" \
  --data "$work/data/train_*.bin" --init-from "$work/hf"
printf 'steps: 3\nbatch: [1, 2\n' > "$work/bad.yaml"
expect_error "malformed YAML config" "bad.yaml: line 3" "${train[@]}" --config "$work/bad.yaml"
printf '? {a: 1}\n: 2\n' > "$work/map_key.yaml"
expect_error "YAML config with a map as a key" "map_key.yaml: line 1" "${train[@]}" --config "$work/map_key.yaml"
printf 'sample-prompt: {a: 1}\n' > "$work/map_value.yaml"
expect_error "YAML config with a map as a value" "map_value.yaml" "${train[@]}" --config "$work/map_value.yaml"
printf 'step: 3\n' > "$work/misspelt.yaml"
expect_error "misspelt config key" 'misspelt.yaml: unknown key "step" (did you mean "steps"?)' \
  "${train[@]}" --data "$work/data/train_*.bin" --config "$work/misspelt.yaml"
expect_error "negative batch" "batch" "${train[@]}" --batch -1
exit $fail
