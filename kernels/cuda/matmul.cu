// Fully connected layers through cuBLASLt.
//
// Row-major to column-major. cuBLASLt reads every matrix column-major. A
// row-major (r, c) buffer with row stride c is, byte for byte, the
// column-major (c, r) matrix with leading dimension c: its transpose. So
// every row-major product is computed as the transposed product, with the
// operands in swapped order and no data moved:
//
//   forward   out (N,OC) = inp (N,C) @ W (OC,C)^T
//             out^T (OC,N) = W (OC,C) @ inp^T (C,N)
//             cuBLASLt: D (m=OC, n=N, ldd=OC) = op(A) @ op(B) with
//               A = W's buffer, stored column-major (C,OC) ld C, op = T -> (OC,C)
//               B = inp's buffer, stored column-major (C,N) ld C, op = N -> (C,N)
//             k = C. The bias (OC) is per row of D, which is how
//             CUBLASLT_EPILOGUE_BIAS broadcasts it ("length must match
//             matrix D rows ... broadcasted to all columns"), and pre_gelu
//             is laid out like D: column-major (OC,N) with ld OC.
//
//   dinp      dinp (N,C) = dout (N,OC) @ W (OC,C)
//             dinp^T (C,N) = W^T (C,OC) @ dout^T (OC,N)
//             cuBLASLt: D (m=C, n=N, ldd=C) with
//               A = W's buffer, stored (C,OC) ld C, op = N
//               B = dout's buffer, stored (OC,N) ld OC, op = N
//             k = OC, beta = 0 (dinp is overwritten).
//
//   dweight   dweight (OC,C) += dout^T (OC,N) @ inp (N,C)
//             dweight^T (C,OC) += inp^T (C,N) @ dout (N,OC)
//             cuBLASLt: D (m=C, n=OC, ldd=C), C = D, beta = 1, with
//               A = inp's buffer, stored (C,N) ld C, op = N
//               B = dout's buffer, stored (OC,N) ld OC, op = T -> (N,OC)
//             k = N.
//
//   Gemm      c (M,N) = a (M,K) @ b (N,K)^T is the forward without a bias:
//             D (m=N, n=M, ldd=N), A = b's buffer (K,N) ld K op T,
//             B = a's buffer (K,M) ld K op N, k = K.
//
// Types. Compute type CUBLAS_COMPUTE_32F with scale type CUDA_R_32F, never
// _FAST_TF32, so fp32 GEMMs stay fp32 (no TF32 rounding). cuBLASLt's table of
// supported combinations for that compute type lists A/B/C/D all
// CUDA_R_32F, all CUDA_R_16BF, and A/B CUDA_R_16BF with C/D CUDA_R_32F: the
// last is the bf16 weight gradient accumulated in fp32. The bias and the GELU
// auxiliary output take D's type when their type attributes are left unset,
// which is what we want (bias of type T onto an output of type T).
//
// Algorithms. Each call builds its descriptors and asks
// cublasLtMatmulAlgoGetHeuristic for an algorithm, passing the real
// alignment of every pointer (the preference defaults assume 256-byte
// alignment, which slices of a parameter buffer need not have). Where
// cuBLASLt has none, a plain tiled GEMM (gemm_fallback.cuh) does the work.
#include "kernels/cuda/matmul.cuh"

#include <cstdint>
#include <string>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/elementwise.cuh"
#include "kernels/cuda/gemm_fallback.cuh"
#include "kernels/cuda/reduce.cuh"

