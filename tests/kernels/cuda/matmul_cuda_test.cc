#include <gtest/gtest.h>

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/gelu.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cuda/gemm_fallback.cuh"
#include "kernels/cuda/matmul.cuh"
#include "tests/kernels/cuda/cuda_test_util.h"

namespace meridian {
namespace {

using namespace cuda_test;

struct MatmulShape {
  int N, C, OC;
};

// Sizes off every tile and alignment grid (odd leading dimensions, an aux
// width cuBLASLt's GELU epilogue refuses), the GPT-2 small qkv layer, and a
// layer with every size a multiple of 8.
const MatmulShape kShapes[] = {{37, 77, 99}, {256, 768, 2304}, {64, 128, 512}};

std::string Describe(const MatmulShape& s) {
  return "N=" + std::to_string(s.N) + " C=" + std::to_string(s.C) + " OC=" + std::to_string(s.OC);
}

std::unique_ptr<cuda::MatmulContext> NewContext() {
  auto ctx = cuda::MatmulContext::Create();
  EXPECT_TRUE(ctx.ok()) << ctx.status().ToString();
  if (!ctx.ok()) return nullptr;
  return std::move(ctx).value();
}

// Host inputs of one layer, already rounded through the storage type.
template <typename T>
struct LayerInputs {
  std::vector<float> inp, weight, bias, dout;
  LayerInputs(std::mt19937& rng, const MatmulShape& s)
      : inp(RoundTo<T>(RandomFloats(rng, (size_t)s.N * s.C))),
        weight(RoundTo<T>(RandomFloats(rng, (size_t)s.OC * s.C))),
        bias(RoundTo<T>(RandomFloats(rng, s.OC))),
        dout(RoundTo<T>(RandomFloats(rng, (size_t)s.N * s.OC))) {}
};

template <typename T>
class MatmulCuda : public testing::Test {};
using StorageTypes = testing::Types<float, bf16>;
TYPED_TEST_SUITE(MatmulCuda, StorageTypes);

TYPED_TEST(MatmulCuda, ForwardMatchesCpuWithAndWithoutBias) {
  using T = TypeParam;
  MERIDIAN_SKIP_WITHOUT_GPU();
  auto ctx = NewContext();
  ASSERT_NE(ctx, nullptr);
  std::mt19937 rng(401);
  for (const MatmulShape& s : kShapes) {
    for (bool with_bias : {false, true}) {
      SCOPED_TRACE(std::string(TypeName<T>()) + " " + Describe(s) + (with_bias ? " bias" : " no bias"));
      const LayerInputs<T> in(rng, s);
      const size_t NOC = (size_t)s.N * s.OC;
      auto d_inp = Upload<T>(in.inp), d_weight = Upload<T>(in.weight), d_bias = Upload<T>(in.bias);
      auto d_out = Poisoned<T>(NOC);
      const Status st = cuda::MatmulForward<T>(ctx.get(), d_out.data(), nullptr, d_inp.data(), d_weight.data(),
                                               with_bias ? d_bias.data() : nullptr, s.N, s.C, s.OC, nullptr);
      ASSERT_TRUE(st.ok()) << st.ToString();
      std::vector<float> want(NOC);
      cpu::MatmulForward(want.data(), in.inp.data(), in.weight.data(), with_bias ? in.bias.data() : nullptr, s.N, s.C,
                         s.OC);
      ExpectClose(Download(d_out.data(), NOC), want, Tolerance<T>(true), "out");
    }
  }
}

TYPED_TEST(MatmulCuda, ForwardWithPreGeluWritesThePreActivationAndItsGelu) {
  using T = TypeParam;
  MERIDIAN_SKIP_WITHOUT_GPU();
  auto ctx = NewContext();
  ASSERT_NE(ctx, nullptr);
  std::mt19937 rng(402);
  for (const MatmulShape& s : kShapes) {
    for (bool with_bias : {false, true}) {
      const std::string what = std::string(TypeName<T>()) + " " + Describe(s) + (with_bias ? " bias" : " no bias");
      SCOPED_TRACE(what);
      const LayerInputs<T> in(rng, s);
      const size_t NOC = (size_t)s.N * s.OC;
      auto d_inp = Upload<T>(in.inp), d_weight = Upload<T>(in.weight), d_bias = Upload<T>(in.bias);
      auto d_out = Poisoned<T>(NOC), d_pre = Poisoned<T>(NOC);
      const Status st = cuda::MatmulForward<T>(ctx.get(), d_out.data(), d_pre.data(), d_inp.data(), d_weight.data(),
                                               with_bias ? d_bias.data() : nullptr, s.N, s.C, s.OC, nullptr);
      ASSERT_TRUE(st.ok()) << st.ToString();
      std::printf("%s: GELU %s\n", what.c_str(), ctx->gelu_fused() ? "fused into cuBLASLt" : "as a separate kernel");
      // cuBLASLt's GELU input needs a leading dimension divisible by 8.
      if (s.OC % 8 != 0) {
        EXPECT_FALSE(ctx->gelu_fused());
      }

      std::vector<float> want_pre(NOC), want_out(NOC);
      cpu::MatmulForward(want_pre.data(), in.inp.data(), in.weight.data(), with_bias ? in.bias.data() : nullptr, s.N,
                         s.C, s.OC);
      cpu::GeluForward(want_out.data(), want_pre.data(), NOC);
      ExpectClose(Download(d_pre.data(), NOC), want_pre, Tolerance<T>(true), "pre_gelu");
      // cuBLASLt's GELU epilogue may evaluate tanh with the hardware
      // approximation (relative error ~2^-11): fp32 gets a looser bound there.
      const double out_tol = ctx->gelu_fused() ? std::max(Tolerance<T>(true), 1e-3) : Tolerance<T>(true);
      ExpectClose(Download(d_out.data(), NOC), want_out, out_tol, "out");
    }
  }
}

TYPED_TEST(MatmulCuda, BackwardOverwritesDinpAndAccumulatesWeightAndBiasGradients) {
  using T = TypeParam;
  MERIDIAN_SKIP_WITHOUT_GPU();
  auto ctx = NewContext();
  ASSERT_NE(ctx, nullptr);
  std::mt19937 rng(403);
  for (const MatmulShape& s : kShapes) {
    SCOPED_TRACE(std::string(TypeName<T>()) + " " + Describe(s));
    const LayerInputs<T> in(rng, s);
    const size_t NC = (size_t)s.N * s.C, OCC = (size_t)s.OC * s.C;
    std::vector<float> dweight = RandomFloats(rng, OCC), dbias = RandomFloats(rng, s.OC);
    auto d_inp = Upload<T>(in.inp), d_weight = Upload<T>(in.weight), d_dout = Upload<T>(in.dout);
    auto d_dinp = Poisoned<T>(NC);  // overwritten: no NaN may survive
    auto d_dweight = Upload<float>(dweight), d_dbias = Upload<float>(dbias);
    const Status st = cuda::MatmulBackward<T>(ctx.get(), d_dinp.data(), d_dweight.data(), d_dbias.data(),
                                              d_dout.data(), d_inp.data(), d_weight.data(), s.N, s.C, s.OC, nullptr);
    ASSERT_TRUE(st.ok()) << st.ToString();

    std::vector<float> want_dinp(NC, 0.0f), want_dweight = dweight, want_dbias = dbias;
    cpu::MatmulBackward(want_dinp.data(), want_dweight.data(), want_dbias.data(), in.dout.data(), in.inp.data(),
                        in.weight.data(), s.N, s.C, s.OC, 0.0f);
    ExpectClose(Download(d_dinp.data(), NC), want_dinp, Tolerance<T>(true), "dinp");
    ExpectClose(Download(d_dweight.data(), OCC), want_dweight, Tolerance<T>(true), "dweight");
    ExpectClose(Download(d_dbias.data(), (size_t)s.OC), want_dbias, Tolerance<T>(true), "dbias");
  }
}

TYPED_TEST(MatmulCuda, BackwardWithoutDinpAndDbiasStillAccumulatesTheWeightGradient) {
  // From zero, so the increment is not swamped by a starting value; called
  // twice, so it must add rather than overwrite.
  using T = TypeParam;
  MERIDIAN_SKIP_WITHOUT_GPU();
  auto ctx = NewContext();
  ASSERT_NE(ctx, nullptr);
  std::mt19937 rng(404);
  const MatmulShape s{37, 77, 99};
  const LayerInputs<T> in(rng, s);
  const size_t OCC = (size_t)s.OC * s.C;
  auto d_inp = Upload<T>(in.inp), d_weight = Upload<T>(in.weight), d_dout = Upload<T>(in.dout);
  auto d_dweight = Upload<float>(std::vector<float>(OCC, 0.0f));
  std::vector<float> want(OCC, 0.0f);
  for (int call = 0; call < 2; ++call) {
    const Status st = cuda::MatmulBackward<T>(ctx.get(), nullptr, d_dweight.data(), nullptr, d_dout.data(),
                                              d_inp.data(), d_weight.data(), s.N, s.C, s.OC, nullptr);
    ASSERT_TRUE(st.ok()) << st.ToString();
    cpu::MatmulBackward(nullptr, want.data(), nullptr, in.dout.data(), in.inp.data(), in.weight.data(), s.N, s.C,
                        s.OC, 0.0f);
  }
  ExpectClose(Download(d_dweight.data(), OCC), want, Tolerance<T>(true), "dweight");
}

TYPED_TEST(MatmulCuda, GemmMatchesAPlainLoop) {
  using T = TypeParam;
  MERIDIAN_SKIP_WITHOUT_GPU();
  auto ctx = NewContext();
  ASSERT_NE(ctx, nullptr);
  std::mt19937 rng(405);
  struct Dims {
    int M, N, K;
  };
  for (const Dims& dims : {Dims{37, 99, 77}, Dims{128, 256, 512}}) {
    const int M = dims.M, N = dims.N, K = dims.K;
    SCOPED_TRACE(std::string(TypeName<T>()) + " M=" + std::to_string(M) + " N=" + std::to_string(N) +
                 " K=" + std::to_string(K));
    const std::vector<float> a = RoundTo<T>(RandomFloats(rng, (size_t)M * K));
    const std::vector<float> b = RoundTo<T>(RandomFloats(rng, (size_t)N * K));
    auto d_a = Upload<T>(a), d_b = Upload<T>(b);
    auto d_c = Poisoned<T>((size_t)M * N);
    const Status st = cuda::Gemm<T>(ctx.get(), d_c.data(), d_a.data(), d_b.data(), M, N, K, nullptr);
    ASSERT_TRUE(st.ok()) << st.ToString();
    std::vector<float> want((size_t)M * N);
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < N; ++j) {
        double sum = 0.0;
        for (int p = 0; p < K; ++p) sum += (double)a[(size_t)i * K + p] * b[(size_t)j * K + p];
        want[(size_t)i * N + j] = (float)sum;
      }
    ExpectClose(Download(d_c.data(), (size_t)M * N), want, Tolerance<T>(true), "c");
  }
}

TEST(MatmulCudaArguments, BadSizesAreRefusedBeforeAnyDeviceWork) {
  // No context and no buffers: the sizes are checked first, so this runs
  // without a GPU.
  auto expect_invalid = [](const Status& st, const std::string& name) {
    EXPECT_EQ(st.code(), Status::Code::kInvalidArgument) << st.ToString();
    EXPECT_NE(st.message().find(name), std::string::npos) << st.ToString();
  };
  expect_invalid(cuda::MatmulForward<float>(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 0, 8, 8, nullptr),
                 "N");
  expect_invalid(cuda::MatmulForward<bf16>(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 8, -1, 8, nullptr),
                 "C");
  expect_invalid(cuda::MatmulBackward<float>(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 8, 8, 0,
                                             nullptr),
                 "OC");
  expect_invalid(cuda::Gemm<bf16>(nullptr, nullptr, nullptr, nullptr, 8, 8, -3, nullptr), "K");
  expect_invalid(cuda::Gemm<float>(nullptr, nullptr, nullptr, nullptr, 0, 8, 8, nullptr), "M");
  // Good sizes, but no context.
  expect_invalid(cuda::Gemm<float>(nullptr, nullptr, nullptr, nullptr, 8, 8, 8, nullptr), "ctx");
}

// The tiled GEMM that stands in where cuBLASLt has no algorithm, on its own:
// every transpose pair, padded leading dimensions, beta 0 over NaN and
// beta 1 onto a starting value, with and without a bias.
template <typename TIn, typename TOut>
void CheckFallbackGemm(double tol) {
  std::mt19937 rng(406);
  const int m = 37, n = 21, k = 45;
  for (bool trans_a : {false, true})
    for (bool trans_b : {false, true})
      for (float beta : {0.0f, 1.0f})
        for (bool with_bias : {false, true}) {
          SCOPED_TRACE(testing::Message() << "trans_a=" << trans_a << " trans_b=" << trans_b << " beta=" << beta
                                          << " bias=" << with_bias);
          const int a_rows = trans_a ? k : m, a_cols = trans_a ? m : k;
          const int b_rows = trans_b ? n : k, b_cols = trans_b ? k : n;
          const int64_t lda = a_rows + 3, ldb = b_rows + 5, ldd = m + 2;
          const std::vector<float> a = RoundTo<TIn>(RandomFloats(rng, (size_t)lda * a_cols));
          const std::vector<float> b = RoundTo<TIn>(RandomFloats(rng, (size_t)ldb * b_cols));
          const std::vector<float> bias = RoundTo<TOut>(RandomFloats(rng, m));
          const std::vector<float> d0 = RoundTo<TOut>(RandomFloats(rng, (size_t)ldd * n));
          auto d_a = Upload<TIn>(a), d_b = Upload<TIn>(b);
          auto d_bias = Upload<TOut>(bias);
          DeviceBuffer<TOut> d_d = beta == 0.0f ? Poisoned<TOut>((size_t)ldd * n) : Upload<TOut>(d0);
          const Status st = cuda::FallbackGemm<TIn, TOut>(trans_a, trans_b, m, n, k, 1.0f, d_a.data(), lda,
                                                          d_b.data(), ldb, beta, d_d.data(), ldd,
                                                          with_bias ? d_bias.data() : nullptr, nullptr);
          ASSERT_TRUE(st.ok()) << st.ToString();
          const std::vector<float> got_padded = Download(d_d.data(), (size_t)ldd * n);
          std::vector<float> got, want;
          for (int j = 0; j < n; ++j)
            for (int i = 0; i < m; ++i) {
              double sum = 0.0;
              for (int p = 0; p < k; ++p) {
                const float av = trans_a ? a[(size_t)i * lda + p] : a[(size_t)p * lda + i];
                const float bv = trans_b ? b[(size_t)p * ldb + j] : b[(size_t)j * ldb + p];
                sum += (double)av * bv;
              }
              if (beta != 0.0f) sum += beta * d0[(size_t)j * ldd + i];
              if (with_bias) sum += bias[i];
              want.push_back((float)sum);
              got.push_back(got_padded[(size_t)j * ldd + i]);
            }
          ExpectClose(got, want, tol, "d");
        }
}

TEST(MatmulFallbackGemmCuda, Fp32MatchesAPlainLoop) {
  MERIDIAN_SKIP_WITHOUT_GPU();
  CheckFallbackGemm<float, float>(Tolerance<float>(true));
}

TEST(MatmulFallbackGemmCuda, Bf16MatchesAPlainLoop) {
  MERIDIAN_SKIP_WITHOUT_GPU();
  CheckFallbackGemm<bf16, bf16>(Tolerance<bf16>(true));
}

TEST(MatmulFallbackGemmCuda, Bf16IntoFp32MatchesAPlainLoop) {
  MERIDIAN_SKIP_WITHOUT_GPU();
  CheckFallbackGemm<bf16, float>(Tolerance<float>(true));
}

}  // namespace
}  // namespace meridian
