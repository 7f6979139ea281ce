#!/usr/bin/env bash
# Real text in, readable text out: a JSON-lines corpus encoded with GPT-2's
# tokenizer, a model with GPT-2's vocabulary trained on it, its sample
# decoded from the prompt on, and the tokenizer recorded in the checkpoint
# so that a resumed run decodes with it even when the vocabulary alone
# would not say which. Then the README's path: a Hugging Face GPT-2
# directory in (--init-from), trained on the corpus, sampled as text, and a
# Hugging Face directory out (--export-hf). Skips (77) without GPT-2's
# vocabulary files.
set -euo pipefail
bin=$1; work=$2
rm -rf "$work" && mkdir -p "$work"
vocab=${MERIDIAN_GPT2_VOCAB_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/meridian/gpt2}
[[ -f $vocab/encoder.json && -f $vocab/vocab.bpe ]] || { echo "no GPT-2 vocabulary in $vocab: skipped"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

python3 - "$work/corpus.jsonl" <<'PY'
import json, sys
lines = ["The quick brown fox jumps over the lazy dog, again and again.",
         "Über den Wolken muss die Freiheit wohl grenzenlos sein.",
         "Numbers like 1234 and 56.78 appear in text; so do emoji 🎉 and URLs https://example.org.",
         "It's a truth universally acknowledged that they'll read what we've written."]
with open(sys.argv[1], "w") as f:
    for i in range(200):
        f.write(json.dumps({"id": i, "text": " ".join(lines[(i + k) % 4] for k in range(3))}) + "\n")
PY
"$bin/meridian-data" encode "$work/corpus.jsonl" --out "$work/shards" --tokenizer gpt2 --val-fraction 0.1 \
  --shard-tokens 20000 >"$work/encode.log" || { cat "$work/encode.log"; fail "encode"; }

common=(--n-layer 1 --n-embd 32 --n-head 2 --max-seq 32 --batch 2 --seq 32 --threads 2 --lr 1e-3
        --data "$work/shards/train_*.bin")
"$bin/meridian-train" "${common[@]}" --vocab 50257 --steps 3 --val-data "$work/shards/val_*.bin" \
  --checkpoint-dir "$work/gpt2-ckpt" --checkpoint-format whole --sample 8 --sample-prompt "The quick brown" \
  >"$work/gpt2.out" 2>"$work/gpt2.log" || { cat "$work/gpt2.log"; fail "training on GPT-2 tokens"; }
grep -a -A1 -- "---- sample" "$work/gpt2.out" | tail -1 | grep -aq "^The quick brown" ||
  { cat "$work/gpt2.out"; fail "the sample does not start with the decoded prompt"; }
grep -rq '"tokenizer": *"gpt2"' "$work/gpt2-ckpt" || fail "the checkpoint does not record the gpt2 tokenizer"

# A Hugging Face directory (written by the same program, so no download)
# in, fine-tuned on the corpus, sampled, and out again.
"$bin/meridian-train" "${common[@]}" --vocab 50257 --steps 1 --export-hf "$work/hf-in" 2>/dev/null || fail "export-hf"
"$bin/meridian-train" --init-from "$work/hf-in" --data "$work/shards/train_*.bin" --batch 2 --seq 32 --threads 2 \
  --steps 2 --lr 1e-4 --sample 6 --sample-prompt "It's a truth" --export-hf "$work/hf-out" \
  >"$work/hf.out" 2>"$work/hf.log" || { cat "$work/hf.log"; fail "fine-tuning a Hugging Face directory"; }
grep -a -A1 -- "---- sample" "$work/hf.out" | tail -1 | grep -aq "^It's a truth" || { cat "$work/hf.out"; fail "hf sample"; }
[[ -s $work/hf-out/model.safetensors && -s $work/hf-out/config.json ]] || fail "no Hugging Face directory written"

# A byte-level model with a larger vocabulary: only the recorded tokenizer
# says how to decode it after a resume.
"$bin/meridian-data" encode "$work/corpus.jsonl" --out "$work/byte-shards" >/dev/null
bytes=(--n-layer 1 --n-embd 32 --n-head 2 --max-seq 32 --batch 2 --seq 32 --threads 2 --vocab 300
       --data "$work/byte-shards/train_*.bin" --checkpoint-dir "$work/bytes-ckpt")
"$bin/meridian-train" "${bytes[@]}" --steps 2 --tokenizer bytes 2>"$work/bytes.log" || { cat "$work/bytes.log"; fail "bytes run"; }
"$bin/meridian-train" "${bytes[@]}" --steps 3 --resume --sample 5 --sample-prompt "Numbers" >"$work/resumed.out" \
  2>"$work/resumed.log" || { cat "$work/resumed.log"; fail "resumed bytes run"; }
grep -a -A1 -- "---- sample" "$work/resumed.out" | tail -1 | grep -aq "^Numbers" ||
  { cat "$work/resumed.out"; fail "the resumed run did not decode with the recorded bytes tokenizer"; }

# A tokenizer that does not fit the model is refused, naming both sizes.
if "$bin/meridian-train" "${bytes[@]}" --steps 1 --tokenizer gpt2 2>"$work/misfit.log"; then fail "gpt2 on a 300-token model ran"; fi
grep -q "50257 tokens do not fit the model's vocabulary of 300" "$work/misfit.log" || { cat "$work/misfit.log"; fail "misfit message"; }
echo "ok: GPT-2 text in, decoded sample out, tokenizer recorded and used on resume"
