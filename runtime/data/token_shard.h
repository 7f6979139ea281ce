// llm.c token shards: the on-disk form of tokenized training data.
//
// Layout (all little-endian, see docs/formats.md "Token shards"):
//   int32 header[256]: [0] = 20240520 (magic), [1] = version,
//                      [2] = number of tokens N, the rest zero;
//   version 1 (llm.c's): uint16 tokens[N];
//   version 2 (ids past 65535, Llama 3): uint32 tokens[N].
// A file is valid only when its size is exactly 1024 + 2 * N (version 1) or
// 1024 + 4 * N (version 2) bytes. Readers take both versions; writers choose
// by the tokenizer's vocabulary (TokenShardVersionFor), not by the ids a
// shard happens to hold, so all shards of a set share one version.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace meridian {

inline constexpr int32_t kTokenShardMagic = 20240520;
inline constexpr int32_t kTokenShardVersionU16 = 1;
inline constexpr int32_t kTokenShardVersionU32 = 2;
inline constexpr size_t kTokenShardHeaderInts = 256;
inline constexpr size_t kTokenShardHeaderBytes = kTokenShardHeaderInts * sizeof(int32_t);

// What a validated shard header says.
struct TokenShardHeader {
  int32_t magic = 0;
  int32_t version = 0;
  uint64_t num_tokens = 0;
  uint32_t token_bytes = 0;  // 2 (version 1) or 4 (version 2)
  uint64_t file_bytes = 0;  // size of the whole file, header included
};

// The version to write shards of a tokenizer with `vocab_size` ids in:
// 1 when every id fits in 16 bits (bytes, gpt2), else 2 (llama3).
int32_t TokenShardVersionFor(int vocab_size);

// Writes `tokens` as a shard of `version` (1 or 2) at `path`. The data goes
// to path + ".tmp", is fsync'ed, then renamed over `path`, so a reader never
// sees a partial shard. IOError naming the file on any failure (the .tmp is
// removed); InvalidArgument when there are more tokens than the int32 count
// can hold, for another version, or for a version 1 shard with an id above
// 65535 (naming the position and the id).
Status WriteTokenShard(const std::string& path, const std::vector<uint32_t>& tokens,
                       int32_t version);
// A version 1 shard of 16-bit tokens.
Status WriteTokenShard(const std::string& path, const std::vector<uint16_t>& tokens);

// Reads and validates only the header and the file size; reads no tokens.
// NotFound when the file does not exist, IOError when it cannot be read,
// Corruption (naming the file and the defect) for a short file, bad magic,
// unknown version (the message names the field and the versions known),
// negative count, or a count that disagrees with the size.
Result<TokenShardHeader> ReadTokenShardHeader(const std::string& path);

// Reads a whole shard of either version; the ids come back as uint32
// whatever the width on disk. Same errors as ReadTokenShardHeader.
Result<std::vector<uint32_t>> ReadTokenShard(const std::string& path);

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
