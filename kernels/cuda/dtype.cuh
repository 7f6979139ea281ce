// Storage types of the GPU path. Activations and the compute copy of the
// weights are float (--dtype fp32) or bf16 (--dtype bf16); master weights,
// gradients, optimizer moments, LayerNorm statistics and every accumulation
// stay float. Kernels are templates over the storage type, instantiated for
// exactly these two.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

namespace meridian::cuda {

using bf16 = __nv_bfloat16;

enum class DType { kFloat32, kBFloat16 };

__host__ __device__ inline float ToFloat(float x) { return x; }
__host__ __device__ inline float ToFloat(bf16 x) { return __bfloat162float(x); }

template <typename T>
__host__ __device__ inline T FromFloat(float x);
template <>
__host__ __device__ inline float FromFloat<float>(float x) {
  return x;
}
template <>
__host__ __device__ inline bf16 FromFloat<bf16>(float x) {
  return __float2bfloat16_rn(x);
}

template <typename T>
constexpr DType DTypeOf();
template <>
constexpr DType DTypeOf<float>() {
  return DType::kFloat32;
}
template <>
constexpr DType DTypeOf<bf16>() {
  return DType::kBFloat16;
}

inline size_t SizeOf(DType t) { return t == DType::kFloat32 ? 4 : 2; }
inline const char* DTypeName(DType t) { return t == DType::kFloat32 ? "fp32" : "bf16"; }

}  // namespace meridian::cuda
