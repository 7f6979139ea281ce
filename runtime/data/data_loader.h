// The deterministic training data loader over llm.c token shards.
//
// Order (llm.c's, no shuffling; see docs/formats.md "Token shards"):
// shards in sorted glob order; within a shard the P processes of a data-
// parallel group read one group window of P*B*T+1 tokens per step, process
// r taking the B*T+1 tokens at offset r*B*T (inputs = the first B*T,
// targets = the last B*T). The group window then advances by P*B*T. When
// the next group window does not fit, all processes move to the start of
// the next shard together; after the last shard they wrap to shard 0 and
// the epoch counts up. So P processes with batch B read, step by step,
// exactly what one process with batch P*B would.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "runtime/data/token_shard.h"

namespace meridian {

struct DataLoaderOptions {
  std::string pattern;     // glob(3) pattern of shard files, e.g. "data/train_*.bin"
  int batch = 4;           // B, sequences per batch
  int seq = 64;            // T, tokens per sequence
  int process_rank = 0;    // r in [0, num_processes)
  int num_processes = 1;   // P, data-parallel processes sharing the stream
  int vocab_size = 65536;  // tokens >= this are refused; up to INT32_MAX
};

// Where the group's next window starts. The same on every process of the
// group, so one saved position resumes all of them.
struct DataPosition {
  uint64_t epoch = 0;
  uint64_t shard_index = 0;
  uint64_t token_offset = 0;  // start of process 0's window in the shard

  bool operator==(const DataPosition&) const = default;
};

// Reads shards of both versions (token_shard.h), even mixed in one set.
// Not thread-safe. Holds only the current shard's tokens in memory.
class DataLoader {
 public:
  // Expands the pattern and validates every shard's header and size.
  // InvalidArgument for bad options or a shard too small to hold one group
  // window (P*B*T+1 tokens), naming the shard; NotFound when nothing
  // matches; Corruption/IOError from ReadTokenShardHeader.
  static Result<std::unique_ptr<DataLoader>> Open(const DataLoaderOptions& options);

  // Fills this process's next batch and advances. inputs and targets each
  // hold B*T int32 (row-major (B, T)); targets[i] = the token after
  // inputs[i]. InvalidArgument naming the shard, position and value when a
  // token is >= vocab_size; FailedPrecondition when the shard's size changed
  // since Open; on any error the position does not move.
  Status NextBatch(int32_t* inputs, int32_t* targets);

  // The position of the next batch NextBatch will return.
  DataPosition position() const { return position_; }

  // Moves to `p`, such that NextBatch returns exactly what it returned when
  // position() was p. Any position whose group window fits is accepted (the
  // shard is loaded on the next NextBatch). InvalidArgument when p's shard
  // does not exist or its group window does not fit in that shard.
  Status Seek(const DataPosition& p);

  // Back to epoch 0, shard 0, offset 0.
  void Reset() { position_ = DataPosition(); }

  uint64_t total_tokens() const { return total_tokens_; }
  size_t num_shards() const { return shard_paths_.size(); }
  const std::vector<std::string>& shard_paths() const { return shard_paths_; }

 private:
  DataLoader(const DataLoaderOptions& options, std::vector<std::string> paths,
             std::vector<uint64_t> sizes);

  uint64_t tokens_per_process() const;  // B*T
  uint64_t tokens_per_group() const;    // P*B*T
  // Whether the group window at `offset` fits in shard `shard`.
  bool WindowFits(uint64_t shard, uint64_t offset) const;
  // Makes position_.shard_index the loaded shard.
  Status LoadCurrentShard();

  DataLoaderOptions options_;
  std::vector<std::string> shard_paths_;
  std::vector<uint64_t> shard_sizes_;  // tokens per shard, from the headers
  uint64_t total_tokens_ = 0;

  DataPosition position_;
  static constexpr uint64_t kNoShard = ~uint64_t{0};
  uint64_t loaded_shard_ = kNoShard;
  std::vector<uint32_t> tokens_;  // the loaded shard (version 1 or 2, widened)
};

}  // namespace meridian
