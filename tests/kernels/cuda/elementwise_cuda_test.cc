#include <gtest/gtest.h>

#include <cuda_runtime.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/gelu.h"
#include "kernels/cpu/residual.h"
#include "kernels/cuda/elementwise.cuh"
#include "tests/kernels/cuda/cuda_test_util.h"

namespace meridian {
namespace {

using namespace cuda_test;

template <typename T>
class ElementwiseCuda : public testing::Test {};
using StorageTypes = testing::Types<float, bf16>;
TYPED_TEST_SUITE(ElementwiseCuda, StorageTypes);

// One element, an odd count, and more elements than one grid of the
// kernels covers (so the grid-stride loop takes a second lap).
const size_t kSizes[] = {1, 77 * 3 + 1, 9000001};

// Element-wise equality that reports the first difference rather than
// printing millions of elements.
void ExpectIdentical(const std::vector<float>& actual, const std::vector<float>& expected, const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (size_t i = 0; i < actual.size(); ++i) {
    ASSERT_EQ(actual[i], expected[i]) << what << ": first difference at element " << i;
  }
}

TYPED_TEST(ElementwiseCuda, GeluForwardMatchesTheCpuKernel) {
  using T = TypeParam;
  MERIDIAN_SKIP_WITHOUT_GPU();
  std::mt19937 rng(801);
  for (size_t n : kSizes) {
    SCOPED_TRACE(std::string(TypeName<T>()) + " n=" + std::to_string(n));
    // Wide enough to reach both flat ends of tanh.
    const std::vector<float> in = RoundTo<T>(RandomFloats(rng, n, -6.0f, 6.0f));
    auto d_in = Upload<T>(in);
    auto d_out = Poisoned<T>(n);
    const Status st = cuda::GeluForward<T>(d_out.data(), d_in.data(), n, nullptr);
    ASSERT_TRUE(st.ok()) << st.ToString();
    std::vector<float> want(n);
    cpu::GeluForward(want.data(), in.data(), n);
    ExpectClose(Download(d_out.data(), n), want, Tolerance<T>(), "out");
  }
}

TYPED_TEST(ElementwiseCuda, GeluBackwardMatchesTheCpuKernelAlsoInPlace) {
  using T = TypeParam;
  MERIDIAN_SKIP_WITHOUT_GPU();
  std::mt19937 rng(802);
  for (size_t n : kSizes) {
    SCOPED_TRACE(std::string(TypeName<T>()) + " n=" + std::to_string(n));
    const std::vector<float> in = RoundTo<T>(RandomFloats(rng, n, -6.0f, 6.0f));
    const std::vector<float> dout = RoundTo<T>(RandomFloats(rng, n));
    std::vector<float> want(n);
    cpu::GeluBackward(want.data(), in.data(), dout.data(), n);
    auto d_in = Upload<T>(in);
    auto d_dout = Upload<T>(dout);

    auto d_dinp = Poisoned<T>(n);
    Status st = cuda::GeluBackward<T>(d_dinp.data(), d_in.data(), d_dout.data(), n, nullptr);
    ASSERT_TRUE(st.ok()) << st.ToString();
    ExpectClose(Download(d_dinp.data(), n), want, Tolerance<T>(), "dinp");

    // The model overwrites dout with dinp.
    st = cuda::GeluBackward<T>(d_dout.data(), d_in.data(), d_dout.data(), n, nullptr);
    ASSERT_TRUE(st.ok()) << st.ToString();
    ExpectClose(Download(d_dout.data(), n), want, Tolerance<T>(), "dinp in place of dout");
  }
}

TYPED_TEST(ElementwiseCuda, ResidualForwardMatchesTheCpuKernelAlsoInPlace) {
  using T = TypeParam;
  MERIDIAN_SKIP_WITHOUT_GPU();
  std::mt19937 rng(803);
  for (size_t n : kSizes) {
    SCOPED_TRACE(std::string(TypeName<T>()) + " n=" + std::to_string(n));
    const std::vector<float> a = RoundTo<T>(RandomFloats(rng, n));
    const std::vector<float> b = RoundTo<T>(RandomFloats(rng, n));
    std::vector<float> want(n);
    cpu::ResidualForward(want.data(), a.data(), b.data(), n);
    auto d_a = Upload<T>(a);
    auto d_b = Upload<T>(b);

    auto d_out = Poisoned<T>(n);
    Status st = cuda::ResidualForward<T>(d_out.data(), d_a.data(), d_b.data(), n, nullptr);
    ASSERT_TRUE(st.ok()) << st.ToString();
    // One rounding of an exact float sum: identical to the rounded reference.
    ExpectIdentical(Download(d_out.data(), n), RoundTo<T>(want), "out");

    st = cuda::ResidualForward<T>(d_a.data(), d_a.data(), d_b.data(), n, nullptr);
    ASSERT_TRUE(st.ok()) << st.ToString();
    ExpectIdentical(Download(d_a.data(), n), RoundTo<T>(want), "out aliasing a");
  }
}

TEST(ConvertCuda, FloatToBf16RoundsToNearestEvenAndBackIsExact) {
  MERIDIAN_SKIP_WITHOUT_GPU();
  std::mt19937 rng(804);
  std::vector<float> in = RandomFloats(rng, 9000001, -1000.0f, 1000.0f);
  // Ties: bf16 keeps 7 mantissa bits, so 1 + 2^-8 is halfway between 1 and
  // 1 + 2^-7 (goes down to the even 1), 1 + 3 * 2^-8 halfway between
  // 1 + 2^-7 and 1 + 2^-6 (goes up to the even 1 + 2^-6).
  in[0] = 1.0f + std::ldexp(1.0f, -8);
  in[1] = 1.0f + 3.0f * std::ldexp(1.0f, -8);
  in[2] = -0.0f;
  in[3] = 3.39e38f;  // rounds down to the largest finite bf16
  in[4] = 3.40e38f;  // past the halfway point to 2^128: overflows to inf
  const size_t n = in.size();
  auto d_in = Upload<float>(in);
  auto d_bf16 = Poisoned<bf16>(n);
  Status st = cuda::ConvertFloatToBf16(d_bf16.data(), d_in.data(), n, nullptr);
  ASSERT_TRUE(st.ok()) << st.ToString();
  const std::vector<float> got = Download(d_bf16.data(), n);
  EXPECT_EQ(got[0], 1.0f);
  EXPECT_EQ(got[1], 1.0f + std::ldexp(1.0f, -6));
  EXPECT_TRUE(std::signbit(got[2]));
  EXPECT_TRUE(std::isfinite(got[3]));
  EXPECT_TRUE(std::isinf(got[4]));
  ExpectIdentical(got, RoundTo<bf16>(in), "bf16");

  auto d_back = Poisoned<float>(n);
  st = cuda::ConvertBf16ToFloat(d_back.data(), d_bf16.data(), n, nullptr);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ExpectIdentical(Download(d_back.data(), n), got, "float");
}

TEST(ScaleCuda, MultipliesEveryElementAsTheCpuLoopDoes) {
  MERIDIAN_SKIP_WITHOUT_GPU();
  std::mt19937 rng(805);
  for (size_t n : kSizes) {
    std::vector<float> in = RandomFloats(rng, n, -1000.0f, 1000.0f);
    const float factor = 1.0f / 3.0f;
    std::vector<float> want = in;
    for (float& x : want) x *= factor;
    auto d = Upload<float>(in);
    Status st = cuda::Scale(d.data(), n, factor, nullptr);
    ASSERT_TRUE(st.ok()) << st.ToString();
    ExpectIdentical(Download(d.data(), n), want, "n " + std::to_string(n));
  }
}

TEST(ElementwiseCudaArguments, EmptyInputsAreNoOpsAndNullBuffersAreRefused) {
  // Checked before any device work, so this runs without a GPU.
  EXPECT_TRUE(cuda::GeluForward<float>(nullptr, nullptr, 0, nullptr).ok());
  EXPECT_TRUE(cuda::GeluBackward<bf16>(nullptr, nullptr, nullptr, 0, nullptr).ok());
  EXPECT_TRUE(cuda::ResidualForward<float>(nullptr, nullptr, nullptr, 0, nullptr).ok());
  EXPECT_TRUE(cuda::ConvertFloatToBf16(nullptr, nullptr, 0, nullptr).ok());
  EXPECT_TRUE(cuda::ConvertBf16ToFloat(nullptr, nullptr, 0, nullptr).ok());
  EXPECT_TRUE(cuda::Scale(nullptr, 0, 2.0f, nullptr).ok());
  EXPECT_EQ(cuda::Scale(nullptr, 5, 2.0f, nullptr).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(cuda::GeluForward<bf16>(nullptr, nullptr, 5, nullptr).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(cuda::ResidualForward<bf16>(nullptr, nullptr, nullptr, 5, nullptr).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(cuda::ConvertBf16ToFloat(nullptr, nullptr, 5, nullptr).code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace meridian
