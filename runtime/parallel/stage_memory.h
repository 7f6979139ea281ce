// Where a stage's flat float buffers (weights, gradients) live, and the few
// operations gradient synchronisation does on them besides communicating.
// The strategies (gradient_sync.h, diloco.h) reach those buffers only
// through a StageMemory and the communicators, so one strategy serves the
// CPU path (host memory, MPI) and the GPU path (device memory, NCCL): the
// device itself stays behind this interface (runtime/train's DeviceStep
// provides the GPU's).
//
// Buffers handed to a StageMemory's methods are its own kind of memory
// unless a parameter says "host". Every method has finished with the
// buffers it was given when it returns OK, as the blocking collectives do.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

#include "common/status.h"

namespace meridian {

// A buffer of floats in a StageMemory; freed where it was allocated.
using StageBuffer = std::unique_ptr<float[], std::function<void(float*)>>;

class StageMemory {
 public:
  virtual ~StageMemory() = default;

  // `count` floats in this memory, contents unspecified.
  virtual Result<StageBuffer> Allocate(size_t count) = 0;
  // data[i] *= factor, in float, for i < count.
  virtual Status Scale(float* data, size_t count, float factor) = 0;
  // dst[i] = src[i] for i < count (the ranges do not overlap).
  virtual Status Copy(float* dst, const float* src, size_t count) = 0;
  // Between this memory and host memory.
  virtual Status ToHost(float* host, const float* src, size_t count) = 0;
  virtual Status FromHost(float* dst, const float* host, size_t count) = 0;
  // A strategy rewrote the stage's weights `params` (`count` floats, the
  // whole stage buffer) outside the optimizer: an all-gather of shards or
  // an outer step. Memory that computes with another copy of the weights
  // (bf16 on a GPU) refreshes it here.
  virtual Status WeightsChanged(float* params, size_t count) {
    (void)params, (void)count;
    return Status::OK();
  }
};

// Host memory (the CPU path, and MPI's buffers). Stateless and shared.
StageMemory* HostMemory();

}  // namespace meridian
