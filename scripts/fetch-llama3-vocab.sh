#!/usr/bin/env bash
# Fetches Llama 3's BPE vocabulary into a cache directory, from the npm
# package llama3-tokenizer-js (MIT), which bakes the vocabulary into its
# JavaScript bundle and ships a JavaScript encoder that the tests use as an
# independent reference.
#
#   bash scripts/fetch-llama3-vocab.sh [DIR]
#
# DIR defaults to $MERIDIAN_LLAMA3_VOCAB_DIR, else
# ${XDG_CACHE_HOME:-$HOME/.cache}/meridian/llama3 (where meridian-data, the
# trainer and the tests look when --vocab-dir is not given). Afterwards DIR
# holds tokenizer.model and package/ (the whole unpacked npm package).
#
# The package stores the 128,000 ordinary tokens as one base64 string of
# their bytes_to_unicode spellings joined by "\n" (the row is the id), and
# the merges as 17-bit pairs of ids; the 256 special tokens follow in code.
# Node loads the bundle once here and writes tokenizer.model in tiktoken's
# format, one "base64(token bytes) rank" line per token, rank = id, 128,000
# lines. That is byte for byte Meta's original tokenizer.model (the pinned
# sha256 below is the digest Meta publishes for it), so a directory holding
# Meta's file works as well. The BPE needs the ranks only: tiktoken merges
# the adjacent pair whose concatenation has the lowest rank.
#
# Idempotent: a file already present with the pinned sha256 is left alone.
# Needs npm, node and the npm registry; the files are never committed.
set -euo pipefail

readonly pkg="llama3-tokenizer-js@1.2.0"
readonly tarball_sha256=51084690c7239708a3eb6adead1173bfd61b1f4d31cb0b8487e12ba466346ff0
readonly bundle=package/bundle/commonjs-llama3-tokenizer-with-baked-data.cjs
readonly model_sha256=82e9d31979e92ab929cd544440f129d9ecd797b69e327f80f17e1c50d5551b55

dir=${1:-${MERIDIAN_LLAMA3_VOCAB_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/meridian/llama3}}

sha_ok() {  # sha_ok FILE SHA256
  [[ -f $1 ]] && [[ $(sha256sum "$1" | cut -d' ' -f1) == "$2" ]]
}

if sha_ok "$dir/tokenizer.model" "$model_sha256" && [[ -f $dir/$bundle ]]; then
  echo "fetch-llama3-vocab: $dir already holds the Llama 3 vocabulary"
  exit 0
fi

for tool in npm node; do
  command -v $tool >/dev/null ||
    { echo "fetch-llama3-vocab: $tool not found (apt-get install nodejs npm)" >&2; exit 1; }
done
mkdir -p "$(dirname "$dir")"
work=$(mktemp -d "$(dirname "$dir")/.llama3-fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "$pkg" >/dev/null)
tgz=$(ls "$work"/*.tgz)
if ! sha_ok "$tgz" "$tarball_sha256"; then
  echo "fetch-llama3-vocab: $pkg tarball has sha256 $(sha256sum "$tgz" | cut -d' ' -f1)," \
       "expected $tarball_sha256" >&2
  exit 1
fi
mkdir "$work/out"
tar -xzf "$tgz" -C "$work/out"

# The bundle's tokenizer object holds vocabById: the 128,000 ordinary tokens
# in id order (each character one byte through GPT-2's bytes_to_unicode),
# then the special tokens.
cat > "$work/convert.cjs" <<'JS'
const fs = require('fs');
const { llama3Tokenizer } = require(process.argv[2]);
const byteOf = new Map();  // the inverse of bytes_to_unicode
const printable = [];
for (let b = 0; b < 256; ++b) {
  if ((b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae) printable.push(b);
}
let next = 256;
for (let b = 0; b < 256; ++b) {
  byteOf.set(String.fromCharCode(printable.includes(b) ? b : next++), b);
}
const kRanks = 128000;
const vocab = llama3Tokenizer.vocabById;
if (vocab.length !== kRanks + 256) {
  throw new Error(`expected ${kRanks + 256} tokens, found ${vocab.length}`);
}
const lines = [];
for (let id = 0; id < kRanks; ++id) {
  const bytes = Array.from(vocab[id], c => {
    if (!byteOf.has(c)) throw new Error(`token ${id} holds a character that stands for no byte`);
    return byteOf.get(c);
  });
  lines.push(Buffer.from(bytes).toString('base64') + ' ' + id);
}
fs.writeFileSync(process.argv[3], lines.join('\n') + '\n');
JS
node "$work/convert.cjs" "$work/out/$bundle" "$work/out/tokenizer.model"
if ! sha_ok "$work/out/tokenizer.model" "$model_sha256"; then
  echo "fetch-llama3-vocab: tokenizer.model converted from $pkg has sha256" \
       "$(sha256sum "$work/out/tokenizer.model" | cut -d' ' -f1), expected $model_sha256" >&2
  exit 1
fi

# Swap the whole directory in at once so a reader never sees half of it.
rm -rf "$dir.old"
[[ -e $dir ]] && mv "$dir" "$dir.old"
mv "$work/out" "$dir"
rm -rf "$dir.old"
echo "fetch-llama3-vocab: wrote $dir (tokenizer.model, package/ from $pkg)"
