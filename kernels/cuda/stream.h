// The process's compute stream. The model's kernels run on it; the NCCL
// communicator orders its own stream against it with events, so gradients
// are reduced only after the kernels that produced them.
#pragma once

#include <cuda_runtime.h>

#include "common/status.h"

namespace meridian::cuda {

// Selects `device` for this process and creates the compute stream on it.
// Must be called once, before any other GPU work.
Status InitializeDevice(int device);

// The stream created by InitializeDevice (the legacy default stream before).
cudaStream_t ComputeStream();

// Device this process uses, or -1 before InitializeDevice.
int CurrentDevice();

}  // namespace meridian::cuda