namespace meridian::cuda {

Status CublasStatus(cublasStatus_t status, const char* file, int line) {
  if (status == CUBLAS_STATUS_SUCCESS) return Status::OK();
  // The cublasLt* names live in libcublasLt itself, so they need no libcublas.
  return Status::Internal(std::string(file) + ":" + std::to_string(line) + ": cuBLAS error " +
                          cublasLtGetStatusName(status) + ": " + cublasLtGetStatusString(status));
}

namespace {

// cuBLASLt recommends at least 32 MiB of workspace on Hopper.
constexpr size_t kWorkspaceBytes = size_t{32} << 20;
// Candidates asked of the heuristic; the first usable one runs.
constexpr int kHeuristicResults = 4;

template <typename T>
constexpr cudaDataType_t CudaDataType();
template <>
constexpr cudaDataType_t CudaDataType<float>() {
  return CUDA_R_32F;
}
template <>
constexpr cudaDataType_t CudaDataType<bf16>() {
  return CUDA_R_16BF;
}

// Largest power of two (at most 256, the preference's default) dividing the
// address; null pointers (unused operands) claim the full 256.
uint32_t AlignmentOf(const void* p) {
  const uintptr_t addr = reinterpret_cast<uintptr_t>(p);
  if (addr == 0) return 256;
  const uintptr_t lowest = addr & (~addr + 1);
  return lowest >= 256 ? 256u : (uint32_t)lowest;
}

// The descriptors of one call, destroyed on every return path.
struct LtDescriptors {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
  cublasLtMatmulPreference_t pref = nullptr;
  LtDescriptors() = default;
  LtDescriptors(const LtDescriptors&) = delete;
  LtDescriptors& operator=(const LtDescriptors&) = delete;
  ~LtDescriptors() {
    if (pref != nullptr) cublasLtMatmulPreferenceDestroy(pref);
    if (d != nullptr) cublasLtMatrixLayoutDestroy(d);
    if (b != nullptr) cublasLtMatrixLayoutDestroy(b);
    if (a != nullptr) cublasLtMatrixLayoutDestroy(a);
    if (op != nullptr) cublasLtMatmulDescDestroy(op);
  }
};

// One column-major GEMM, D (m,n) = op(A) (m,k) @ op(B) (k,n) + beta * D
// (C is D: same pointer, same layout), with an optional epilogue.
struct LtGemm {
  bool trans_a = false, trans_b = false;
  int m = 0, n = 0, k = 0;
  const void* a = nullptr;
  int64_t lda = 0;
  const void* b = nullptr;
  int64_t ldb = 0;
  cudaDataType_t ab_type = CUDA_R_32F;
  void* d = nullptr;
  int64_t ldd = 0;
  cudaDataType_t d_type = CUDA_R_32F;
  float beta = 0.0f;
  cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;
  const void* bias = nullptr;  // for the *_BIAS epilogues: D's type, length m
  void* aux = nullptr;         // for GELU_AUX*: D's type, (m,n) with aux_ld
  int64_t aux_ld = 0;
};

// The row-major product D (rows, cols) = op(X) (rows, inner) @ op(Y)
// (inner, cols) + beta * D, with X, Y and D packed (row stride = column
// count). A transposed operand is stored transposed: X as (inner, rows), Y as
// (cols, inner). cuBLASLt computes it as the column-major D^T = op(Y)^T @
// op(X)^T on the same buffers (see the top of this file): Y is its A, X its
// B. The epilogue fields are left at their defaults.
template <typename TIn, typename TOut>
LtGemm RowMajorGemm(int rows, int cols, int inner, const TIn* x, bool trans_x, const TIn* y, bool trans_y, TOut* d,
                    float beta) {
  LtGemm g;
  g.trans_a = trans_y;
  g.trans_b = trans_x;
  g.m = cols;
  g.n = rows;
  g.k = inner;
  g.a = y;
  g.lda = trans_y ? inner : cols;
  g.b = x;
  g.ldb = trans_x ? rows : inner;
  g.ab_type = CudaDataType<TIn>();
  g.d = d;
  g.ldd = cols;
  g.d_type = CudaDataType<TOut>();
  g.beta = beta;
  return g;
}

// Runs `g` through cuBLASLt. Sets *ran = false, and returns OK, when
// cuBLASLt offers no algorithm for it; errors from cuBLASLt otherwise come
// back as Status.
Status RunLt(MatmulContext* ctx, const LtGemm& g, cudaStream_t stream, bool* ran) {
  *ran = false;
  LtDescriptors desc;
  MERIDIAN_CUBLAS_CHECK(cublasLtMatmulDescCreate(&desc.op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  const int32_t trans_a = g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int32_t trans_b = g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const uint32_t epilogue = g.epilogue;
  MERIDIAN_CUBLAS_CHECK(
      cublasLtMatmulDescSetAttribute(desc.op, CUBLASLT_MATMUL_DESC_TRANSA, &trans_a, sizeof(trans_a)));
  MERIDIAN_CUBLAS_CHECK(
      cublasLtMatmulDescSetAttribute(desc.op, CUBLASLT_MATMUL_DESC_TRANSB, &trans_b, sizeof(trans_b)));
  MERIDIAN_CUBLAS_CHECK(
      cublasLtMatmulDescSetAttribute(desc.op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof(epilogue)));
  // The bias and aux pointers are set before the heuristic query: it does
  // not dereference them but reads their alignment from them.
  if (g.bias != nullptr) {
    MERIDIAN_CUBLAS_CHECK(
        cublasLtMatmulDescSetAttribute(desc.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &g.bias, sizeof(g.bias)));
  }
  if (g.aux != nullptr) {
    MERIDIAN_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc.op, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &g.aux,
                                                         sizeof(g.aux)));
    MERIDIAN_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc.op, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, &g.aux_ld,
                                                         sizeof(g.aux_ld)));
  }

