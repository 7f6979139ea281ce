// A whole model on one GPU (DeviceStep) as the pipeline's stage executor,
// so the trainer runs GPU and CPU steps through the same pipeline runner.
// One stage (pp 1) and one micro-batch in flight (the runner's 1F1B
// schedule): nothing crosses a stage boundary.
#pragma once

#include <memory>

#include "runtime/parallel/stage_executor.h"
#include "runtime/train/device_step.h"

namespace meridian {

// `step` outlives the executor; B x T is every micro-batch's shape.
std::unique_ptr<StageExecutor> DeviceStageExecutor(DeviceStep* step, int B, int T);

}  // namespace meridian
