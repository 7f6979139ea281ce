// Fully connected layers through cuBLASLt (kernels/cpu/matmul.h on the GPU):
// weights [out, in] row-major, float accumulation, the bias (and GELU where
// cuBLASLt's epilogues allow) fused into the GEMM.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <memory>
#include <string>

#include "common/status.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/dtype.cuh"

namespace meridian::cuda {

// Every cuBLAS(Lt) call is checked; a failure names the call's file and line.
Status CublasStatus(cublasStatus_t status, const char* file, int line);
#define MERIDIAN_CUBLAS_CHECK(expr) \
  MERIDIAN_RETURN_IF_ERROR(::meridian::cuda::CublasStatus((expr), __FILE__, __LINE__))

// The cuBLASLt handle and its workspace; one per process (not thread-safe).
class MatmulContext {
 public:
  static Result<std::unique_ptr<MatmulContext>> Create();
  ~MatmulContext();
  cublasLtHandle_t handle() const { return handle_; }
  void* workspace() { return workspace_.data(); }
  size_t workspace_bytes() const { return workspace_.size(); }
  // Whether the GELU epilogue ran fused in the latest forward that asked for it.
  bool gelu_fused() const { return gelu_fused_; }
  void set_gelu_fused(bool fused) { gelu_fused_ = fused; }

 private:
  MatmulContext() = default;
  cublasLtHandle_t handle_ = nullptr;
  DeviceBuffer<unsigned char> workspace_;
  bool gelu_fused_ = false;
};

// out (N,OC) = inp (N,C) @ weight (OC,C)^T + bias (OC); bias may be null.
// With pre_gelu non-null: pre_gelu = that result and out = gelu(pre_gelu)
// (the epilogue when cuBLASLt offers it, else a separate GELU kernel).
template <typename T>
Status MatmulForward(MatmulContext* ctx, T* out, T* pre_gelu, const T* inp, const T* weight, const T* bias, int N,
                     int C, int OC, cudaStream_t stream);

// dinp (N,C) = dout (N,OC) @ weight (OC,C) (overwritten; may be null);
// dweight (OC,C, float) += dout^T @ inp; dbias (OC, float) += column sums of
// dout (may be null).
template <typename T>
Status MatmulBackward(MatmulContext* ctx, T* dinp, float* dweight, float* dbias, const T* dout, const T* inp,
                      const T* weight, int N, int C, int OC, cudaStream_t stream);

// Plain row-major C (M,N) = A (M,K) @ B (N,K)^T in storage type T, float
// accumulation: the GEMM rate the benchmark measures as its ceiling.
template <typename T>
Status Gemm(MatmulContext* ctx, T* c, const T* a, const T* b, int M, int N, int K, cudaStream_t stream);

}  // namespace meridian::cuda
