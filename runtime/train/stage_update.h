// The optimizer half of a training step for this rank's stage, after its
// backward: gradient synchronisation (the GradientSync strategy), the
// global gradient norm, AdamW over the shard this rank owns, and the
// strategy's work after the update (ZeRO-1's all-gather, DiLoCo's outer
// step). Chosen once at start-up: on the host model (the CPU path) or on
// a DeviceStep (the GPU path, whose buffers the strategy reaches through
// the step's StageMemory). The trainer calls the same methods either way.
#pragma once

#include <memory>

#include "common/status.h"
#include "runtime/model/gpt_model.h"
#include "runtime/optim/adamw_optimizer.h"
#include "runtime/parallel/gradient_sync.h"
#include "runtime/train/device_step.h"

namespace meridian {

class StageUpdate {
 public:
  // `model` holds the stage's weights and gradients; `optimizer` its
  // shard's AdamW state (sync's shard). All outlive the update.
  static std::unique_ptr<StageUpdate> OnHost(GPTModel* model, AdamWOptimizer* optimizer, GradientSync* sync);
  // AdamW runs on `step`'s device over sync's shard (the step is told the
  // shard here, its moments zeroed); `optimizer` counts the steps and is
  // the host copy of the moments that checkpoints read and write
  // (DeviceStep::Download/Upload). `sync` must have been created with
  // step->memory(). All outlive the update.
  static Result<std::unique_ptr<StageUpdate>> OnDevice(DeviceStep* step, AdamWOptimizer* optimizer,
                                                       GradientSync* sync);
  virtual ~StageUpdate() = default;

  // The stage buffers the strategy works on (device memory on the GPU path).
  virtual float* grads() = 0;
  virtual float* params() = 0;

  // After the step's backward: the replicas' gradients combined (the
  // strategy's Finish).
  Status Synchronize() { return sync_->Finish(grads()); }
  // The L2 norm of the gradients of the whole model over every replica
  // (each gradient counted once). Collective over the strategy's norm group.
  Result<double> GlobalGradNorm();
  // AdamW over the shard (gradients times grad_scale), then the strategy's
  // AfterOptimizerStep: every rank holds its whole stage's new weights.
  virtual Status OptimizerStep(float lr, float grad_scale) = 0;
  // After optimizer step `step` (from 1): the strategy's AfterStep.
  Status AfterStep(long step) { return sync_->AfterStep(step, params()); }

 protected:
  StageUpdate(const ParameterLayout& layout, AdamWOptimizer* optimizer, GradientSync* sync)
      : layout_(layout), optimizer_(optimizer), sync_(sync) {}
  // Sum of squares of gradients [begin, end) of the stage buffer.
  virtual Result<double> GradSumOfSquares(size_t begin, size_t end) = 0;

  const ParameterLayout& layout_;
  AdamWOptimizer* optimizer_;
  GradientSync* sync_;
};

}  // namespace meridian
