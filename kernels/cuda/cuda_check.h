// Every CUDA runtime call is checked; a failure names the call's file and
// line. Device code paths report errors as Status, never abort.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "common/status.h"

namespace meridian::cuda {

inline Status CudaStatus(cudaError_t err, const char* file, int line) {
  if (err == cudaSuccess) return Status::OK();
  return Status::Internal(std::string(file) + ":" + std::to_string(line) + ": CUDA error " +
                          cudaGetErrorName(err) + ": " + cudaGetErrorString(err));
}

// Number of usable CUDA devices; 0 (not an error) where there is no driver
// or no GPU, which is how CPU-only machines answer.
int DeviceCount();

}  // namespace meridian::cuda

#define MERIDIAN_CUDA_CHECK(expr) \
  MERIDIAN_RETURN_IF_ERROR(::meridian::cuda::CudaStatus((expr), __FILE__, __LINE__))