  // Layouts describe the stored matrices, before op(): A is (m,k), or
  // (k,m) when transposed; B is (k,n), or (n,k).
  MERIDIAN_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&desc.a, g.ab_type, g.trans_a ? g.k : g.m, g.trans_a ? g.m : g.k,
                                                   g.lda));
  MERIDIAN_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&desc.b, g.ab_type, g.trans_b ? g.n : g.k, g.trans_b ? g.k : g.n,
                                                   g.ldb));
  MERIDIAN_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&desc.d, g.d_type, g.m, g.n, g.ldd));

  MERIDIAN_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&desc.pref));
  const uint64_t workspace_bytes = ctx->workspace_bytes();
  MERIDIAN_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(desc.pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                             &workspace_bytes, sizeof(workspace_bytes)));
  const uint32_t align_a = AlignmentOf(g.a), align_b = AlignmentOf(g.b), align_d = AlignmentOf(g.d);
  MERIDIAN_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(desc.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES,
                                                             &align_a, sizeof(align_a)));
  MERIDIAN_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(desc.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
                                                             &align_b, sizeof(align_b)));
  MERIDIAN_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(desc.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES,
                                                             &align_d, sizeof(align_d)));
  MERIDIAN_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(desc.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES,
                                                             &align_d, sizeof(align_d)));

  cublasLtMatmulHeuristicResult_t results[kHeuristicResults] = {};
  int returned = 0;
  const cublasStatus_t heuristic = cublasLtMatmulAlgoGetHeuristic(
      ctx->handle(), desc.op, desc.a, desc.b, desc.d, desc.d, desc.pref, kHeuristicResults, results, &returned);
  // NOT_SUPPORTED: "no heuristic function available for current configuration".
  if (heuristic == CUBLAS_STATUS_NOT_SUPPORTED) return Status::OK();
  MERIDIAN_CUBLAS_CHECK(heuristic);
  const cublasLtMatmulHeuristicResult_t* chosen = nullptr;
  for (int i = 0; i < returned && chosen == nullptr; ++i) {
    if (results[i].state == CUBLAS_STATUS_SUCCESS && results[i].workspaceSize <= workspace_bytes) chosen = &results[i];
  }
  if (chosen == nullptr) return Status::OK();

  const float alpha = 1.0f;
  MERIDIAN_CUBLAS_CHECK(cublasLtMatmul(ctx->handle(), desc.op, &alpha, g.a, desc.a, g.b, desc.b, &g.beta, g.d, desc.d,
                                       g.d, desc.d, &chosen->algo, ctx->workspace(), ctx->workspace_bytes(), stream));
  *ran = true;
  return Status::OK();
}

