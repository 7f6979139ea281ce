// meridian-data: turns text into llm.c token shards and looks inside them.
//
//   meridian-data synth --out DIR [--seed N] [--train-bytes N] [--val-bytes N] [--shard-tokens N]
//   meridian-data encode INPUT... --out DIR [--tokenizer bytes|gpt2|llama3] [--vocab-dir DIR]
//       [--format auto|text|jsonl] [--text-field NAME] [--text-docs paragraph|file]
//       [--val-fraction F] [--shard-tokens N] [--threads N] [--on-error fail|skip]
//       [--special-in-text]           (INPUT: files, directories, globs; --in FILE also works)
//   meridian-data inspect FILE.bin [--tokenizer bytes|gpt2|llama3] [--vocab-dir DIR]
//
// encode streams: memory does not grow with the corpus (corpus_encoder.h).
// Every error becomes one line on stderr naming the file, and exit code 1;
// usage errors exit 2.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include <CLI/CLI.hpp>

#include "common/command_line.h"
#include "common/log.h"
#include "common/status.h"
#include "runtime/data/byte_tokenizer.h"
#include "runtime/data/corpus_encoder.h"
#include "runtime/data/tokenizer.h"
#include "runtime/data/synth_corpus.h"
#include "runtime/data/token_shard.h"

namespace meridian {
namespace {

constexpr uint64_t kDefaultShardTokens = 1'000'000;
// Mixed into the seed for the val split so it never repeats train's text.
constexpr uint64_t kValSeedSalt = 0x56414c5f53454544ULL;  // "VAL_SEED"
constexpr size_t kInspectTokens = 64;

Status MakeDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IOError(dir + ": cannot create directory: " + ec.message());
  return Status::OK();
}

// Writes tokens as DIR/split_NNN.bin shards of at most shard_tokens each
// and prints one line per shard. The shards are of near-equal size rather
// than full ones plus a stub: a stub shorter than one training window would
// make the loader refuse the whole split.
Status WriteSplit(const std::string& dir, const std::string& split,
                  const std::vector<uint32_t>& tokens, uint64_t shard_tokens) {
  const size_t count = std::max<size_t>(1, (tokens.size() + shard_tokens - 1) / shard_tokens);
  const size_t base = tokens.size() / count, extra = tokens.size() % count;
  size_t begin = 0;
  for (size_t i = 0; i < count; ++i) {
    const size_t end = begin + base + (i < extra ? 1 : 0);
    std::vector<uint32_t> part(tokens.begin() + begin, tokens.begin() + end);
    begin = end;
    const std::string path = dir + "/" + TokenShardName(split, i, count);
    MERIDIAN_RETURN_IF_ERROR(WriteTokenShard(path, part, kTokenShardVersionU16));
    std::printf("wrote %s (%zu tokens)\n", path.c_str(), part.size());
  }
  // Leftovers of an earlier, larger run would silently join this one's
  // data when the loader globs split_*.bin.
  Result<std::vector<std::string>> all = ExpandShardGlob(dir + "/" + split + "_*.bin");
  if (all.ok() && all->size() > count) {
    Logger("data")->warn("{} holds {} {}_*.bin files but this run wrote {}; remove the stale ones or a loader "
                         "globbing {}_*.bin will read them",
                         dir, all->size(), split, count, split);
  }
  return Status::OK();
}

Status RunSynth(const std::string& dir, uint64_t seed, uint64_t train_bytes, uint64_t val_bytes,
                uint64_t shard_tokens) {
  MERIDIAN_RETURN_IF_ERROR(MakeDir(dir));
  const uint64_t val_seed = seed ^ kValSeedSalt;
  std::printf("synthetic corpus: train seed %llu, val seed %llu\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(val_seed));
  MERIDIAN_RETURN_IF_ERROR(WriteSplit(
      dir, "train", ByteTokenizer::Encode(GenerateSynthText(seed, train_bytes)), shard_tokens));
  return WriteSplit(dir, "val", ByteTokenizer::Encode(GenerateSynthText(val_seed, val_bytes)),
                    shard_tokens);
}

Status RunEncode(const std::string& tokenizer_name, const TokenizerOptions& tokenizer_options,
                 CorpusEncodeOptions options) {
  MERIDIAN_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tokenizer,
                            MakeTokenizer(tokenizer_name, tokenizer_options));
  options.read.warn = [](const Status& s) {
    Logger("data")->warn("skipped: {}", s.ToString());
  };
  options.progress = ::isatty(STDERR_FILENO) != 0;
  MERIDIAN_ASSIGN_OR_RETURN(CorpusEncodeSummary sum, EncodeCorpus(*tokenizer, options));
  const uint64_t tokens = sum.train_tokens + sum.val_tokens;
  std::printf("encoded %llu files (%llu skipped), %llu documents (%llu val), %.2f MB -> %llu tokens "
              "(train %llu, val %llu) in %llu + %llu shards, %.1f s, %.2f MB/s, %.2fM tokens/s\n",
              static_cast<unsigned long long>(sum.files),
              static_cast<unsigned long long>(sum.skipped_files),
              static_cast<unsigned long long>(sum.documents),
              static_cast<unsigned long long>(sum.val_documents),
              static_cast<double>(sum.bytes) / 1e6, static_cast<unsigned long long>(tokens),
              static_cast<unsigned long long>(sum.train_tokens),
              static_cast<unsigned long long>(sum.val_tokens),
              static_cast<unsigned long long>(sum.train_shards),
              static_cast<unsigned long long>(sum.val_shards), sum.seconds,
              sum.seconds > 0 ? static_cast<double>(sum.bytes) / 1e6 / sum.seconds : 0.0,
              sum.seconds > 0 ? static_cast<double>(tokens) / 1e6 / sum.seconds : 0.0);
  if (sum.skipped_lines > 0) {
    std::printf("skipped %llu bad JSON lines\n", static_cast<unsigned long long>(sum.skipped_lines));
  }
  std::printf("tokenizer %s: train with --vocab %d\n", std::string(tokenizer->name()).c_str(),
              tokenizer->vocab_size());
  if (sum.val_tokens == 0 && options.val_fraction > 0) {
    std::printf("no val shard: no document fell in the val fraction %g\n", options.val_fraction);
  }
  return Status::OK();
}

// C-style escaping so control bytes and newlines stay on one line.
std::string Escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c >= 0x20 && c < 0x7f) out += static_cast<char>(c);
    else {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "\\x%02x", c);
      out += hex;
    }
  }
  return out;
}

