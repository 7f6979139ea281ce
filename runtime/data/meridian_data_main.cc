// meridian-data: turns text into llm.c token shards and looks inside them.
//
//   meridian-data synth --out DIR [--seed N] [--train-bytes N] [--val-bytes N] [--shard-tokens N]
//   meridian-data encode --in FILE.txt --out DIR [--val-fraction F] [--shard-tokens N]
//   meridian-data inspect FILE.bin
//
// Every error becomes one line on stderr naming the file, and exit code 1.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "common/command_line.h"
#include "common/status.h"
#include "runtime/data/byte_tokenizer.h"
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

// "train_007.bin"; the width grows past 3 digits only when needed, and then
// for every shard of the split, so the names still sort in order.
std::string ShardName(const std::string& split, size_t index, size_t count) {
  size_t width = 3;
  for (size_t n = count; n > 1000; n /= 10) ++width;
  std::string num = std::to_string(index);
  if (num.size() < width) num.insert(0, width - num.size(), '0');
  return split + "_" + num + ".bin";
}

// Writes tokens as DIR/split_NNN.bin shards of at most shard_tokens each
// and prints one line per shard. The shards are of near-equal size rather
// than full ones plus a stub: a stub shorter than one training window would
// make the loader refuse the whole split.
Status WriteSplit(const std::string& dir, const std::string& split,
                  const std::vector<uint16_t>& tokens, uint64_t shard_tokens) {
  const size_t count = std::max<size_t>(1, (tokens.size() + shard_tokens - 1) / shard_tokens);
  const size_t base = tokens.size() / count, extra = tokens.size() % count;
  size_t begin = 0;
  for (size_t i = 0; i < count; ++i) {
    const size_t end = begin + base + (i < extra ? 1 : 0);
    std::vector<uint16_t> part(tokens.begin() + begin, tokens.begin() + end);
    begin = end;
    const std::string path = dir + "/" + ShardName(split, i, count);
    MERIDIAN_RETURN_IF_ERROR(WriteTokenShard(path, part));
    std::printf("wrote %s (%zu tokens)\n", path.c_str(), part.size());
  }
  // Leftovers of an earlier, larger run would silently join this one's
  // data when the loader globs split_*.bin.
  Result<std::vector<std::string>> all = ExpandShardGlob(dir + "/" + split + "_*.bin");
  if (all.ok() && all->size() > count) {
    std::fprintf(stderr, "warning: %s holds %zu %s_*.bin files but this run wrote %zu; "
                 "remove the stale ones or a loader globbing %s_*.bin will read them\n",
                 dir.c_str(), all->size(), split.c_str(), count, split.c_str());
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

Status RunEncode(const std::string& in, const std::string& dir, double val_fraction,
                 uint64_t shard_tokens) {
  if (!(val_fraction >= 0.0 && val_fraction < 1.0)) {
    std::ostringstream msg;
    msg << "--val-fraction: " << val_fraction << " must be in [0, 1)";
    return Status::InvalidArgument(msg.str());
  }
  std::ifstream file(in, std::ios::binary);
  if (!file) return Status::NotFound(in + ": cannot open for reading");
  std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (file.bad()) return Status::IOError(in + ": read failed");
  if (text.empty()) return Status::InvalidArgument(in + ": file is empty, nothing to encode");

  std::vector<uint16_t> tokens = ByteTokenizer::Encode(text);
  // Val is the tail of the text, so train and val never share a byte.
  const size_t n_val = static_cast<size_t>(static_cast<double>(tokens.size()) * val_fraction);
  std::vector<uint16_t> val(tokens.end() - static_cast<std::ptrdiff_t>(n_val), tokens.end());
  tokens.resize(tokens.size() - n_val);
  MERIDIAN_RETURN_IF_ERROR(MakeDir(dir));
  MERIDIAN_RETURN_IF_ERROR(WriteSplit(dir, "train", tokens, shard_tokens));
  if (val.empty()) {
    std::printf("no val shard: val fraction %g of %zu tokens is 0 tokens\n", val_fraction,
                tokens.size());
    return Status::OK();
  }
  return WriteSplit(dir, "val", val, shard_tokens);
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

Status RunInspect(const std::string& path) {
  MERIDIAN_ASSIGN_OR_RETURN(TokenShardHeader h, ReadTokenShardHeader(path));
  MERIDIAN_ASSIGN_OR_RETURN(std::vector<uint16_t> tokens, ReadTokenShard(path));
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
  std::printf("decoded:    \"%s\" (bytes; tokens >= 256 shown as '%c')\n",
              Escape(ByteTokenizer::Decode(tokens.data(), n)).c_str(),
              ByteTokenizer::kUnknownByte);
  return Status::OK();
}

int Finish(const Status& s) {
  if (s.ok()) return 0;
  std::fprintf(stderr, "meridian-data: %s\n", s.ToString().c_str());
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

  std::string in_file;
  double val_fraction = 0.05;
  CLI::App* encode = app.add_subcommand("encode", "byte-tokenize a text file into shards");
  encode->add_option("--in", in_file, "text file")->required();
  encode->add_option("--out", out_dir, "output directory")->required();
  encode->add_option("--val-fraction", val_fraction, "tail of the text held out as val")
      ->capture_default_str();
  encode->add_option("--shard-tokens", shard_tokens, "most tokens per shard")
      ->check(shard_check)->capture_default_str();

  std::string shard_file;
  CLI::App* inspect = app.add_subcommand("inspect", "print a shard's header and first tokens");
  inspect->add_option("file", shard_file, "token shard (.bin)")->required();

  if (std::optional<int> exit_code = ParseCommandLine(app, argc, argv)) return *exit_code;

  if (*synth) return Finish(RunSynth(out_dir, seed, train_bytes, val_bytes, shard_tokens));
  if (*encode) return Finish(RunEncode(in_file, out_dir, val_fraction, shard_tokens));
  return Finish(RunInspect(shard_file));
}
