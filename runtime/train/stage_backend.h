// Where one rank's stage computes, chosen once from --device: the host
// model (the CPU's compute, or on a GPU a parameter-only mirror for
// checkpoints and sampling), the executor the pipeline drives, the memory
// the gradient sync works in, and the optimizer half of the step over
// those buffers. The trainer asks the backend instead of testing the
// device itself.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/device.h"
#include "common/status.h"
#include "runtime/comm/communicator.h"
#include "runtime/model/gpt_model.h"
#include "runtime/optim/adamw_optimizer.h"
#include "runtime/parallel/gradient_sync.h"
#include "runtime/parallel/pipeline_schedule.h"
#include "runtime/parallel/stage_executor.h"
#include "runtime/parallel/stage_memory.h"
#include "runtime/train/device_step.h"
#include "runtime/train/distributed_state.h"
#include "runtime/train/stage_update.h"

namespace meridian {

struct StageBackendOptions {
  Device device = Device::kCpu;
  DType dtype = DType::kFp32;
  int batch = 1, seq = 1;
  StageSpec stage;
  int stage_index = 0, pp = 1;
  // Micro-batches a step or an evaluation runs (the most in flight).
  int microbatches = 1;
  PipelineScheduleKind schedule = PipelineScheduleKind::k1F1B;
  AdamWConfig adam;
};

class StageBackend {
 public:
  static Result<std::unique_ptr<StageBackend>> Create(const GPTConfig& config, const StageBackendOptions& options);
  virtual ~StageBackend() = default;

  // The schedule the stage runs: on a GPU one stage always runs 1F1B (the
  // same gradients as GPipe, one micro-batch's activations instead of all).
  PipelineScheduleKind schedule() const { return schedule_; }
  GPTModel* model() { return model_.get(); }
  StageExecutor* executor() { return executor_.get(); }
  virtual StageMemory* memory() = 0;
  // Called as each layer's gradients are final in a backward pass (local
  // layer index, last first, then -1), wherever the backward runs.
  virtual void set_backward_hook(std::function<void(int)> hook) = 0;
  // The memory line of the start-up log.
  virtual std::string Describe(const AdamWOptimizer& optimizer, bool zero1) const = 0;

  // AdamW and `sync` over this backend's buffers (sync created with memory()).
  virtual Result<std::unique_ptr<StageUpdate>> CreateUpdate(AdamWOptimizer* optimizer, GradientSync* sync) = 0;
  // How gathered host copies of the stages cross `world` (a GPU's world
  // carries device buffers).
  virtual void ConnectHostTransfers(DistributedState* state, Communicator* world) = 0;
  // The host model (and, with an optimizer, the host moments) catch up
  // with the device's; nothing to do on the CPU.
  virtual Status SyncHostCopy(AdamWOptimizer* optimizer) = 0;
  // The other way, once the host holds the starting weights and moments
  // (initialised, imported or restored).
  virtual Status UploadHostCopy(AdamWOptimizer* optimizer) = 0;

 protected:
  PipelineScheduleKind schedule_ = PipelineScheduleKind::k1F1B;
  std::unique_ptr<GPTModel> model_;
  std::unique_ptr<StageExecutor> executor_;
};

}  // namespace meridian
