#!/bin/sh
# meridian-data encode --tokenizer llama3, end to end: two JSON documents in,
# a version 2 shard out whose ids and decoded text inspect shows as
# <|begin_of_text|> doc <|end_of_text|> twice. Exit 77 (skip) without the
# Llama 3 vocabulary.
#   sh llama3_encode_cli.sh MERIDIAN_DATA WORKDIR
set -eu
bin=$1 dir=$2
vocab=${MERIDIAN_LLAMA3_VOCAB_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/meridian/llama3}
[ -f "$vocab/tokenizer.model" ] || { echo "no $vocab/tokenizer.model: skipped"; exit 77; }
rm -rf "$dir" && mkdir -p "$dir/in"
printf '{"text": "Hello world"}\n{"text": "Hi"}\n' > "$dir/in/a.jsonl"
"$bin" encode "$dir/in" --out "$dir/out" --tokenizer llama3 --val-fraction 0 > "$dir/log"
grep -q 'train with --vocab 128256' "$dir/log"
"$bin" inspect "$dir/out/train_000.bin" --tokenizer llama3 > "$dir/inspect"
cat "$dir/inspect"
grep -q '^version:    2$' "$dir/inspect"
grep -q '^file bytes: 1052$' "$dir/inspect"  # 1024 + 4 bytes * 7 tokens
grep -q '^first 7:   128000 9906 1917 128001 128000 13347 128001$' "$dir/inspect"
grep -qF 'decoded:    "<|begin_of_text|>Hello world<|end_of_text|><|begin_of_text|>Hi<|end_of_text|>"' \
  "$dir/inspect"
echo "ok"
