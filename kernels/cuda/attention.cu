// Fused causal attention in the flash-attention manner, written for
// correctness first: one thread owns one row (a query row in the forward and
// dQ kernels, a key row in the dK/dV kernel), keeps that row's accumulators in
// float registers, and walks the rows it interacts with as tiles staged in
// shared memory. No T x T matrix ever reaches device memory.
//
// Shared memory reads come in two kinds. A staged tile row is read by every
// thread of a warp at the same address (a broadcast), so those tiles are not
// padded. A thread's own row kept in shared memory is read by the warp at the
// same column of 32 different rows; those rows are padded to HS + 1 floats so
// the 32 addresses fall in 32 different banks (HS is a multiple of 32).
//
// Grouped-query attention (KVH < NH key/value heads, each shared by
// rep = NH / KVH query heads) changes only which head's rows a block reads,
// except in the dK/dV kernel: there a block owns the key rows of one
// key/value head and walks the query heads of its group one after another,
// keeping one set of accumulators, so the group's sum needs no atomics and
// comes out in the same order on every run.
#include "kernels/cuda/attention.cuh"

#include <cmath>
#include <string>

#include "kernels/cuda/cuda_check.h"

namespace meridian::cuda {

namespace {

// Forward: query rows (= threads) per block, key rows per staged tile. The
// K and V tiles take 2 * 32 * HS * 4 bytes: 32 KB at HS = 128.
constexpr int kFwdRows = 64;
constexpr int kFwdKeys = 32;

// Backward: rows owned per block (= threads) and rows per staged tile. HS =
// 128 owns 32 rows so its padded own rows stay at 33 KB. At HS <= 64 the
// compiler keeps a thread's own row in registers for a whole staged tile (the
// padding keeps the per-tile reloads conflict-free); at HS = 128 the two float
// accumulator rows alone exceed the register file's 255 per thread and spill.
template <int HS>
constexpr int kBwdRows = HS <= 64 ? 64 : 32;
constexpr int kBwdTile = 32;

// Dynamic shared memory of the two backward kernels, in bytes: two padded
// own-row arrays, two staged tile arrays, and (dK/dV only) the tile's lse and
// delta.
template <int HS>
constexpr size_t BwdSharedBytes(bool with_row_stats) {
  return sizeof(float) * (2 * (size_t)kBwdRows<HS> * (HS + 1) + 2 * (size_t)kBwdTile * HS +
                          (with_row_stats ? 2 * (size_t)kBwdTile : 0));
}

// Stages rows row0 .. row0 + kRows - 1 of two row sets, a and b, from global
// memory into shared memory as floats: row i of a (HS elements) starts at
// a + i * a_stride and lands at a_smem + (i - row0) * kSmemStride, likewise
// for b. Rows at or past T_ stage as zeros. All kThreads threads of the
// block must call it, as they share the rows; the caller owns the barriers.
template <int HS, int kRows, int kSmemStride, int kThreads, typename T>
__device__ __forceinline__ void StageRowPair(float* a_smem, float* b_smem, const T* a, size_t a_stride, const T* b,
                                             size_t b_stride, int row0, int T_) {
  for (int idx = threadIdx.x; idx < kRows * HS; idx += kThreads) {
    const int r = idx / HS, c = idx % HS;
    const int i = row0 + r;
    float av = 0.0f, bv = 0.0f;
    if (i < T_) {
      av = ToFloat(a[(size_t)i * a_stride + c]);
      bv = ToFloat(b[(size_t)i * b_stride + c]);
    }
    a_smem[r * kSmemStride + c] = av;
    b_smem[r * kSmemStride + c] = bv;
  }
}

// grid (ceil(T/kFwdRows), NH, B), block kFwdRows. Thread i of the block owns
// query row t = blockIdx.x * kFwdRows + i of head blockIdx.y, batch blockIdx.z.
template <typename T, int HS>
__global__ void __launch_bounds__(kFwdRows)
    AttentionForwardKernel(T* out, float* lse, const T* qkv, int T_, int NH, int KVH, float scale) {
  __shared__ float k_tile[kFwdKeys][HS];
  __shared__ float v_tile[kFwdKeys][HS];
  const int h = blockIdx.y, b = blockIdx.z;
  const int g = h / (NH / KVH);  // the key/value head this query head reads
  const int q0 = blockIdx.x * kFwdRows;
  const int t = q0 + threadIdx.x;
  const size_t row = (size_t)(NH + 2 * KVH) * HS;  // a qkv row
  const size_t C = (size_t)NH * HS;                // an out row
  // Row 0 of this batch's q (head h), k and v (head g).
  const T* qkv_b = qkv + (size_t)b * T_ * row;
  const T* q_base = qkv_b + (size_t)h * HS;
  const T* k_base = qkv_b + (size_t)(NH + g) * HS;
  const T* v_base = qkv_b + (size_t)(NH + KVH + g) * HS;

  float q[HS], acc[HS];
#pragma unroll
  for (int d = 0; d < HS; ++d) {
    q[d] = t < T_ ? ToFloat(q_base[(size_t)t * row + d]) : 0.0f;
    acc[d] = 0.0f;
  }
  float m = -INFINITY;  // running max of the scaled scores
  float l = 0.0f;       // running sum of exp(score - m)

  const int q_last = min(q0 + kFwdRows, T_) - 1;  // last valid query row of the block
  for (int k0 = 0; k0 <= q_last; k0 += kFwdKeys) {
    __syncthreads();  // every thread is done with the previous tile
    StageRowPair<HS, kFwdKeys, HS, kFwdRows>(&k_tile[0][0], &v_tile[0][0], k_base, row, v_base, row, k0, T_);
    __syncthreads();
    // Causal: keys k0 .. t of this tile (none for rows past T).
    const int n = t < T_ ? min(kFwdKeys, t - k0 + 1) : 0;
    for (int r = 0; r < n; ++r) {
      float s = 0.0f;
#pragma unroll
      for (int d = 0; d < HS; ++d) s += q[d] * k_tile[r][d];
      s *= scale;
      if (s > m) {
        // New maximum: rescale what was accumulated against the old one. On
        // the first key m = -inf, so the factor is exp(-inf) = 0 and l, acc
        // (already 0) stay 0.
        const float corr = expf(m - s);
        l *= corr;
#pragma unroll
        for (int d = 0; d < HS; ++d) acc[d] *= corr;
        m = s;
      }
      const float p = expf(s - m);
      l += p;
#pragma unroll
      for (int d = 0; d < HS; ++d) acc[d] += p * v_tile[r][d];
    }
  }
  if (t >= T_) return;
  // Every valid row saw at least key 0 (itself when t = 0), so l >= 1.
  const float inv = 1.0f / l;
  T* o = out + ((size_t)b * T_ + t) * C + (size_t)h * HS;
#pragma unroll
  for (int d = 0; d < HS; ++d) o[d] = FromFloat<T>(acc[d] * inv);
  lse[((size_t)b * NH + h) * T_ + t] = m + logf(l);
}

// delta (B,NH,T) = rowsum(dout * out) per (batch, head, query row), which
// equals sum_j p_ij * dp_ij, the softmax backward's row term. One thread per
// row.
template <typename T>
__global__ void AttentionDeltaKernel(float* delta, const T* dout, const T* out, int B, int T_, int C, int NH,
                                     int hs) {
  const size_t r = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (r >= (size_t)B * NH * T_) return;
  const int t = (int)(r % T_);
  const size_t bh = r / T_;
  const int h = (int)(bh % NH);
  const size_t b = bh / NH;
  const size_t off = (b * T_ + t) * C + (size_t)h * hs;
  float sum = 0.0f;
  for (int d = 0; d < hs; ++d) sum += ToFloat(dout[off + d]) * ToFloat(out[off + d]);
  delta[r] = sum;
}

// dK, dV. grid (ceil(T/kBwdRows), KVH, B), block kBwdRows. Thread i owns key
// row j = blockIdx.x * kBwdRows + i of key/value head blockIdx.y; its k and v
// rows sit in padded shared memory, dk and dv in registers. For each query
// head of the group in turn, query tiles from the block's first key on
// (earlier queries cannot see these keys) are staged with their lse and delta.
template <typename T, int HS>
__global__ void __launch_bounds__(kBwdRows<HS>)
    AttentionBackwardKeyKernel(T* dqkv, const T* dout, const T* qkv, const float* lse, const float* delta,
                               int T_, int NH, int KVH, float scale) {
  constexpr int kRows = kBwdRows<HS>;
  constexpr int kPad = HS + 1;
  extern __shared__ float smem[];
  float* k_own = smem;                     // [kRows][kPad]
  float* v_own = k_own + kRows * kPad;     // [kRows][kPad]
  float* q_tile = v_own + kRows * kPad;    // [kBwdTile][HS]
  float* do_tile = q_tile + kBwdTile * HS; // [kBwdTile][HS]
  float* lse_tile = do_tile + kBwdTile * HS;
  float* delta_tile = lse_tile + kBwdTile;

  const int g = blockIdx.y, b = blockIdx.z;
  const int rep = NH / KVH;
  const int k0 = blockIdx.x * kRows;
  const int j = k0 + threadIdx.x;
  const size_t row = (size_t)(NH + 2 * KVH) * HS;  // a qkv row
  const size_t C = (size_t)NH * HS;                // a dout row
  const T* qkv_b = qkv + (size_t)b * T_ * row;     // row 0 of this batch

  StageRowPair<HS, kRows, kPad, kRows>(k_own, v_own, qkv_b + (size_t)(NH + g) * HS, row,
                                       qkv_b + (size_t)(NH + KVH + g) * HS, row, k0, T_);
  const float* kj = k_own + threadIdx.x * kPad;
  const float* vj = v_own + threadIdx.x * kPad;

  float dk[HS], dv[HS];
#pragma unroll
  for (int d = 0; d < HS; ++d) dk[d] = dv[d] = 0.0f;

  // The group's query heads in order; the barrier at the top of each tile
  // also separates one head's last tile from the next head's first.
  for (int h = g * rep; h < (g + 1) * rep; ++h) {
    const T* q_base = qkv_b + (size_t)h * HS;
    const T* do_base = dout + (size_t)b * T_ * C + (size_t)h * HS;
    const float* lse_bh = lse + ((size_t)b * NH + h) * T_;
    const float* delta_bh = delta + ((size_t)b * NH + h) * T_;
    for (int q0 = k0; q0 < T_; q0 += kBwdTile) {
      __syncthreads();  // own rows written / previous tile consumed
      StageRowPair<HS, kBwdTile, HS, kRows>(q_tile, do_tile, q_base, row, do_base, C, q0, T_);
      for (int r = threadIdx.x; r < kBwdTile; r += kRows) {
        const int i = q0 + r;
        lse_tile[r] = i < T_ ? lse_bh[i] : 0.0f;
        delta_tile[r] = i < T_ ? delta_bh[i] : 0.0f;
      }
      __syncthreads();
      if (j >= T_) continue;  // still takes part in the loads and barriers
      // Causal: queries i >= j of this tile, and i < T.
      const int r_begin = max(0, j - q0);
      const int r_end = min(kBwdTile, T_ - q0);
      for (int r = r_begin; r < r_end; ++r) {
        const float* qi = q_tile + r * HS;
        const float* doi = do_tile + r * HS;
        float s = 0.0f, dp = 0.0f;
#pragma unroll
        for (int d = 0; d < HS; ++d) {
          s += qi[d] * kj[d];
          dp += doi[d] * vj[d];
        }
        const float p = expf(s * scale - lse_tile[r]);
        // d(loss)/d(q.k) = p * (dp - delta) * scale; dk gets it times q.
        const float ds = p * (dp - delta_tile[r]) * scale;
#pragma unroll
        for (int d = 0; d < HS; ++d) {
          dv[d] += p * doi[d];
          dk[d] += ds * qi[d];
        }
      }
    }
  }
  if (j >= T_) return;
  T* dk_row = dqkv + ((size_t)b * T_ + j) * row + (size_t)(NH + g) * HS;
  T* dv_row = dk_row + (size_t)KVH * HS;
#pragma unroll
  for (int d = 0; d < HS; ++d) {
    dk_row[d] = FromFloat<T>(dk[d]);
    dv_row[d] = FromFloat<T>(dv[d]);
  }
}

// dQ. grid (ceil(T/kBwdRows), NH, B), block kBwdRows. Thread i owns query row
// t = blockIdx.x * kBwdRows + i of head blockIdx.y; its q and dout rows sit in
// padded shared memory, dq in registers; p and dp are recomputed per key. Key
// tiles (of the head's key/value head) up to the block's last query are
// staged.
template <typename T, int HS>
__global__ void __launch_bounds__(kBwdRows<HS>)
    AttentionBackwardQueryKernel(T* dqkv, const T* dout, const T* qkv, const float* lse, const float* delta,
                                 int T_, int NH, int KVH, float scale) {
  constexpr int kRows = kBwdRows<HS>;
  constexpr int kPad = HS + 1;
  extern __shared__ float smem[];
  float* q_own = smem;                      // [kRows][kPad]
  float* do_own = q_own + kRows * kPad;     // [kRows][kPad]
  float* k_tile = do_own + kRows * kPad;    // [kBwdTile][HS]
  float* v_tile = k_tile + kBwdTile * HS;   // [kBwdTile][HS]

  const int h = blockIdx.y, b = blockIdx.z;
  const int g = h / (NH / KVH);
  const int q0 = blockIdx.x * kRows;
  const int t = q0 + threadIdx.x;
  const size_t row = (size_t)(NH + 2 * KVH) * HS;  // a qkv row
  const size_t C = (size_t)NH * HS;                // a dout row
  const T* qkv_b = qkv + (size_t)b * T_ * row;
  const T* q_base = qkv_b + (size_t)h * HS;
  const T* k_base = qkv_b + (size_t)(NH + g) * HS;
  const T* v_base = qkv_b + (size_t)(NH + KVH + g) * HS;
  const T* do_base = dout + (size_t)b * T_ * C + (size_t)h * HS;

  StageRowPair<HS, kRows, kPad, kRows>(q_own, do_own, q_base, row, do_base, C, q0, T_);
  const float* qi = q_own + threadIdx.x * kPad;
  const float* doi = do_own + threadIdx.x * kPad;
  const size_t row_stat = ((size_t)b * NH + h) * T_ + t;
  const float lse_i = t < T_ ? lse[row_stat] : 0.0f;
  const float delta_i = t < T_ ? delta[row_stat] : 0.0f;

  float dq[HS];
#pragma unroll
  for (int d = 0; d < HS; ++d) dq[d] = 0.0f;

  const int q_last = min(q0 + kRows, T_) - 1;
  for (int k0 = 0; k0 <= q_last; k0 += kBwdTile) {
    __syncthreads();  // own rows written / previous tile consumed
    StageRowPair<HS, kBwdTile, HS, kRows>(k_tile, v_tile, k_base, row, v_base, row, k0, T_);
    __syncthreads();
    // Causal: keys k0 .. t of this tile (none for rows past T).
    const int n = t < T_ ? min(kBwdTile, t - k0 + 1) : 0;
    for (int r = 0; r < n; ++r) {
      const float* kr = k_tile + r * HS;
      const float* vr = v_tile + r * HS;
      float s = 0.0f, dp = 0.0f;
#pragma unroll
      for (int d = 0; d < HS; ++d) {
        s += qi[d] * kr[d];
        dp += doi[d] * vr[d];
      }
      const float p = expf(s * scale - lse_i);
      const float ds = p * (dp - delta_i) * scale;
#pragma unroll
      for (int d = 0; d < HS; ++d) dq[d] += ds * kr[d];
    }
  }
  if (t >= T_) return;
  T* dq_row = dqkv + ((size_t)b * T_ + t) * row + (size_t)h * HS;
#pragma unroll
  for (int d = 0; d < HS; ++d) dq_row[d] = FromFloat<T>(dq[d]);
}

// Every check happens before any CUDA call, so a bad shape is reported the
// same way on a machine without a device.
Status ValidateAttentionShape(const char* op, int B, int T_, int NH, int KVH, int hs) {
  const std::string where = std::string(op) + ": ";
  // Batch and heads are grid dimensions z and y, limited to 65535.
  if (B < 1 || B > 65535) return Status::InvalidArgument(where + "batch size B=" + std::to_string(B) +
                                                         " must be in [1, 65535]");
  if (T_ < 1) return Status::InvalidArgument(where + "sequence length T=" + std::to_string(T_) + " must be >= 1");
  if (NH < 1 || NH > 65535)
    return Status::InvalidArgument(where + "head count NH=" + std::to_string(NH) + " must be in [1, 65535]");
  if (KVH < 1 || NH % KVH != 0)
    return Status::InvalidArgument(where + "key/value head count KVH=" + std::to_string(KVH) +
                                   " must be positive and divide NH=" + std::to_string(NH));
  if (!AttentionSupportsHeadSize(hs))
    return Status::InvalidArgument(where + "head size hs=" + std::to_string(hs) +
                                   " is not supported (32, 64 or 128)");
  return Status::OK();
}

// The multi-head form's own checks: C must split into NH heads.
Status ValidateMultiHeadShape(const char* op, int C, int NH) {
  const std::string where = std::string(op) + ": ";
  if (NH < 1 || NH > 65535)
    return Status::InvalidArgument(where + "head count NH=" + std::to_string(NH) + " must be in [1, 65535]");
  if (C < 1 || C % NH != 0)
    return Status::InvalidArgument(where + "channels C=" + std::to_string(C) + " must be a positive multiple of NH=" +
                                   std::to_string(NH));
  return Status::OK();
}

template <typename T, int HS>
Status LaunchForward(T* out, float* lse, const T* qkv, int B, int T_, int NH, int KVH, cudaStream_t stream) {
  const dim3 grid((T_ + kFwdRows - 1) / kFwdRows, NH, B);
  const float scale = 1.0f / std::sqrt((float)HS);
  AttentionForwardKernel<T, HS><<<grid, kFwdRows, 0, stream>>>(out, lse, qkv, T_, NH, KVH, scale);
  MERIDIAN_CUDA_CHECK(cudaGetLastError());
  return Status::OK();
}

template <typename T, int HS>
Status LaunchBackward(T* dqkv, float* delta, const T* dout, const T* out, const T* qkv, const float* lse, int B,
                      int T_, int NH, int KVH, cudaStream_t stream) {
  const float scale = 1.0f / std::sqrt((float)HS);
  {
    constexpr int kThreads = 256;
    const size_t rows = (size_t)B * NH * T_;
    const unsigned blocks = (unsigned)((rows + kThreads - 1) / kThreads);
    AttentionDeltaKernel<T><<<blocks, kThreads, 0, stream>>>(delta, dout, out, B, T_, NH * HS, NH, HS);
    MERIDIAN_CUDA_CHECK(cudaGetLastError());
  }
  constexpr int kRows = kBwdRows<HS>;
  const unsigned row_blocks = (unsigned)((T_ + kRows - 1) / kRows);
  // Above 48 KB of dynamic shared memory a kernel must opt in; the attribute
  // is per device, so it is set on every launch rather than cached.
  constexpr size_t key_smem = BwdSharedBytes<HS>(true);
  MERIDIAN_CUDA_CHECK(cudaFuncSetAttribute(AttentionBackwardKeyKernel<T, HS>,
                                           cudaFuncAttributeMaxDynamicSharedMemorySize, (int)key_smem));
  AttentionBackwardKeyKernel<T, HS><<<dim3(row_blocks, KVH, B), kRows, key_smem, stream>>>(dqkv, dout, qkv, lse,
                                                                                           delta, T_, NH, KVH, scale);
  MERIDIAN_CUDA_CHECK(cudaGetLastError());
  constexpr size_t query_smem = BwdSharedBytes<HS>(false);
  MERIDIAN_CUDA_CHECK(cudaFuncSetAttribute(AttentionBackwardQueryKernel<T, HS>,
                                           cudaFuncAttributeMaxDynamicSharedMemorySize, (int)query_smem));
  AttentionBackwardQueryKernel<T, HS><<<dim3(row_blocks, NH, B), kRows, query_smem, stream>>>(
      dqkv, dout, qkv, lse, delta, T_, NH, KVH, scale);
  MERIDIAN_CUDA_CHECK(cudaGetLastError());
  return Status::OK();
}

}  // namespace

bool AttentionSupportsHeadSize(int head_size) { return head_size == 32 || head_size == 64 || head_size == 128; }

template <typename T>
Status AttentionForward(T* out, float* lse, const T* qkv, int B, int T_, int NH, int KVH, int hs,
                        cudaStream_t stream) {
  MERIDIAN_RETURN_IF_ERROR(ValidateAttentionShape("AttentionForward", B, T_, NH, KVH, hs));
  switch (hs) {
    case 32:
      return LaunchForward<T, 32>(out, lse, qkv, B, T_, NH, KVH, stream);
    case 64:
      return LaunchForward<T, 64>(out, lse, qkv, B, T_, NH, KVH, stream);
    default:
      return LaunchForward<T, 128>(out, lse, qkv, B, T_, NH, KVH, stream);
  }
}

template <typename T>
Status AttentionBackward(T* dqkv, float* delta, const T* dout, const T* out, const T* qkv, const float* lse, int B,
                         int T_, int NH, int KVH, int hs, cudaStream_t stream) {
  MERIDIAN_RETURN_IF_ERROR(ValidateAttentionShape("AttentionBackward", B, T_, NH, KVH, hs));
  switch (hs) {
    case 32:
      return LaunchBackward<T, 32>(dqkv, delta, dout, out, qkv, lse, B, T_, NH, KVH, stream);
    case 64:
      return LaunchBackward<T, 64>(dqkv, delta, dout, out, qkv, lse, B, T_, NH, KVH, stream);
    default:
      return LaunchBackward<T, 128>(dqkv, delta, dout, out, qkv, lse, B, T_, NH, KVH, stream);
  }
}

template <typename T>
Status AttentionForward(T* out, float* lse, const T* qkv, int B, int T_, int C, int NH, cudaStream_t stream) {
  MERIDIAN_RETURN_IF_ERROR(ValidateMultiHeadShape("AttentionForward", C, NH));
  return AttentionForward<T>(out, lse, qkv, B, T_, NH, NH, C / NH, stream);
}

template <typename T>
Status AttentionBackward(T* dqkv, float* delta, const T* dout, const T* out, const T* qkv, const float* lse, int B,
                         int T_, int C, int NH, cudaStream_t stream) {
  MERIDIAN_RETURN_IF_ERROR(ValidateMultiHeadShape("AttentionBackward", C, NH));
  return AttentionBackward<T>(dqkv, delta, dout, out, qkv, lse, B, T_, NH, NH, C / NH, stream);
}

template Status AttentionForward<float>(float*, float*, const float*, int, int, int, int, int, cudaStream_t);
template Status AttentionForward<bf16>(bf16*, float*, const bf16*, int, int, int, int, int, cudaStream_t);
template Status AttentionBackward<float>(float*, float*, const float*, const float*, const float*, const float*, int,
                                         int, int, int, int, cudaStream_t);
template Status AttentionBackward<bf16>(bf16*, float*, const bf16*, const bf16*, const bf16*, const float*, int, int,
                                        int, int, int, cudaStream_t);
template Status AttentionForward<float>(float*, float*, const float*, int, int, int, int, cudaStream_t);
template Status AttentionForward<bf16>(bf16*, float*, const bf16*, int, int, int, int, cudaStream_t);
template Status AttentionBackward<float>(float*, float*, const float*, const float*, const float*, const float*, int,
                                         int, int, int, cudaStream_t);
template Status AttentionBackward<bf16>(bf16*, float*, const bf16*, const bf16*, const bf16*, const float*, int, int,
                                        int, int, cudaStream_t);

}  // namespace meridian::cuda
