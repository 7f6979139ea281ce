// A rank's share of the training state and how it moves between ranks and
// checkpoints, for every layout: its stage's weights, its shard of the
// AdamW moments (gradient_sync.h decides which), and DiLoCo's per data
// center state. Gathers the whole model on world rank 0 (whole-format
// checkpoints, the llm.c export, sampling), says what this rank writes of
// a sharded checkpoint, and restores its ranges from a checkpoint written
// by any layout.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/status.h"
#include "runtime/checkpoint/checkpoint.h"
#include "runtime/checkpoint/sharded_checkpoint.h"
#include "runtime/comm/communicator.h"
#include "runtime/model/gpt_model.h"
#include "runtime/optim/adamw_optimizer.h"
#include "runtime/parallel/data_centers.h"
#include "runtime/parallel/gradient_sync.h"
#include "runtime/parallel/parallel_layout.h"
#include "runtime/parallel/process_groups.h"
#include "runtime/train/checkpointer.h"

namespace meridian {

class DistributedState {
 public:
  // Everything is the trainer's and must outlive this; `model` and
  // `optimizer` hold host memory (the GPU's copy is downloaded first).
  DistributedState(const GPTConfig& config, const ParallelLayout& layout, const std::vector<StageSpec>& stages,
                   const ProcessGroups& groups, const DataCenterMap& data_centers, GPTModel* model,
                   AdamWOptimizer* optimizer, GradientSync* sync);

  // The whole model (and, with_optimizer, the AdamW moments, and DiLoCo's
  // state as extra arrays) on world rank 0; other ranks get empty arrays.
  // Collective over the world.
  Status GatherWhole(bool with_optimizer, TrainingCheckpoint* out);
  // What this rank holds and writes of a sharded checkpoint.
  std::vector<HeldArray> HeldArrays() const;
  // The arrays a checkpoint of this layout holds.
  std::vector<std::string> ArrayNames() const;
  // Checks that the checkpoint's model is this one and reads the ranges
  // this rank holds (weights, moments, the optimizer's step, DiLoCo state
  // saved by the same data-center layout). InvalidArgument for another
  // model or a checkpoint without optimizer state.
  Status Restore(CheckpointReader& reader, const Checkpointer& checkpointer);

  // How a gather moves a host array to or from another world rank. By
  // default the world's own Send/Recv; where the world's float buffers are
  // device memory (NCCL), the trainer stages them through its GPU.
  using HostSendFn = std::function<Status(const float* host, size_t count, int peer, int tag)>;
  using HostRecvFn = std::function<Status(float* host, size_t count, int peer, int tag)>;
  void set_host_transfer(HostSendFn send, HostRecvFn recv) {
    send_ = std::move(send);
    recv_ = std::move(recv);
  }

 private:
  // Stage arrays of one replica -> whole-model arrays on world rank 0.
  Status GatherToRoot(int replica, const std::vector<const float*>& stage_arrays,
                      std::vector<std::vector<float>*> whole_arrays);

  const GPTConfig& config_;
  const ParallelLayout& layout_;
  const std::vector<StageSpec>& stages_;
  const ProcessGroups& groups_;
  GPTModel* model_;
  AdamWOptimizer* optimizer_;
  GradientSync* sync_;
  std::vector<int> dc_first_replica_;          // data center -> its lowest replica index (-1: none)
  std::vector<std::vector<int>> dc_replicas_;  // data center -> its replica indices
  HostSendFn send_;                            // unset: groups_.world->Send
  HostRecvFn recv_;                            // unset: groups_.world->Recv
};

}  // namespace meridian