Status RunInspect(const std::string& path, const std::string& tokenizer_name,
                  const TokenizerOptions& tokenizer_options) {
  MERIDIAN_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tokenizer,
                            MakeTokenizer(tokenizer_name, tokenizer_options));
  MERIDIAN_ASSIGN_OR_RETURN(TokenShardHeader h, ReadTokenShardHeader(path));
  MERIDIAN_ASSIGN_OR_RETURN(std::vector<uint32_t> tokens, ReadTokenShard(path));
  std::printf("file:       %s\n", path.c_str());
  std::printf("magic:      %d\n", h.magic);
  std::printf("version:    %d\n", h.version);
  std::printf("tokens:     %llu\n", static_cast<unsigned long long>(h.num_tokens));
  std::printf("file bytes: %llu\n", static_cast<unsigned long long>(h.file_bytes));
  if (tokens.empty()) {
    std::printf("min token:  -\nmax token:  -\n");
    return Status::OK();
  }
  const auto [lo, hi] = std::minmax_element(tokens.begin(), tokens.end());
  std::printf("min token:  %u\n", static_cast<unsigned>(*lo));
  std::printf("max token:  %u\n", static_cast<unsigned>(*hi));
  const size_t n = std::min(tokens.size(), kInspectTokens);
  std::ostringstream ids;
  for (size_t i = 0; i < n; ++i) ids << (i ? " " : "") << tokens[i];
  std::printf("first %zu:   %s\n", n, ids.str().c_str());
  std::printf("decoded:    \"%s\" (%s tokenizer)\n",
              Escape(tokenizer->Decode(tokens.data(), n)).c_str(),
              std::string(tokenizer->name()).c_str());
  return Status::OK();
}

int Finish(const Status& s) {
  if (s.ok()) return 0;
  Logger("data")->error("{}", s.ToString());
  return 1;
}

}  // namespace
}  // namespace meridian

