// The trainer's checkpoints, saved and restored by every rank together.
//
// Sharded (the default): each rank copies the part of the training state it
// writes into a host buffer and writes it in the background, to its own
// file; world rank 0 then publishes the step once every rank's file is
// durable (runtime/checkpoint/sharded_checkpoint.h). Training goes on while
// the files are written; the next save first waits for the previous one.
// Whole (--checkpoint-format whole): the version 1 path, the whole model
// gathered to rank 0, which writes it; for a checkpoint directory that not
// every host sees.
//
// Restoring reads either format into any layout: each rank reads only the
// ranges it holds. The newest checkpoint that every rank reads without
// error wins; a corrupted or half-written newer one is skipped with a
// warning naming the bad file.
#pragma once

#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "common/progress_bar.h"
#include "common/status.h"
#include "runtime/checkpoint/sharded_checkpoint.h"
#include "runtime/comm/communicator.h"
#include "runtime/model/parameter_layout.h"

namespace meridian {

// One array of the training state as this rank holds it, in its stage's
// layout: data[0] is stage offset `begin`.
struct HeldArray {
  std::string name;  // "model", "adam_m", "adam_v", or an extra array name ("dc1.adam_m")
  const float* data = nullptr;
  size_t begin = 0, end = 0;               // the stage range held
  size_t write_begin = 0, write_end = 0;   // the part this rank writes (inside [begin, end); may be empty)
};

struct CheckpointerOptions {
  std::string dir;
  bool sharded = true;
  int keep_last = 0;           // 0: keep all
  double publish_timeout_s = 300.0;
};

class Checkpointer {
 public:
  // Collective over `world` (agrees on an id for this run's saves).
  static Result<std::unique_ptr<Checkpointer>> Create(CheckpointerOptions options, const ParameterLayout& whole,
                                                      const ParameterLayout& stage, Communicator* world);
  ~Checkpointer();  // waits for a save in flight

  // Saves step `header.step` (the header counts on world rank 0 only).
  // Sharded: copies what this rank writes and returns; the write goes on
  // in the background. Whole: `gather` assembles the whole model on rank 0
  // (collective) and rank 0 writes it. Either way every rank learns of a
  // failure: of the previous save, at the latest at the next Save or Wait.
  using GatherFn = std::function<Status(TrainingCheckpoint* whole)>;
  Status Save(const CheckpointHeader& header, const std::vector<HeldArray>& arrays, const GatherFn& gather);
  // The save in flight is done (and published), or its error. Collective.
  Status Wait();

  // Tries the checkpoints under the directory newest first: `load` reads
  // one into this rank's state (with ReadStageRange); the first that loads
  // on every rank wins and its path is returned. NotFound when there is
  // none; Corruption when none loads. Collective.
  using LoadFn = std::function<Status(CheckpointReader& reader)>;
  Result<std::string> RestoreNewest(const LoadFn& load);

  // Stage range [begin, end) of `array` from the checkpoint into dst
  // (dst[0] is stage offset `begin`).
  Status ReadStageRange(CheckpointReader& reader, const std::string& array, size_t begin, size_t end,
                        float* dst) const;

 private:
  Checkpointer(CheckpointerOptions options, const ParameterLayout& whole, const ParameterLayout& stage,
               Communicator* world, std::string save_id)
      : options_(std::move(options)), whole_(whole), stage_(stage), world_(world), save_id_(std::move(save_id)) {}
  Status SaveWhole(const CheckpointHeader& header, const GatherFn& gather);
  // Every rank's status, agreed: the first failure anywhere, or OK.
  Status Agree(Status mine, const std::string& what);

  CheckpointerOptions options_;
  ParameterLayout whole_, stage_;
  Communicator* world_;
  std::string save_id_;
  std::thread writer_;
  Status written_;  // the background writer's result, read after join
  std::vector<std::vector<float>> snapshot_;  // what the writer writes
  ProgressBar* loading_ = nullptr;  // while RestoreNewest loads, on rank 0
};

}  // namespace meridian
