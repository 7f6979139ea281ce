// Fused softmax + cross-entropy, one block per row. The first pass keeps an
// online (max, sum of exp(x - max)) pair per thread, rescaling the sum when
// the max grows, so the row is read once for both statistics; the pairs are
// merged across the block. The second pass overwrites the row with dlogits.
#include "kernels/cuda/classifier.cuh"

#include <cmath>
#include <string>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/warp_reduce.cuh"

namespace meridian::cuda {

namespace {

constexpr int kThreads = 512;
constexpr int kWarps = kThreads / kWarpSize;

// (m, s) <- the pair for the union of both element sets. A -inf max means
// "no finite element yet" and contributes nothing (exp(-inf - -inf) would be
// NaN); a NaN anywhere still reaches the sum.
__device__ inline void MergeMaxSum(float& m, float& s, float om, float os) {
  if (om > m) {
    s = s * expf(m - om) + os;
    m = om;
  } else if (om != -INFINITY) {
    s += os * expf(om - m);
  }
}

// grid N, block kThreads; block n owns row n.
template <typename T>
__global__ void __launch_bounds__(kThreads)
    SoftmaxCrossEntropyKernel(T* logits, float* losses, const int* targets, int V, int Vp, float dloss,
                              bool compute_grad) {
  __shared__ float warp_max[kWarps], warp_sum[kWarps];
  __shared__ float row_stats[2];
  const int n = blockIdx.x;
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  T* row = logits + (size_t)n * Vp;
  const int target = targets[n];
  const bool target_ok = target >= 0 && target < V;
  // Read before the barriers below; the gradient pass overwrites the row.
  const float target_logit = target_ok ? ToFloat(row[target]) : 0.0f;

  float m = -INFINITY, s = 0.0f;
  for (int j = threadIdx.x; j < V; j += kThreads) {
    const float x = ToFloat(row[j]);
    if (x > m) {
      s = s * expf(m - x) + 1.0f;
      m = x;
    } else if (x != -INFINITY) {
      s += expf(x - m);
    }
  }
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
    const float om = __shfl_xor_sync(0xffffffffu, m, offset);
    const float os = __shfl_xor_sync(0xffffffffu, s, offset);
    MergeMaxSum(m, s, om, os);
  }
  if (lane == 0) {
    warp_max[warp] = m;
    warp_sum[warp] = s;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    float bm = warp_max[0], bs = warp_sum[0];
    for (int w = 1; w < kWarps; ++w) MergeMaxSum(bm, bs, warp_max[w], warp_sum[w]);
    row_stats[0] = bm;
    row_stats[1] = bs;
    // A target outside [0, V) breaks the REQUIRES; report NaN rather than
    // read outside the row.
    losses[n] = target_ok ? logf(bs) - (target_logit - bm) : NAN;
  }
  __syncthreads();
  if (!compute_grad) return;
  const float row_max = row_stats[0];
  const float scale = dloss / row_stats[1];
  for (int j = threadIdx.x; j < Vp; j += kThreads) {
    float g = 0.0f;
    if (j < V) {
      // The CPU kernel's order: softmax * dloss, then dloss off the target.
      g = expf(ToFloat(row[j]) - row_max) * scale;
      if (j == target) g -= dloss;
    }
    row[j] = FromFloat<T>(g);
  }
}

}  // namespace

template <typename T>
Status SoftmaxCrossEntropy(T* logits, float* losses, const int* targets, int N, int V, int Vp, float dloss,
                           bool compute_grad, cudaStream_t stream) {
  if (N < 0) return Status::InvalidArgument("SoftmaxCrossEntropy: N=" + std::to_string(N) + " is negative");
  if (V < 1 || Vp < V) {
    return Status::InvalidArgument("SoftmaxCrossEntropy: need 1 <= V <= Vp, got V=" + std::to_string(V) +
                                   " Vp=" + std::to_string(Vp));
  }
  if (N == 0) return Status::OK();
  if (logits == nullptr || losses == nullptr || targets == nullptr) {
    return Status::InvalidArgument("SoftmaxCrossEntropy: null logits, losses or targets");
  }
  SoftmaxCrossEntropyKernel<T><<<(unsigned)N, kThreads, 0, stream>>>(logits, losses, targets, V, Vp, dloss,
                                                                       compute_grad);
  MERIDIAN_CUDA_CHECK(cudaGetLastError());
  return Status::OK();
}

template Status SoftmaxCrossEntropy<float>(float*, float*, const int*, int, int, int, float, bool, cudaStream_t);
template Status SoftmaxCrossEntropy<bf16>(bf16*, float*, const int*, int, int, int, float, bool, cudaStream_t);

}  // namespace meridian::cuda
