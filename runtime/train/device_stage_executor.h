// A DeviceStep (this rank's pipeline stage on its GPU) as the pipeline's
// stage executor, so the trainer runs GPU and CPU steps through the same
// pipeline runner. Boundary buffers are the step's device memory and go to
// the Communicator (NCCL) as they are; losses stay on the device until the
// runner takes the step's sum.
#pragma once

#include <memory>

#include "runtime/parallel/stage_executor.h"
#include "runtime/train/device_step.h"

namespace meridian {

// `step` outlives the executor; B x T is every micro-batch's shape.
std::unique_ptr<StageExecutor> DeviceStageExecutor(DeviceStep* step, int B, int T);

}  // namespace meridian
