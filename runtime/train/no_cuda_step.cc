// --device cuda in a build without CUDA (no nvcc or no NCCL found).
#include "runtime/train/device_step.h"

namespace meridian {

Result<std::unique_ptr<DeviceStep>> CreateCudaStep(const GPTConfig&, const DeviceStepOptions&) {
  return Status::FailedPrecondition("--device cuda: this meridian-train was built without CUDA and NCCL");
}

Result<std::unique_ptr<Communicator>> SetUpCudaWorld(std::unique_ptr<Communicator>, int) {
  return Status::FailedPrecondition("--device cuda: this meridian-train was built without CUDA and NCCL");
}

}  // namespace meridian
