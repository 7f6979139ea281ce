#!/usr/bin/env bash
# GPT-2 encoding throughput: meridian-data encode against tiktoken (WASM)
# and gpt-3-encoder (JS) from npm, on the same text in the same run.
#   bash bench/encode_throughput.sh [WORKDIR]
# The text is real and varied: the license texts and copyright files of this
# machine and Python's standard library sources, about 9 MB. Ours is timed
# end to end minus the run on an empty file (program start and loading the
# vocabulary); the peers' encode() alone, gpt-3-encoder on the first 100 kB
# only (it is two orders of magnitude slower). Our token count is
# tiktoken's plus one: the <|endoftext|> that starts the document. Needs
# node and npm (install-deps).
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/tmp/meridian-encode-bench}
mkdir -p "$work"
bin=build/bin
cache=${XDG_CACHE_HOME:-$HOME/.cache}/meridian
vocab=${MERIDIAN_GPT2_VOCAB_DIR:-$cache/gpt2}
[[ -f $vocab/encoder.json ]] || bash scripts/fetch-gpt2-vocab.sh "$vocab" >/dev/null
peers=$cache/peers/tiktoken-1.0.17
if [[ ! -f $peers/package/tiktoken.cjs ]]; then
  mkdir -p "$peers" && (cd "$peers" && npm pack --silent tiktoken@1.0.17 >/dev/null && tar xzf tiktoken-1.0.17.tgz)
fi

corpus=$work/corpus.txt
if [[ ! -s $corpus ]]; then
  python3 - "$corpus" <<'PY'
import glob, sys, sysconfig
files = sorted(glob.glob("/usr/share/common-licenses/*")) + sorted(glob.glob("/usr/share/doc/*/copyright"))
files += sorted(glob.glob(sysconfig.get_paths()["stdlib"] + "/*.py"))
out, size = open(sys.argv[1], "w", encoding="utf-8"), 0
for f in files:
    try:
        text = open(f, encoding="utf-8").read()
    except (UnicodeDecodeError, IsADirectoryError, PermissionError):
        continue
    out.write(text + "\n\n")
    size += len(text.encode())
    if size > 9_000_000:
        break
PY
fi
mb=$(python3 -c "import os,sys; print(os.path.getsize(sys.argv[1]) / 1e6)" "$corpus")
: >"$work/empty.txt"
run() {  # run THREADS FILE -> seconds
  local start end
  start=$(date +%s.%N)
  "$bin/meridian-data" encode "$2" --out "$work/out" --tokenizer gpt2 --text-docs file --val-fraction 0 \
    --threads "$1" >"$work/encode.log" 2>&1
  end=$(date +%s.%N)
  python3 -c "print($end - $start)"
}
echo "# $(date -u +%F) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); corpus $mb MB"
echo "# command: bash bench/encode_throughput.sh"
printf "| %-36s | %8s | %10s | %8s |\n" tokenizer MB/s tokens seconds
printf "|%s|%s|%s|%s|\n" -------------------------------------- ---------- ------------ ----------
for threads in 1 2; do
  base=$(run "$threads" "$work/empty.txt")
  best=""
  for _ in 1 2 3; do
    t=$(run "$threads" "$corpus")
    best=$(python3 -c "print(min(float('$t'), float('${best:-1e9}')))")
  done
  tokens=$(grep -oE -- "-> [0-9]+ tokens" "$work/encode.log" | grep -oE "[0-9]+")
  secs=$(python3 -c "print(max($best - $base, 1e-9))")
  printf "| %-36s | %8.1f | %10s | %8.2f |\n" "meridian-data, $threads thread(s)" \
    "$(python3 -c "print($mb / $secs)")" "$tokens" "$secs"
done
node bench/peers/tokenizer_peers.js "$corpus" "$peers/package" "$vocab/package" | python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    print("| %-36s | %8.1f | %10d | %8.2f |" % (r["name"] + ", 1 thread", r["bytes"] / 1e6 / r["seconds"], r["tokens"], r["seconds"]))'
