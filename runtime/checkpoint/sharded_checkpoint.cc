// Writing and publishing sharded (version 2) checkpoints; reading either
// format is in checkpoint_reader.cc.
#include "runtime/checkpoint/sharded_checkpoint.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <system_error>
#include <thread>

#include "runtime/checkpoint/file_io.h"
#include "runtime/checkpoint/manifest.h"
#include "runtime/checkpoint/sharded_manifest.h"
#include "runtime/checkpoint/step_directory.h"

namespace meridian {
namespace {

namespace fs = std::filesystem;
namespace mf = checkpoint_manifest;
using checkpoint_dir::JoinPath;

// How often rank 0 looks for the other ranks' indexes, and how many
// missing ones a timeout message names before it just counts.
constexpr std::chrono::milliseconds kPollInterval{20};
constexpr size_t kMissingNamed = 8;

// No whole-model array is near this many floats (CheckedParameterCount
// stops at 2^60); a bigger piece is a caller's bug, and refusing it keeps
// the byte arithmetic below from wrapping.
constexpr uint64_t kMaxPieceFloats = uint64_t{1} << 60;

bool IsArrayName(const std::string& name) {
  return name == "model" || name == "adam_m" || name == "adam_v" || mf::IsExtraArrayName(name);
}

// Waits until dir holds rank-R.json for every R < world_size. Each is
// written atomically after its .bin is durable, so its presence is the
// signal that rank R is done.
Status WaitForRankIndexes(const std::string& dir, int world_size, double timeout_s) {
  std::vector<int> missing(static_cast<size_t>(world_size));
  for (int r = 0; r < world_size; ++r) missing[static_cast<size_t>(r)] = r;
  // Clamped so that an absurd timeout cannot overflow the clock.
  const double wait_s = std::isfinite(timeout_s) ? std::clamp(timeout_s, 0.0, 1e9) : 0.0;
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                            std::chrono::duration<double>(wait_s));
  for (;;) {
    std::erase_if(missing, [&](int r) {
      std::error_code ec;
      return fs::exists(JoinPath(dir, mf::RankFileName(r, ".json")), ec);
    });
    if (missing.empty()) return Status::OK();
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(kPollInterval);
  }
  std::string names;
  for (size_t i = 0; i < missing.size() && i < kMissingNamed; ++i) {
    names += (i ? ", " : "") + mf::RankFileName(missing[i], ".json");
  }
  if (missing.size() > kMissingNamed) names += " and " + std::to_string(missing.size() - kMissingNamed) + " more";
  char waited[32];
  std::snprintf(waited, sizeof(waited), "%g", wait_s);
  return Status::DeadlineExceeded(
      dir + ": after " + waited + " s, " + std::to_string(missing.size()) + " of " +
      std::to_string(world_size) + " ranks have not finished their shard (no " + names +
      "); every rank writes into this directory, so it must be on shared storage all ranks see");
}

// Reads rank r's index and checks its .bin against it.
Result<mf::RankIndex> ReadRankIndex(const std::string& dir, int rank) {
  const std::string index_name = mf::RankFileName(rank, ".json");
  const std::string index_path = JoinPath(dir, index_name);
  MERIDIAN_ASSIGN_OR_RETURN(std::string text, checkpoint_io::ReadSmallFile(index_path));
  MERIDIAN_ASSIGN_OR_RETURN(mf::RankIndex index, mf::ParseRankIndex(text, index_path, rank));
  const std::string bin_path = JoinPath(dir, index.file);
  MERIDIAN_ASSIGN_OR_RETURN(checkpoint_io::InputFile bin, checkpoint_io::InputFile::Open(bin_path));
  if (bin.size() != index.bytes) {
    return Status::Corruption(bin_path + ": size mismatch: " + index_name + " says " +
                              std::to_string(index.bytes) + " bytes, file has " + std::to_string(bin.size()));
  }
  return index;
}

Status CheckHeader(const std::string& where, int world_size, const CheckpointHeader& header) {
  if (world_size < 1) {
    return Status::InvalidArgument(where + ": world_size = " + std::to_string(world_size) + " must be >= 1");
  }
  const Status valid = ValidateConfig(header.config);
  if (!valid.ok()) return Status::InvalidArgument(where + ": " + valid.message());
  if (!checkpoint_io::CheckedParameterCount(header.config)) {
    return Status::InvalidArgument(where + ": the model config (" + DescribeConfig(header.config) +
                                   ") is impossibly large");
  }
  if (header.step < 0) {
    return Status::InvalidArgument(where + ": step = " + std::to_string(header.step) + " must be >= 0");
  }
  if (std::optional<std::string> defect = mf::ArrayListDefect(header.arrays)) {
    return Status::InvalidArgument(where + ": header arrays " + *defect);
  }
  return Status::OK();
}

}  // namespace

