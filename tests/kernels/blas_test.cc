#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "kernels/cpu/blas.h"
#include "tests/kernels/kernel_test_util.h"

namespace meridian {
namespace {

using namespace kernel_test;

// C (M,N) = alpha op(A) op(B) + beta C in double, row-major with leading
// dimensions, the way cblas_sgemm reads its arguments.
std::vector<double> ReferenceGemm(bool ta, bool tb, int M, int N, int K, double alpha, const std::vector<float>& A,
                                  int lda, const std::vector<float>& B, int ldb, double beta,
                                  const std::vector<float>& C, int ldc) {
  std::vector<double> out = ToDouble(C);
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      double acc = 0.0;
      for (int k = 0; k < K; ++k) {
        const double a = ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
        const double b = tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
        acc += a * b;
      }
      out[(size_t)i * ldc + j] = alpha * acc + beta * C[(size_t)i * ldc + j];
    }
  return out;
}

TEST(Sgemm, MatchesDoubleReferenceForEveryTransposeOnStridedViews) {
  // Leading dimensions wider than the rows, as for one head's columns of
  // a fused QKV buffer; the columns between must be left alone.
  std::mt19937 rng(1001);
  const int M = 13, N = 7, K = 19, pad = 5;
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (float beta : {0.0f, 1.0f, 0.5f}) {
        SCOPED_TRACE(testing::Message() << "trans_a=" << ta << " trans_b=" << tb << " beta=" << beta);
        const int a_rows = ta ? K : M, a_cols = ta ? M : K, b_rows = tb ? N : K, b_cols = tb ? K : N;
        const int lda = a_cols + pad, ldb = b_cols + pad, ldc = N + pad;
        const std::vector<float> A = RandomFloats(rng, (size_t)a_rows * lda);
        const std::vector<float> B = RandomFloats(rng, (size_t)b_rows * ldb);
        std::vector<float> C = RandomFloats(rng, (size_t)M * ldc);
        const std::vector<float> C0 = C;
        const std::vector<double> want = ReferenceGemm(ta, tb, M, N, K, 0.75, A, lda, B, ldb, beta, C, ldc);
        cpu::Sgemm(ta, tb, M, N, K, 0.75f, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
        EXPECT_TRUE(AllClose(C, want, kForwardTol));
        for (int i = 0; i < M; ++i)
          for (int j = N; j < ldc; ++j) EXPECT_EQ(C[(size_t)i * ldc + j], C0[(size_t)i * ldc + j]);
      }
}

TEST(Sgemm, BetaZeroIgnoresNaNsAlreadyInTheOutput) {
  std::mt19937 rng(1002);
  const int M = 5, N = 3, K = 33;
  const std::vector<float> A = RandomFloats(rng, (size_t)M * K), B = RandomFloats(rng, (size_t)K * N);
  std::vector<float> C = Poisoned((size_t)M * N);
  const std::vector<double> want = ReferenceGemm(false, false, M, N, K, 1.0, A, K, B, N, 0.0,
                                                 std::vector<float>((size_t)M * N, 0.0f), N);
  cpu::Sgemm(false, false, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, C.data(), N);
  EXPECT_TRUE(AllClose(C, want, kForwardTol));
  EXPECT_TRUE(GuardIntact(C, (size_t)M * N));
}

}  // namespace
}  // namespace meridian