int main(int argc, char** argv) {
  using namespace meridian;
  CLI::App app{"meridian-data: turn text into llm.c token shards"};
  app.require_subcommand(1);

  std::string out_dir;
  uint64_t seed = 1337;
  uint64_t train_bytes = 2'000'000;
  uint64_t val_bytes = 100'000;
  uint64_t shard_tokens = kDefaultShardTokens;
  const auto shard_check = CLI::Range(uint64_t{1}, uint64_t{INT32_MAX});

  CLI::App* synth = app.add_subcommand("synth", "write a deterministic synthetic corpus");
  synth->add_option("--out", out_dir, "output directory")->required();
  synth->add_option("--seed", seed, "corpus seed (val uses a derived seed)")->capture_default_str();
  synth->add_option("--train-bytes", train_bytes, "approximate train text size")->capture_default_str();
  synth->add_option("--val-bytes", val_bytes, "approximate val text size")->capture_default_str();
  synth->add_option("--shard-tokens", shard_tokens, "most tokens per shard")
      ->check(shard_check)->capture_default_str();

  std::vector<std::string> in_files, inputs;
  std::string tokenizer_name = "bytes";
  TokenizerOptions tokenizer_options;
  CorpusEncodeOptions enc;
  std::string format = "auto", text_docs = "paragraph", on_error = "fail";
  enc.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  CLI::App* encode = app.add_subcommand(
      "encode",
      "tokenize text files and JSON lines into train/val shards, streaming.\n"
      "Documents: a JSON line's text field, or a paragraph of a text file (ending after a blank "
      "line; --text-docs file: the whole file). With gpt2 each document starts with "
      "<|endoftext|> (50256); with llama3 it is <|begin_of_text|> (128000) text "
      "<|end_of_text|> (128001).\n"
      "Shards: llm.c's version 1 (uint16 ids) for bytes and gpt2, version 2 (uint32) for llama3.\n"
      "Split: document i (counted from 0 over all inputs in order) goes to val when "
      "SplitMix64(i ^ salt) / 2^64 < --val-fraction (document 0 never), so train and val "
      "never share a document and the split is the same on every run.\n"
      "Output is the same bytes for any --threads.");
  encode->add_option("inputs", inputs, "text or .jsonl files, directories (recursive), globs");
  encode->add_option("--in", in_files, "input (same as a positional input; may repeat)");
  encode->add_option("--out", enc.out_dir, "output directory")->required();
  encode->add_option("--tokenizer", tokenizer_name,
                     "bytes (vocab 256), gpt2 (vocab 50257) or llama3 (vocab 128256)")
      ->check(CLI::IsMember({"bytes", "gpt2", "llama3"}))->capture_default_str();
  encode->add_option("--vocab-dir", tokenizer_options.vocab_dir,
                     "gpt2: directory of encoder.json and vocab.bpe (default: "
                     "$MERIDIAN_GPT2_VOCAB_DIR, else ~/.cache/meridian/gpt2; fill it with "
                     "scripts/fetch-gpt2-vocab.sh); llama3: directory of tokenizer.model "
                     "(default: $MERIDIAN_LLAMA3_VOCAB_DIR, else ~/.cache/meridian/llama3; "
                     "scripts/fetch-llama3-vocab.sh)");
  encode->add_flag("--special-in-text", tokenizer_options.special_tokens_in_text,
                   "gpt2: the text \"<|endoftext|>\" in a document becomes token 50256; "
                   "llama3: each special token's text becomes its id "
                   "(default: encoded as ordinary text)");
  encode->add_option("--format", format, "auto (.jsonl/.ndjson are JSON lines, else text), "
                     "text, jsonl")->check(CLI::IsMember({"auto", "text", "jsonl"}))
      ->capture_default_str();
  encode->add_option("--text-field", enc.read.text_field, "JSON lines: the document's field")
      ->capture_default_str();
  encode->add_option("--text-docs", text_docs, "text files: a document per paragraph or per file")
      ->check(CLI::IsMember({"paragraph", "file"}))->capture_default_str();
  encode->add_option("--val-fraction", enc.val_fraction,
                     "fraction of documents held out as val (by a hash of the document index)")
      ->check(CLI::Range(0.0, 0.999999))->capture_default_str();
  encode->add_option("--shard-tokens", enc.shard_tokens, "tokens per shard")
      ->check(shard_check)->capture_default_str();
  encode->add_option("--threads", enc.threads, "encoding threads (default: all cores)")
      ->check(CLI::Range(1, 1024))->capture_default_str();
  encode->add_option("--on-error", on_error, "an unreadable file or bad JSON line: fail, or "
                     "report it and skip it")
      ->check(CLI::IsMember({"fail", "skip"}))->capture_default_str();

  std::string shard_file;
  CLI::App* inspect = app.add_subcommand("inspect", "print a shard's header and first tokens");
  inspect->add_option("file", shard_file, "token shard (.bin)")->required();
  inspect->add_option("--tokenizer", tokenizer_name,
                      "decode the first tokens as bytes, gpt2 or llama3")
      ->check(CLI::IsMember({"bytes", "gpt2", "llama3"}))->capture_default_str();
  inspect->add_option("--vocab-dir", tokenizer_options.vocab_dir,
                      "gpt2, llama3: vocabulary directory");

  // Before or after the subcommand's name: the subcommands pass them up.
  std::string log_format, log_level;
  AddLogOptions(app, &log_format, &log_level);
  for (CLI::App* sub : {synth, encode, inspect}) sub->fallthrough();
  if (std::optional<int> exit_code = ParseCommandLine(app, argc, argv)) return *exit_code;
  if (Status s = InitLogging("meridian-data", log_format, log_level); !s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.message().c_str());
    return kExitUsage;
  }

  if (*synth) return Finish(RunSynth(out_dir, seed, train_bytes, val_bytes, shard_tokens));
  if (*encode) {
    enc.inputs = in_files;
    enc.inputs.insert(enc.inputs.end(), inputs.begin(), inputs.end());
    if (enc.inputs.empty()) {
      std::fprintf(stderr, "encode: give at least one input (file, directory or glob)\n");
      return kExitUsage;
    }
    enc.read.format = *ParseInputFormat(format);
    enc.read.text_documents = text_docs == "file" ? TextDocuments::kFile : TextDocuments::kParagraph;
    enc.read.on_error = on_error == "skip" ? OnError::kSkip : OnError::kFail;
    return Finish(RunEncode(tokenizer_name, tokenizer_options, std::move(enc)));
  }
  return Finish(RunInspect(shard_file, tokenizer_name, tokenizer_options));
}