// RunLt, or the tiled fallback where cuBLASLt has no algorithm. Only the
// DEFAULT and BIAS epilogues have a fallback.
template <typename TIn, typename TOut>
Status RunGemm(MatmulContext* ctx, const LtGemm& g, cudaStream_t stream) {
  bool ran = false;
  MERIDIAN_RETURN_IF_ERROR(RunLt(ctx, g, stream, &ran));
  if (ran) return Status::OK();
  if (g.epilogue != CUBLASLT_EPILOGUE_DEFAULT && g.epilogue != CUBLASLT_EPILOGUE_BIAS) {
    return Status::Internal("cuBLASLt has no algorithm for epilogue " + std::to_string((int)g.epilogue) +
                            " and there is no fallback for it");
  }
  return FallbackGemm<TIn, TOut>(g.trans_a, g.trans_b, g.m, g.n, g.k, 1.0f, static_cast<const TIn*>(g.a), g.lda,
                                 static_cast<const TIn*>(g.b), g.ldb, g.beta, static_cast<TOut*>(g.d), g.ldd,
                                 g.epilogue == CUBLASLT_EPILOGUE_BIAS ? static_cast<const TOut*>(g.bias) : nullptr,
                                 stream);
}

Status CheckPositive(const char* fn, const char* name, int v) {
  if (v > 0) return Status::OK();
  return Status::InvalidArgument(std::string(fn) + ": " + name + " must be positive, got " + std::to_string(v));
}

Status CheckNotNull(const char* fn, const char* name, const void* p) {
  if (p != nullptr) return Status::OK();
  return Status::InvalidArgument(std::string(fn) + ": " + name + " must not be null");
}

}  // namespace

Result<std::unique_ptr<MatmulContext>> MatmulContext::Create() {
  std::unique_ptr<MatmulContext> ctx(new MatmulContext());
  cublasLtHandle_t handle = nullptr;
  MERIDIAN_CUBLAS_CHECK(cublasLtCreate(&handle));
  ctx->handle_ = handle;  // owned (and destroyed) by ctx from here on
  MERIDIAN_RETURN_IF_ERROR(ctx->workspace_.Allocate(kWorkspaceBytes));
  return Result<std::unique_ptr<MatmulContext>>(std::move(ctx));
}

MatmulContext::~MatmulContext() {
  if (handle_ != nullptr) cublasLtDestroy(handle_);
}

template <typename T>
Status MatmulForward(MatmulContext* ctx, T* out, T* pre_gelu, const T* inp, const T* weight, const T* bias, int N,
                     int C, int OC, cudaStream_t stream) {
  // Sizes first: they are checked before anything touches the device.
  MERIDIAN_RETURN_IF_ERROR(CheckPositive("MatmulForward", "N", N));
  MERIDIAN_RETURN_IF_ERROR(CheckPositive("MatmulForward", "C", C));
  MERIDIAN_RETURN_IF_ERROR(CheckPositive("MatmulForward", "OC", OC));
  MERIDIAN_RETURN_IF_ERROR(CheckNotNull("MatmulForward", "ctx", ctx));
  MERIDIAN_RETURN_IF_ERROR(CheckNotNull("MatmulForward", "out", out));
  MERIDIAN_RETURN_IF_ERROR(CheckNotNull("MatmulForward", "inp", inp));
  MERIDIAN_RETURN_IF_ERROR(CheckNotNull("MatmulForward", "weight", weight));

  // out (N,OC) = inp (N,C) @ weight (OC,C)^T; the output pointer is chosen below.
  LtGemm g = RowMajorGemm<T, T>(N, OC, C, inp, false, weight, true, nullptr, 0.0f);
  g.bias = bias;

  if (pre_gelu != nullptr) {
    // The GELU input's leading dimension "must be divisible by 8"
    // (CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD); other widths take the
    // two-kernel path below. Any refusal of the fused form, by the
    // heuristic or by cublasLtMatmul's own argument checks, falls back too.
    if (OC % 8 == 0) {
      LtGemm fused = g;
      fused.d = out;
      fused.epilogue = bias != nullptr ? CUBLASLT_EPILOGUE_GELU_AUX_BIAS : CUBLASLT_EPILOGUE_GELU_AUX;
      fused.aux = pre_gelu;
      fused.aux_ld = OC;
      bool ran = false;
      const Status s = RunLt(ctx, fused, stream, &ran);
      if (s.ok() && ran) {
        ctx->set_gelu_fused(true);
        return Status::OK();
      }
    }
    ctx->set_gelu_fused(false);
  }

  g.d = pre_gelu != nullptr ? pre_gelu : out;
  g.epilogue = bias != nullptr ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
  MERIDIAN_RETURN_IF_ERROR((RunGemm<T, T>(ctx, g, stream)));
  if (pre_gelu != nullptr) MERIDIAN_RETURN_IF_ERROR(GeluForward<T>(out, pre_gelu, (size_t)N * OC, stream));
  return Status::OK();
}

