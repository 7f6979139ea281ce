#include "runtime/data/data_loader.h"

#include <utility>

namespace meridian {

Result<std::unique_ptr<DataLoader>> DataLoader::Open(const DataLoaderOptions& o) {
  if (o.batch <= 0) return Status::InvalidArgument("batch: " + std::to_string(o.batch) + " must be > 0");
  if (o.seq <= 0) return Status::InvalidArgument("seq: " + std::to_string(o.seq) + " must be > 0");
  if (o.num_processes <= 0) {
    return Status::InvalidArgument("num_processes: " + std::to_string(o.num_processes) + " must be > 0");
  }
  if (o.process_rank < 0 || o.process_rank >= o.num_processes) {
    return Status::InvalidArgument("process_rank: " + std::to_string(o.process_rank) +
                                   " must be in [0, " + std::to_string(o.num_processes) + ")");
  }
  if (o.vocab_size <= 0) {
    return Status::InvalidArgument("vocab_size: " + std::to_string(o.vocab_size) + " must be > 0");
  }
  MERIDIAN_ASSIGN_OR_RETURN(std::vector<std::string> paths, ExpandShardGlob(o.pattern));
  const uint64_t need = static_cast<uint64_t>(o.num_processes) * o.batch * o.seq + 1;
  std::vector<uint64_t> sizes;
  sizes.reserve(paths.size());
  for (const std::string& path : paths) {
    MERIDIAN_ASSIGN_OR_RETURN(TokenShardHeader h, ReadTokenShardHeader(path));
    if (h.num_tokens < need) {
      return Status::InvalidArgument(
          path + ": holds " + std::to_string(h.num_tokens) + " tokens, fewer than the " +
          std::to_string(need) + " one step needs (num_processes " + std::to_string(o.num_processes) +
          " * batch " + std::to_string(o.batch) + " * seq " + std::to_string(o.seq) + " + 1)");
    }
    sizes.push_back(h.num_tokens);
  }
  return std::unique_ptr<DataLoader>(new DataLoader(o, std::move(paths), std::move(sizes)));
}

DataLoader::DataLoader(const DataLoaderOptions& options, std::vector<std::string> paths,
                       std::vector<uint64_t> sizes)
    : options_(options), shard_paths_(std::move(paths)), shard_sizes_(std::move(sizes)) {
  for (uint64_t n : shard_sizes_) total_tokens_ += n;
}

uint64_t DataLoader::tokens_per_process() const {
  return static_cast<uint64_t>(options_.batch) * static_cast<uint64_t>(options_.seq);
}

uint64_t DataLoader::tokens_per_group() const {
  return tokens_per_process() * static_cast<uint64_t>(options_.num_processes);
}

bool DataLoader::WindowFits(uint64_t shard, uint64_t offset) const {
  const uint64_t size = shard_sizes_[shard];
  const uint64_t need = tokens_per_group() + 1;
  return offset <= size && size - offset >= need;
}

Status DataLoader::LoadCurrentShard() {
  if (loaded_shard_ == position_.shard_index) return Status::OK();
  const std::string& path = shard_paths_[position_.shard_index];
  // Drop the old shard first so two are never held at once.
  loaded_shard_ = kNoShard;
  tokens_.clear();
  tokens_.shrink_to_fit();
  MERIDIAN_ASSIGN_OR_RETURN(std::vector<uint32_t> tokens, ReadTokenShard(path));
  if (tokens.size() != shard_sizes_[position_.shard_index]) {
    return Status::FailedPrecondition(
        path + ": changed since the loader opened it (held " +
        std::to_string(shard_sizes_[position_.shard_index]) + " tokens, now " +
        std::to_string(tokens.size()) + ")");
  }
  tokens_ = std::move(tokens);
  loaded_shard_ = position_.shard_index;
  return Status::OK();
}

Status DataLoader::NextBatch(int32_t* inputs, int32_t* targets) {
  MERIDIAN_RETURN_IF_ERROR(LoadCurrentShard());
  const uint64_t n = tokens_per_process();
  const uint64_t start =
      position_.token_offset + static_cast<uint64_t>(options_.process_rank) * n;
  const uint32_t* window = tokens_.data() + start;  // n + 1 tokens, fit checked by Seek/advance
  const auto vocab = static_cast<uint32_t>(options_.vocab_size);
  for (uint64_t i = 0; i <= n; ++i) {
    if (window[i] >= vocab) {
      return Status::InvalidArgument(
          shard_paths_[position_.shard_index] + ": token " + std::to_string(window[i]) +
          " at position " + std::to_string(start + i) + " is outside the vocabulary (vocab_size " +
          std::to_string(options_.vocab_size) + ")");
    }
  }
  for (uint64_t i = 0; i < n; ++i) {
    inputs[i] = static_cast<int32_t>(window[i]);  // < vocab_size <= INT32_MAX
    targets[i] = static_cast<int32_t>(window[i + 1]);
  }

  position_.token_offset += tokens_per_group();
  if (!WindowFits(position_.shard_index, position_.token_offset)) {
    position_.token_offset = 0;
    if (++position_.shard_index == shard_paths_.size()) {
      position_.shard_index = 0;
      ++position_.epoch;
    }
  }
  return Status::OK();
}

Status DataLoader::Seek(const DataPosition& p) {
  if (p.shard_index >= shard_paths_.size()) {
    return Status::InvalidArgument("data position: shard_index " + std::to_string(p.shard_index) +
                                   " but the pattern '" + options_.pattern + "' matches " +
                                   std::to_string(shard_paths_.size()) + " shards");
  }
  if (!WindowFits(p.shard_index, p.token_offset)) {
    return Status::InvalidArgument(
        shard_paths_[p.shard_index] + ": data position token_offset " +
        std::to_string(p.token_offset) + " leaves no room for a window of " +
        std::to_string(tokens_per_group() + 1) + " tokens in a shard of " +
        std::to_string(shard_sizes_[p.shard_index]));
  }
  position_ = p;
  return Status::OK();
}

}  // namespace meridian
