// Causal self-attention, multi-head or grouped-query, as a fused, tiled
// kernel (the flash attention algorithm): scores live only in registers and
// shared memory, the T x T matrix is never written to device memory. The
// forward saves each query row's log-sum-exp; the backward recomputes
// probabilities from it. Same layout and scale (1/sqrt(head size)) as
// kernels/cpu/attention.h: a qkv row holds NH query heads, then KVH key
// heads, then KVH value heads, each hs wide, and query head h reads key/value
// head h / (NH / KVH). GPT-2 is KVH = NH, hs = C / NH.
#pragma once

#include <cuda_runtime.h>

#include "common/status.h"
#include "kernels/cuda/dtype.cuh"

namespace meridian::cuda {

// Head sizes the kernels are instantiated for; others are refused.
bool AttentionSupportsHeadSize(int head_size);

// out (B,T,NH*hs) attention output; lse (B,NH,T, float) log-sum-exp of each
// query row's scaled scores; qkv (B,T,(NH+2KVH)*hs).
// REQUIRES: NH a multiple of KVH; hs supported (AttentionSupportsHeadSize).
template <typename T>
Status AttentionForward(T* out, float* lse, const T* qkv, int B, int T_, int NH, int KVH, int hs,
                        cudaStream_t stream);

// dqkv (B,T,(NH+2KVH)*hs) = gradient of qkv (overwritten); the key and value
// gradients of a shared head are the sums over its NH/KVH query heads, added
// in a fixed order (deterministic). out and lse are the forward's; delta
// (B,NH,T, float) is workspace.
template <typename T>
Status AttentionBackward(T* dqkv, float* delta, const T* dout, const T* out, const T* qkv, const float* lse, int B,
                         int T_, int NH, int KVH, int hs, cudaStream_t stream);

// Multi-head attention: out (B,T,C), qkv (B,T,3C) holds q, k, v side by side
// (KVH = NH, hs = C / NH).
template <typename T>
Status AttentionForward(T* out, float* lse, const T* qkv, int B, int T_, int C, int NH, cudaStream_t stream);

template <typename T>
Status AttentionBackward(T* dqkv, float* delta, const T* dout, const T* out, const T* qkv, const float* lse, int B,
                         int T_, int C, int NH, cudaStream_t stream);

}  // namespace meridian::cuda