template <typename T>
Status MatmulBackward(MatmulContext* ctx, T* dinp, float* dweight, float* dbias, const T* dout, const T* inp,
                      const T* weight, int N, int C, int OC, cudaStream_t stream) {
  MERIDIAN_RETURN_IF_ERROR(CheckPositive("MatmulBackward", "N", N));
  MERIDIAN_RETURN_IF_ERROR(CheckPositive("MatmulBackward", "C", C));
  MERIDIAN_RETURN_IF_ERROR(CheckPositive("MatmulBackward", "OC", OC));
  MERIDIAN_RETURN_IF_ERROR(CheckNotNull("MatmulBackward", "ctx", ctx));
  MERIDIAN_RETURN_IF_ERROR(CheckNotNull("MatmulBackward", "dout", dout));
  if (dinp != nullptr) MERIDIAN_RETURN_IF_ERROR(CheckNotNull("MatmulBackward", "weight", weight));
  if (dweight != nullptr) MERIDIAN_RETURN_IF_ERROR(CheckNotNull("MatmulBackward", "inp", inp));

  if (dinp != nullptr) {
    // dinp (N,C) = dout (N,OC) @ weight (OC,C)
    const LtGemm g = RowMajorGemm<T, T>(N, C, OC, dout, false, weight, false, dinp, 0.0f);
    MERIDIAN_RETURN_IF_ERROR((RunGemm<T, T>(ctx, g, stream)));
  }
  if (dweight != nullptr) {
    // dweight (OC,C) += dout^T (OC,N) @ inp (N,C)
    const LtGemm g = RowMajorGemm<T, float>(OC, C, N, dout, true, inp, false, dweight, 1.0f);
    MERIDIAN_RETURN_IF_ERROR((RunGemm<T, float>(ctx, g, stream)));
  }
  if (dbias != nullptr) MERIDIAN_RETURN_IF_ERROR(ColumnSumAccumulate<T>(dbias, dout, N, OC, stream));
  return Status::OK();
}

template <typename T>
Status Gemm(MatmulContext* ctx, T* c, const T* a, const T* b, int M, int N, int K, cudaStream_t stream) {
  MERIDIAN_RETURN_IF_ERROR(CheckPositive("Gemm", "M", M));
  MERIDIAN_RETURN_IF_ERROR(CheckPositive("Gemm", "N", N));
  MERIDIAN_RETURN_IF_ERROR(CheckPositive("Gemm", "K", K));
  MERIDIAN_RETURN_IF_ERROR(CheckNotNull("Gemm", "ctx", ctx));
  MERIDIAN_RETURN_IF_ERROR(CheckNotNull("Gemm", "c", c));
  MERIDIAN_RETURN_IF_ERROR(CheckNotNull("Gemm", "a", a));
  MERIDIAN_RETURN_IF_ERROR(CheckNotNull("Gemm", "b", b));
  // c (M,N) = a (M,K) @ b (N,K)^T
  return RunGemm<T, T>(ctx, RowMajorGemm<T, T>(M, N, K, a, false, b, true, c, 0.0f), stream);
}

template Status MatmulForward<float>(MatmulContext*, float*, float*, const float*, const float*, const float*, int,
                                     int, int, cudaStream_t);
template Status MatmulForward<bf16>(MatmulContext*, bf16*, bf16*, const bf16*, const bf16*, const bf16*, int, int,
                                    int, cudaStream_t);
template Status MatmulBackward<float>(MatmulContext*, float*, float*, float*, const float*, const float*,
                                      const float*, int, int, int, cudaStream_t);
template Status MatmulBackward<bf16>(MatmulContext*, bf16*, float*, float*, const bf16*, const bf16*, const bf16*,
                                     int, int, int, cudaStream_t);
template Status Gemm<float>(MatmulContext*, float*, const float*, const float*, int, int, int, cudaStream_t);
template Status Gemm<bf16>(MatmulContext*, bf16*, const bf16*, const bf16*, int, int, int, cudaStream_t);

}  // namespace meridian::cuda
