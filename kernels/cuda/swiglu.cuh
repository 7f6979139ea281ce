// SwiGLU, Llama's MLP activation, as kernels/cpu/swiglu.h:
// out = silu(gate) * up, silu(x) = x sigmoid(x). Row n of gate_up (N, 2F)
// holds gate in [0, F) and up in [F, 2F). The math is float for either
// storage.
#pragma once

#include <cuda_runtime.h>

#include "common/status.h"
#include "kernels/cuda/dtype.cuh"

namespace meridian::cuda {

// out (N,F)
template <typename T>
Status SwigluForward(T* out, const T* gate_up, int N, int F, cudaStream_t stream);

// dgate_up (N,2F) = gradient of gate_up (overwritten); dout (N,F).
template <typename T>
Status SwigluBackward(T* dgate_up, const T* gate_up, const T* dout, int N, int F, cudaStream_t stream);

}  // namespace meridian::cuda
