// llm.c token shards: the on-disk form of tokenized training data.
//
// Layout (all little-endian, see docs/formats.md "Token shards"):
//   int32 header[256]: [0] = 20240520 (magic), [1] = 1 (version),
//                      [2] = number of tokens N, the rest zero;
//   uint16 tokens[N].
// A file is valid only when its size is exactly 1024 + 2 * N bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace meridian {

inline constexpr int32_t kTokenShardMagic = 20240520;
inline constexpr int32_t kTokenShardVersion = 1;
inline constexpr size_t kTokenShardHeaderInts = 256;
inline constexpr size_t kTokenShardHeaderBytes = kTokenShardHeaderInts * sizeof(int32_t);

// What a validated shard header says.
struct TokenShardHeader {
  int32_t magic = 0;
  int32_t version = 0;
  uint64_t num_tokens = 0;
  uint64_t file_bytes = 0;  // size of the whole file, header included
};

// Writes `tokens` as a shard at `path`. The data goes to path + ".tmp",
// is fsync'ed, then renamed over `path`, so a reader never sees a partial
// shard. IOError naming the file on any failure (the .tmp is removed);
// InvalidArgument when there are more tokens than the int32 count can hold.
Status WriteTokenShard(const std::string& path, const std::vector<uint16_t>& tokens);

// Reads and validates only the header and the file size; reads no tokens.
// NotFound when the file does not exist, IOError when it cannot be read,
// Corruption (naming the file and the defect) for a short file, bad magic,
// unknown version, negative count, or a count that disagrees with the size.
Result<TokenShardHeader> ReadTokenShardHeader(const std::string& path);

// Reads a whole shard. Same errors as ReadTokenShardHeader.
Result<std::vector<uint16_t>> ReadTokenShard(const std::string& path);

// Expands a glob pattern ("data/train_*.bin") into the matching paths,
// sorted bytewise so shard order never depends on the locale, within the
// bounds of ExpandBoundedGlob (common/bounded_glob.h), which the daemon
// applies too. NotFound naming the pattern when nothing matches;
// InvalidArgument naming the limit a pattern breaks.
Result<std::vector<std::string>> ExpandShardGlob(const std::string& pattern);

// The file name of shard `index` of `count` in a split: "train_007.bin".
// The number has 3 digits, more for every shard of a split of more than
// 1000, so the names still sort in order.
std::string TokenShardName(const std::string& split, size_t index, size_t count);

}  // namespace meridian