std::string ShardedTempDir(const std::string& root, int64_t step, const std::string& save_id) {
  return JoinPath(root, checkpoint_dir::StepDirName(step) + ".tmp-" + save_id);
}

Status WriteRankShard(const std::string& dir, int rank, const std::vector<ShardPiece>& pieces) {
  const std::string where = dir + ": rank " + std::to_string(rank);
  if (rank < 0) return Status::InvalidArgument(where + ": a rank must be >= 0");
  mf::RankIndex index;
  index.rank = rank;
  index.file = mf::RankFileName(rank, ".bin");
  std::vector<checkpoint_io::ByteSpan> spans;
  for (size_t i = 0; i < pieces.size(); ++i) {
    const ShardPiece& p = pieces[i];
    const std::string bad = where + ": piece " + std::to_string(i) + " (array '" + p.array + "', whole_offset " +
                            std::to_string(p.whole_offset) + ", count " + std::to_string(p.count) + ")";
    if (!IsArrayName(p.array)) return Status::InvalidArgument(bad + ": not an array name a checkpoint may hold");
    if (p.data == nullptr) return Status::InvalidArgument(bad + ": has no data");
    if (p.count == 0) return Status::InvalidArgument(bad + ": is empty");
    if (p.count > kMaxPieceFloats || p.whole_offset > kMaxPieceFloats) {
      return Status::InvalidArgument(bad + ": is impossibly large");
    }
    const uint64_t bytes = p.count * sizeof(float);
    index.pieces.push_back(mf::PieceEntry{p.array, p.whole_offset, p.count, index.file, index.bytes,
                                          checkpoint_io::Xxh64Hex(p.data, bytes)});
    spans.push_back({p.data, bytes});
    index.bytes += bytes;
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IOError(dir + ": cannot create directory: " + ec.message());
  MERIDIAN_RETURN_IF_ERROR(checkpoint_io::WriteFileDurably(JoinPath(dir, index.file), spans));
  // The .bin's directory entry must be durable before the index that
  // announces it is.
  MERIDIAN_RETURN_IF_ERROR(checkpoint_io::SyncDirectory(dir));
  const std::string text = mf::RenderRankIndex(index);
  return checkpoint_io::WriteFileAtomically(JoinPath(dir, mf::RankFileName(rank, ".json")),
                                            {{text.data(), text.size()}});
}

Status PublishShardedCheckpoint(const std::string& root, const std::string& dir, int world_size,
                                const CheckpointHeader& header, double timeout_s) {
  MERIDIAN_RETURN_IF_ERROR(CheckHeader("checkpoint " + dir, world_size, header));
  MERIDIAN_RETURN_IF_ERROR(WaitForRankIndexes(dir, world_size, timeout_s));

  mf::ShardedManifest m;
  m.run.config = header.config;
  m.run.step = header.step;
  m.run.num_parameters = *checkpoint_io::CheckedParameterCount(header.config);
  m.run.train_data = header.train_data;
  m.run.rng_state = header.rng_state;
  m.run.extra = header.extra;
  m.arrays = header.arrays;
  for (int r = 0; r < world_size; ++r) {
    MERIDIAN_ASSIGN_OR_RETURN(mf::RankIndex index, ReadRankIndex(dir, r));
    m.files.push_back(mf::RankFileEntry{index.file, index.bytes});
    for (mf::PieceEntry& p : index.pieces) m.pieces.push_back(std::move(p));
  }
  // The same checks a reader makes, so that nothing is published that
  // Open would refuse (above all: every array fully covered).
  MERIDIAN_RETURN_IF_ERROR(mf::CheckShardedLayout(m, dir));
  MERIDIAN_ASSIGN_OR_RETURN(std::string text, mf::RenderShardedManifest(m));
  MERIDIAN_RETURN_IF_ERROR(checkpoint_io::WriteFileDurably(JoinPath(dir, checkpoint_dir::kManifestFile),
                                                           {{text.data(), text.size()}}));
  MERIDIAN_RETURN_IF_ERROR(checkpoint_io::SyncDirectory(dir));
  const std::string name = checkpoint_dir::StepDirName(header.step);
  MERIDIAN_RETURN_IF_ERROR(checkpoint_dir::PublishStepDirectory(dir, JoinPath(root, name)));
  return checkpoint_dir::PointLatestAt(root, name);
}

}  // namespace meridian
