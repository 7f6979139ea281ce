#include "runtime/train/checkpointer.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "runtime/parallel/stage_params.h"

namespace meridian {

Result<std::unique_ptr<Checkpointer>> Checkpointer::Create(CheckpointerOptions options, const ParameterLayout& whole,
                                                           const ParameterLayout& stage, Communicator* world) {
  // Every rank of one save writes into the same temporary directory: its
  // name carries an id of this run, rank 0's, agreed on once (a sum in
  // which only rank 0's term is not zero; below 2^53, exact in a double).
  const uint64_t now_us = (uint64_t)std::chrono::duration_cast<std::chrono::microseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
  double id = world->rank() == 0 ? (double)((((uint64_t)getpid() & 0x3fffffu) << 30) | (now_us & 0x3fffffffu)) : 0.0;
  MERIDIAN_RETURN_IF_ERROR(world->AllReduceDouble(&id, 1, ReduceOp::kSum));
  char save_id[32];
  std::snprintf(save_id, sizeof(save_id), "%llx", (unsigned long long)id);
  return std::unique_ptr<Checkpointer>(new Checkpointer(std::move(options), whole, stage, world, save_id));
}

Checkpointer::~Checkpointer() {
  if (writer_.joinable()) writer_.join();
}

Status Checkpointer::Agree(Status mine, const std::string& what) {
  double failed = mine.ok() ? 0.0 : 1.0;
  MERIDIAN_RETURN_IF_ERROR(world_->AllReduceDouble(&failed, 1, ReduceOp::kSum));
  if (!mine.ok()) return mine;
  if (failed > 0) return Status::Internal(what + " failed on " + std::to_string((int)failed) + " other rank(s)");
  return Status::OK();
}

Status Checkpointer::Wait() {
  if (writer_.joinable()) writer_.join();
  Status s = written_;
  written_ = Status::OK();
  snapshot_.clear();
  return Agree(s, "the previous checkpoint");
}

Status Checkpointer::Save(const CheckpointHeader& header, const std::vector<HeldArray>& arrays,
                          const GatherFn& gather) {
  MERIDIAN_RETURN_IF_ERROR(Wait());
  if (!options_.sharded) return SaveWhole(header, gather);
  // The copy is all the step waits for.
  std::vector<ShardPiece> pieces;
  snapshot_.clear();
  snapshot_.reserve(arrays.size());
  for (const HeldArray& a : arrays) {
    if (a.write_begin >= a.write_end) continue;
    const float* from = a.data + (a.write_begin - a.begin);
    snapshot_.emplace_back(from, from + (a.write_end - a.write_begin));
    for (const StageRun& run : StageRunsIn(whole_, stage_, a.write_begin, a.write_end)) {
      pieces.push_back(ShardPiece{a.name, run.whole_offset, run.count,
                                  snapshot_.back().data() + (run.stage_offset - a.write_begin)});
    }
  }
  const std::string dir = ShardedTempDir(options_.dir, header.step, save_id_);
  const int rank = world_->rank(), world_size = world_->size();
  writer_ = std::thread([this, dir, rank, world_size, header, pieces = std::move(pieces)] {
    written_ = WriteRankShard(dir, rank, pieces);
    if (written_.ok() && rank == 0) {
      written_ = PublishShardedCheckpoint(options_.dir, dir, world_size, header, options_.publish_timeout_s);
      if (written_.ok() && options_.keep_last > 0) written_ = PruneCheckpoints(options_.dir, options_.keep_last);
    }
  });
  return Status::OK();
}

Status Checkpointer::SaveWhole(const CheckpointHeader& header, const GatherFn& gather) {
  TrainingCheckpoint ckpt;
  MERIDIAN_RETURN_IF_ERROR(gather(&ckpt));
  Status saved = Status::OK();
  if (world_->rank() == 0) {
    ckpt.config = header.config;
    ckpt.step = header.step;
    ckpt.train_data = header.train_data;
    ckpt.rng_state = header.rng_state;
    ckpt.extra = header.extra;
    saved = SaveCheckpoint(options_.dir, ckpt);
    if (saved.ok() && options_.keep_last > 0) saved = PruneCheckpoints(options_.dir, options_.keep_last);
  }
  return Agree(saved, "the checkpoint at step " + std::to_string(header.step));
}

Status Checkpointer::ReadStageRange(CheckpointReader& reader, const std::string& array, size_t begin, size_t end,
                                    float* dst) const {
  for (const StageRun& run : StageRunsIn(whole_, stage_, begin, end)) {
    MERIDIAN_RETURN_IF_ERROR(reader.Read(array, run.whole_offset, run.count, dst + (run.stage_offset - begin)));
    if (loading_ != nullptr) loading_->Advance(run.count * sizeof(float));
  }
  return Status::OK();
}

Result<std::string> Checkpointer::RestoreNewest(const LoadFn& load) {
  // Every rank walks the same list (the directory is shared) and they move
  // on together: a checkpoint counts only if it loads everywhere.
  Result<std::vector<std::string>> dirs = ListCheckpoints(options_.dir);
  if (!dirs.ok()) return dirs.status();
  std::string newest_error;
  for (const std::string& dir : *dirs) {
    Status mine = Status::OK();
    Result<std::unique_ptr<CheckpointReader>> reader = CheckpointReader::Open(dir);
    {
      // Rank 0's reads stand for every rank's.
      std::unique_ptr<ProgressBar> bar;
      if (world_->rank() == 0) bar = std::make_unique<ProgressBar>("loading " + dir, 0);
      loading_ = bar.get();
      mine = reader.ok() ? load(**reader) : reader.status();
      loading_ = nullptr;
    }
    Status all = Agree(mine, "loading " + dir);
    if (all.ok()) return dir;
    if (world_->rank() == 0 || !mine.ok())
      std::fprintf(stderr, "warning: [rank %d] resume: skipping checkpoint %s: %s\n", world_->rank(), dir.c_str(),
                   all.ToString().c_str());
    if (newest_error.empty()) newest_error = all.message();
  }
  if (dirs->empty()) return Status::NotFound(options_.dir + ": no checkpoint yet");
  // Starting over would silently throw the run away.
  return Status::Corruption(options_.dir + ": no checkpoint loads (" + std::to_string(dirs->size()) +
                            " tried; the newest: " + newest_error + ")");
}

}  // namespace meridian
