// GPT-2 tokenizers of the npm registry on one text file, for
// bench/encode_throughput.sh: tiktoken (OpenAI's Rust BPE compiled to
// WebAssembly) and gpt-3-encoder (a JavaScript port of OpenAI's encoder.py).
// Prints one JSON line per tokenizer: name, bytes, tokens, seconds of
// encode() alone (loading excluded).
//   node tokenizer_peers.js TEXT_FILE TIKTOKEN_PACKAGE_DIR GPT3_ENCODER_PACKAGE_DIR
const fs = require("fs");
const path = require("path");
const [file, tiktokenDir, gpt3Dir] = process.argv.slice(2);
const text = fs.readFileSync(file, "utf8");

function time(name, encode, limit) {
  const input = limit ? text.slice(0, limit) : text;
  encode(input.slice(0, 10000));  // warm up (JIT, caches of the first words)
  const start = process.hrtime.bigint();
  const tokens = encode(input);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(JSON.stringify({ name, bytes: Buffer.byteLength(input, "utf8"), tokens: tokens.length, seconds }));
}

if (tiktokenDir) {
  const { get_encoding } = require(path.join(tiktokenDir, "tiktoken.cjs"));
  const enc = get_encoding("gpt2");
  time("tiktoken (wasm)", (t) => enc.encode(t));
  enc.free();
}
if (gpt3Dir) {
  const { encode } = require(path.join(gpt3Dir, "Encoder.js"));
  // Its BPE re-scans the whole word per merge: 100 kB take most of a minute.
  time("gpt-3-encoder (js, 100 kB)", encode, 100000);
}
