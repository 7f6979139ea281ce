// Warp- and block-level sums shared by the reduction kernels. Every lane
// (thread) ends with the full result, so no broadcast step is needed.
#pragma once

#include <cuda_runtime.h>

namespace meridian::cuda {

constexpr int kWarpSize = 32;

// REQUIRES: all 32 lanes of the warp call it.
template <typename Acc>
__device__ inline Acc WarpSum(Acc v) {
#pragma unroll
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// Sum over the block. REQUIRES: blockDim.x a multiple of 32 and at most
// 1024, every thread of the block calls it; `scratch` holds 32 values.
// Ends with a barrier, so scratch may be reused right after.
template <typename Acc>
__device__ inline Acc BlockSum(Acc v, Acc* scratch) {
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  const int warps = blockDim.x / kWarpSize;
  v = WarpSum(v);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < warps ? scratch[lane] : Acc(0);
  v = WarpSum(v);
  __syncthreads();
  return v;
}

}  // namespace meridian::cuda
