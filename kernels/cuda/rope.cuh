// Rotary position embeddings, "rotate half" as kernels/cpu/rope.h: within a
// head of size hs, channel i < hs/2 pairs with channel i + hs/2, and the pair
// at position t turns by the angle whose cos/sin are tables (T, hs/2) in
// float on the device:
//   out[i]        = x[i] cos - x[i + hs/2] sin
//   out[i + hs/2] = x[i + hs/2] cos + x[i] sin
// The math is float for either storage.
#pragma once

#include <cuda_runtime.h>

#include "common/status.h"
#include "kernels/cuda/dtype.cuh"

namespace meridian::cuda {

// Rotates the first `heads` heads of each (B,T) row of x in place; a row is
// `row_stride` elements (the q and k heads of a fused qkv row come first).
// cos, sin (T_, hs/2). REQUIRES: hs even, heads * hs <= row_stride.
template <typename T>
Status RopeForward(T* x, const float* cos, const float* sin, int B, int T_, int heads, int hs, int row_stride,
                   cudaStream_t stream);

// The inverse rotation, in place on the gradient of the rotated heads: the
// gradient of the heads before rotation.
template <typename T>
Status RopeBackward(T* dx, const float* cos, const float* sin, int B, int T_, int heads, int hs, int row_stride,
                    cudaStream_t stream);

}  // namespace meridian::cuda
