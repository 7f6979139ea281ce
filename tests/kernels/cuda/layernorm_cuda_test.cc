#include <gtest/gtest.h>

#include <cuda_runtime.h>

#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/layernorm.h"
#include "kernels/cpu/residual.h"
#include "kernels/cuda/elementwise.cuh"
#include "kernels/cuda/layernorm.cuh"
#include "tests/kernels/cuda/cuda_test_util.h"

namespace meridian {
namespace {

using namespace cuda_test;

template <typename T>
class LayerNormCuda : public testing::Test {};
using StorageTypes = testing::Types<float, bf16>;
TYPED_TEST_SUITE(LayerNormCuda, StorageTypes);

struct LayerNormShape {
  int N, C;
};

// One-element rows, widths off the 32-lane grid, GPT-2 small and XL widths,
// more rows than the backward's grid has warps (its row loop takes several
// laps), and a width whose backward partial sums exceed 48 KB of shared
// memory.
const LayerNormShape kShapes[] = {{1, 1}, {7, 77}, {33, 768}, {5, 1600}, {9001, 77}, {3, 8000}};

std::string Describe(const LayerNormShape& s) { return "N=" + std::to_string(s.N) + " C=" + std::to_string(s.C); }

struct LayerNormParams {
  std::vector<float> weight, bias;
};

template <typename T>
LayerNormParams RandomParams(std::mt19937& rng, int C) {
  return {RoundTo<T>(RandomFloats(rng, C, 0.5f, 1.5f)), RoundTo<T>(RandomFloats(rng, C, -0.5f, 0.5f))};
}

// Rows off-centre (mean near 1) so a kernel that skips centring shows.
std::vector<float> RandomRows(std::mt19937& rng, size_t n) { return RandomFloats(rng, n, -1.0f, 3.0f); }

TYPED_TEST(LayerNormCuda, ForwardMatchesTheCpuKernel) {
  using T = TypeParam;
  MERIDIAN_SKIP_WITHOUT_GPU();
  std::mt19937 rng(1001);
  for (const LayerNormShape& s : kShapes) {
    SCOPED_TRACE(std::string(TypeName<T>()) + " " + Describe(s));
    const size_t NC = (size_t)s.N * s.C;
    const std::vector<float> inp = RoundTo<T>(RandomRows(rng, NC));
    const LayerNormParams p = RandomParams<T>(rng, s.C);
    auto d_inp = Upload<T>(inp);
    auto d_w = Upload<T>(p.weight);
    auto d_b = Upload<T>(p.bias);
    auto d_out = Poisoned<T>(NC);
    auto d_mean = Poisoned<float>(s.N);
    auto d_rstd = Poisoned<float>(s.N);
    const Status st = cuda::LayerNormForward<T>(d_out.data(), d_mean.data(), d_rstd.data(), d_inp.data(), d_w.data(),
                                                d_b.data(), s.N, s.C, nullptr);
    ASSERT_TRUE(st.ok()) << st.ToString();
    std::vector<float> out(NC), mean(s.N), rstd(s.N);
    cpu::LayerNormForward(out.data(), mean.data(), rstd.data(), inp.data(), p.weight.data(), p.bias.data(), s.N, s.C);
    ExpectClose(Download(d_out.data(), NC), out, Tolerance<T>(), "out");
    // Statistics are float for both storage types; only the order of the
    // row sums differs from the CPU's.
    ExpectClose(Download(d_mean.data(), s.N), mean, Tolerance<float>(true), "mean");
    ExpectClose(Download(d_rstd.data(), s.N), rstd, Tolerance<float>(true), "rstd");
  }
}

TYPED_TEST(LayerNormCuda, FusedResidualMatchesTheCpuKernelsAndTheUnfusedGpuKernelsExactly) {
  using T = TypeParam;
  MERIDIAN_SKIP_WITHOUT_GPU();
  std::mt19937 rng(1002);
  for (const LayerNormShape& s : kShapes) {
    SCOPED_TRACE(std::string(TypeName<T>()) + " " + Describe(s));
    const size_t NC = (size_t)s.N * s.C;
    const std::vector<float> a = RoundTo<T>(RandomRows(rng, NC));
    const std::vector<float> b = RoundTo<T>(RandomFloats(rng, NC));
    const LayerNormParams p = RandomParams<T>(rng, s.C);
    auto d_a = Upload<T>(a);
    auto d_b = Upload<T>(b);
    auto d_w = Upload<T>(p.weight);
    auto d_bias = Upload<T>(p.bias);
    auto d_residual = Poisoned<T>(NC);
    auto d_out = Poisoned<T>(NC);
    auto d_mean = Poisoned<float>(s.N);
    auto d_rstd = Poisoned<float>(s.N);
    Status st = cuda::ResidualLayerNormForward<T>(d_residual.data(), d_out.data(), d_mean.data(), d_rstd.data(),
                                                  d_a.data(), d_b.data(), d_w.data(), d_bias.data(), s.N, s.C,
                                                  nullptr);
    ASSERT_TRUE(st.ok()) << st.ToString();

    // The CPU reference normalises the residual as stored (rounded to T).
    std::vector<float> residual(NC);
    cpu::ResidualForward(residual.data(), a.data(), b.data(), NC);
    residual = RoundTo<T>(residual);
    std::vector<float> out(NC), mean(s.N), rstd(s.N);
    cpu::LayerNormForward(out.data(), mean.data(), rstd.data(), residual.data(), p.weight.data(), p.bias.data(), s.N,
                          s.C);
    const std::vector<float> got_residual = Download(d_residual.data(), NC);
    const std::vector<float> got_out = Download(d_out.data(), NC);
    const std::vector<float> got_mean = Download(d_mean.data(), s.N);
    const std::vector<float> got_rstd = Download(d_rstd.data(), s.N);
    ExpectClose(got_residual, residual, 0.0, "residual");
    ExpectClose(got_out, out, Tolerance<T>(), "out");
    ExpectClose(got_mean, mean, Tolerance<float>(true), "mean");
    ExpectClose(got_rstd, rstd, Tolerance<float>(true), "rstd");

    // Fused or not, the GPU gives the same bits.
    auto d_residual2 = Poisoned<T>(NC);
    auto d_out2 = Poisoned<T>(NC);
    auto d_mean2 = Poisoned<float>(s.N);
    auto d_rstd2 = Poisoned<float>(s.N);
    st = cuda::ResidualForward<T>(d_residual2.data(), d_a.data(), d_b.data(), NC, nullptr);
    ASSERT_TRUE(st.ok()) << st.ToString();
    st = cuda::LayerNormForward<T>(d_out2.data(), d_mean2.data(), d_rstd2.data(), d_residual2.data(), d_w.data(),
                                   d_bias.data(), s.N, s.C, nullptr);
    ASSERT_TRUE(st.ok()) << st.ToString();
    ExpectClose(Download(d_residual2.data(), NC), got_residual, 0.0, "unfused residual");
    ExpectClose(Download(d_out2.data(), NC), got_out, 0.0, "unfused out");
    ExpectClose(Download(d_mean2.data(), s.N), got_mean, 0.0, "unfused mean");
    ExpectClose(Download(d_rstd2.data(), s.N), got_rstd, 0.0, "unfused rstd");
  }
}

TYPED_TEST(LayerNormCuda, BackwardAccumulatesAsTheCpuKernelDoes) {
  using T = TypeParam;
  MERIDIAN_SKIP_WITHOUT_GPU();
  std::mt19937 rng(1003);
  for (const LayerNormShape& s : kShapes) {
    SCOPED_TRACE(std::string(TypeName<T>()) + " " + Describe(s));
    const size_t NC = (size_t)s.N * s.C;
    const std::vector<float> inp = RoundTo<T>(RandomRows(rng, NC));
    const std::vector<float> dout = RoundTo<T>(RandomFloats(rng, NC));
    const LayerNormParams p = RandomParams<T>(rng, s.C);
    // The saved statistics of the forward, as the model passes them.
    std::vector<float> out(NC), mean(s.N), rstd(s.N);
    cpu::LayerNormForward(out.data(), mean.data(), rstd.data(), inp.data(), p.weight.data(), p.bias.data(), s.N, s.C);
    // Every output accumulates: start from earlier values, not zeros.
    std::vector<float> dinp = RoundTo<T>(RandomFloats(rng, NC));
    std::vector<float> dweight = RandomFloats(rng, s.C);
    std::vector<float> dbias = RandomFloats(rng, s.C);

    auto d_inp = Upload<T>(inp);
    auto d_dout = Upload<T>(dout);
    auto d_w = Upload<T>(p.weight);
    auto d_mean = Upload<float>(mean);
    auto d_rstd = Upload<float>(rstd);
    auto d_dinp = Upload<T>(dinp);
    auto d_dweight = Upload<float>(dweight);
    auto d_dbias = Upload<float>(dbias);
    const Status st =
        cuda::LayerNormBackward<T>(d_dinp.data(), d_dweight.data(), d_dbias.data(), d_dout.data(), d_inp.data(),
                                   d_w.data(), d_mean.data(), d_rstd.data(), s.N, s.C, nullptr);
    ASSERT_TRUE(st.ok()) << st.ToString();
    cpu::LayerNormBackward(dinp.data(), dweight.data(), dbias.data(), dout.data(), inp.data(), p.weight.data(),
                           mean.data(), rstd.data(), s.N, s.C);
    ExpectClose(Download(d_dinp.data(), NC), dinp, Tolerance<T>(), "dinp");
    // Float sums over rows for both storage types, in another order.
    ExpectClose(Download(d_dweight.data(), (size_t)s.C), dweight, Tolerance<float>(true), "dweight");
    ExpectClose(Download(d_dbias.data(), (size_t)s.C), dbias, Tolerance<float>(true), "dbias");
  }
}

TEST(LayerNormCudaArguments, NegativeOrZeroWidthsAreRefusedAndNoRowsAreNoOps) {
  // Checked before any device work, so this runs without a GPU.
  EXPECT_EQ(cuda::LayerNormForward<float>(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, -1, 8, nullptr).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(cuda::LayerNormForward<bf16>(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 4, 0, nullptr).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(cuda::ResidualLayerNormForward<float>(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
                                                  nullptr, 4, -2, nullptr)
                .code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(cuda::LayerNormBackward<bf16>(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 4, 8,
                                          nullptr)
                .code(),
            Status::Code::kInvalidArgument);
  EXPECT_TRUE(cuda::LayerNormForward<float>(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 0, 8, nullptr).ok());
  EXPECT_TRUE(cuda::ResidualLayerNormForward<bf16>(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
                                                   nullptr, 0, 8, nullptr)
                  .ok());
  EXPECT_TRUE(cuda::LayerNormBackward<float>(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 0,
                                             8, nullptr)
                  .ok());
}

}  // namespace
}  // namespace meridian
