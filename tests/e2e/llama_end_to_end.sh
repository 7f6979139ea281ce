#!/usr/bin/env bash
# The README's Llama path, end to end: a JSON-lines corpus in many scripts
# encoded with the Llama 3 tokenizer (version 2 shards: ids above 65,535),
# a Hugging Face Llama directory (grouped-query attention, untied head)
# fine-tuned on it under the scheduler as DP2 x PP2 over two data centers,
# its sample read back as text, and the job's last checkpoint exported as a
# Hugging Face directory that evaluates to the job's own last eval loss.
# Skips (77) without Llama 3's vocabulary.
set -uo pipefail
bin=$1; work=$2
source "$(dirname "$0")/../common/daemon_lib.sh"
rm -rf "$work" && mkdir -p "$work"
vocab=${MERIDIAN_LLAMA3_VOCAB_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/meridian/llama3}
[[ -f $vocab/tokenizer.model ]] || { echo "no Llama 3 vocabulary in $vocab: skipped"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

python3 - "$work/corpus.jsonl" <<'PY'
import json, sys
lines = ["The quick brown fox jumps over the lazy dog, again and again.",
         "Über den Wolken muss die Freiheit wohl grenzenlos sein.",
         "Съешь же ещё этих мягких французских булок, да выпей чаю.",
         "敏捷的棕色狐狸跳过了懒狗。 素早い茶色の狐がのろまな犬を飛び越える。",
         "def add(a, b):\n    return a + b  # 1234567 🎉"]
with open(sys.argv[1], "w") as f:
    for i in range(300):
        f.write(json.dumps({"id": i, "text": " ".join(lines[(i + k) % 5] for k in range(3))}) + "\n")
PY
"$bin/meridian-data" encode "$work/corpus.jsonl" --out "$work/shards" --tokenizer llama3 --vocab-dir "$vocab" \
  --val-fraction 0.1 --shard-tokens 20000 >"$work/encode.log" 2>&1 || { cat "$work/encode.log"; fail "encode"; }
"$bin/meridian-data" inspect "$work/shards/train_000.bin" 2>&1 | grep -Eq "^version: +2$" ||
  { "$bin/meridian-data" inspect "$work/shards/train_000.bin"; fail "Llama 3 tokens are not in version 2 shards"; }

# A Hugging Face Llama directory (written by this program, so no download).
model=(--model llama-tiny --n-layer 2 --n-embd 64 --n-head 4 --n-kv-head 2 --ffn-hidden 128 --max-seq 64 --vocab 128256
       --tie-embeddings false)
"$bin/meridian-train" "${model[@]}" --data "$work/shards/train_*.bin" --batch 2 --seq 32 --steps 1 --threads 2 \
  --export-hf "$work/hf-in" >"$work/hf-in.log" 2>&1 || { cat "$work/hf-in.log"; fail "writing the Hugging Face model"; }
grep -q '"LlamaForCausalLM"' "$work/hf-in/config.json" || fail "hf-in is no LlamaForCausalLM"

# Fine-tune it under the scheduler, DP2 x PP2 over the built-in cluster's
# two data centers. The job's model fields describe the same model for
# placement; the ranks take it from --init-from.
trap 'daemon_stop_all' EXIT
daemon_start "$work/daemon.log" --listen 127.0.0.1:0 --state "$work/state" --slots-per-dc 2 || exit 1
export MERIDIAN_SCHEDULER=127.0.0.1:$DAEMON_PORT
cat >"$work/job.yaml" <<YAML
name: llama-e2e
model: {preset: llama-tiny, n_layer: 2, n_embd: 64, n_head: 4, n_kv_head: 2, ffn_hidden: 128, vocab_size: 128256,
        max_seq_len: 64, tie_embeddings: "false"}
training: {batch: 2, seq: 32, microbatches: 2, steps: 8, lr: 1.0e-3, data: "$work/shards/train_*.bin",
           val_data: "$work/shards/val_*.bin", sample: 12, sample_prompt: "Über den", threads: 1,
           extra_args: [--init-from, "$work/hf-in", --tokenizer, llama3, --vocab-dir, "$vocab", --eval-batches, 4]}
layout: {dp: 2, pp: 2}
YAML
"$bin/meridianctl" plan "$work/job.yaml" >"$work/plan.log" 2>&1 || { cat "$work/plan.log"; fail "plan"; }
"$bin/meridianctl" submit "$work/job.yaml" >/dev/null || { cat "$work/daemon.log"; fail "submit"; }
"$bin/meridianctl" watch job-000001 >"$work/watch.log" 2>&1
state=$("$bin/meridianctl" --json get job-000001)
grep -q '"state":"SUCCEEDED"' <<<"$state" ||
  { "$bin/meridianctl" logs job-000001 | tail -30; fail "the job did not succeed: $state"; }
"$bin/meridianctl" logs job-000001 >"$work/job.log"
grep -a -A1 -- "---- sample" "$work/job.log" | tail -1 | grep -aq "^Über den" ||
  { tail -20 "$work/job.log"; fail "the sample does not start with the decoded prompt"; }

# The job's last checkpoint out as a Hugging Face directory (no more steps).
job_dir=$work/state/jobs/job-000001
"$bin/meridian-train" --init-from "$work/hf-in" --checkpoint-dir "$job_dir/checkpoints" --resume --steps 8 \
  --data "$work/shards/train_*.bin" --batch 2 --seq 32 --threads 2 --export-hf "$work/hf-out" \
  >"$work/export.log" 2>&1 || { cat "$work/export.log"; fail "exporting the job's checkpoint"; }
[[ -s $work/hf-out/model.safetensors && -s $work/hf-out/config.json ]] || fail "no Hugging Face directory written"
cmp -s "$work/hf-in/model.safetensors" "$work/hf-out/model.safetensors" && fail "the exported weights did not change"
# The exported directory evaluates as the checkpoint itself does.
evaluate() {
  local name=$1; shift
  "$bin/meridian-train" "$@" --eval-only --val-data "$work/shards/val_*.bin" --batch 2 --seq 32 --eval-batches 8 \
    --threads 2 --metrics-out "$work/$name.jsonl" >"$work/$name.log" 2>&1 || { cat "$work/$name.log"; fail "eval $name"; }
}
evaluate eval_export --init-from "$work/hf-out"
evaluate eval_checkpoint --init-from "$work/hf-in" --checkpoint-dir "$job_dir/checkpoints" --resume
evaluate eval_start --init-from "$work/hf-in"
python3 - "$work" <<'PY' || fail "the exported model is not the job's"
import json, sys
def loss(name):
    return [r["eval_loss"] for r in map(json.loads, open(f"{sys.argv[1]}/{name}.jsonl")) if "eval_loss" in r][-1]
exported, checkpoint, start = loss("eval_export"), loss("eval_checkpoint"), loss("eval_start")
print(f"eval loss: start {start:.6f}, job's checkpoint {checkpoint:.6f}, exported {exported:.6f}")
sys.exit(0 if abs(exported - checkpoint) <= 1e-5 * checkpoint and checkpoint < start else 1)
PY
echo "ok: Hugging Face Llama in, trained DP2 x PP2 under the scheduler on Llama 3 tokens, sampled, exported"
