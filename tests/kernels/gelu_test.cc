#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/gelu.h"
#include "tests/kernels/kernel_test_util.h"
#include "tests/kernels/reference_kernels.h"

namespace meridian {
namespace {

using namespace kernel_test;

// Lengths off every SIMD width and thread split, and B*T*4C at B=2,T=64,C=128.
const size_t kLengths[] = {1, 7, 13, 33, 1000, 2 * 64 * 512};

// In the negative tail 0.5 x (1 + tanh u) and 1 - tanh^2 u cancel: in float
// the absolute error stays near 1e-7 while the value shrinks towards 0, so
// a short sample drawn there would turn the max-abs criterion into a
// pointwise relative one. Errors are measured against a scale of at least 1,
// the size of GELU and its slope away from the tail.
constexpr double kScaleFloor = 1.0;

TEST(Gelu, ForwardMatchesDoubleReference) {
  std::mt19937 rng(501);
  for (size_t n : kLengths) {
    SCOPED_TRACE(testing::Message() << "n=" << n);
    const std::vector<float> inp = RandomFloats(rng, n, -6.0f, 6.0f);  // both tails
    std::vector<float> out = Poisoned(n);
    cpu::GeluForward(out.data(), inp.data(), n);
    std::vector<double> want(n);
    ref::GeluForward(want.data(), ToDouble(inp).data(), n);
    EXPECT_TRUE(AllClose(out.data(), want.data(), n, kForwardTol, kScaleFloor));
    EXPECT_TRUE(GuardIntact(out, n));
  }
}

TEST(Gelu, BackwardMatchesDoubleReference) {
  std::mt19937 rng(502);
  for (size_t n : kLengths) {
    SCOPED_TRACE(testing::Message() << "n=" << n);
    const std::vector<float> inp = RandomFloats(rng, n, -6.0f, 6.0f);
    const std::vector<float> dout = RandomFloats(rng, n);
    std::vector<float> dinp = Poisoned(n);  // overwritten, not accumulated
    cpu::GeluBackward(dinp.data(), inp.data(), dout.data(), n);
    std::vector<double> want(n);
    ref::GeluBackward(want.data(), ToDouble(inp).data(), ToDouble(dout).data(), n);
    EXPECT_TRUE(AllClose(dinp.data(), want.data(), n, kBackwardTol, kScaleFloor));
    EXPECT_TRUE(GuardIntact(dinp, n));
  }
}

TEST(Gelu, HasKnownValuesAtZeroAndFarFromIt) {
  const std::vector<float> inp = {0.0f, 10.0f, -10.0f};
  const std::vector<float> ones(3, 1.0f);
  std::vector<float> out(3), dinp(3);
  cpu::GeluForward(out.data(), inp.data(), 3);
  cpu::GeluBackward(dinp.data(), inp.data(), ones.data(), 3);
  EXPECT_EQ(out[0], 0.0f);
  EXPECT_FLOAT_EQ(out[1], 10.0f);
  EXPECT_NEAR(out[2], 0.0f, 1e-6);
  EXPECT_FLOAT_EQ(dinp[0], 0.5f);
  EXPECT_NEAR(dinp[1], 1.0f, 1e-6);
  EXPECT_NEAR(dinp[2], 0.0f, 1e-6);
}

TEST(Gelu, TailErrorStaysAtFloatRoundingLevel) {
  // A dense sweep over [-10, 10]: absolute error against double, which the
  // cancellation in the tail keeps near 1e-7 but must not let grow.
  std::vector<float> inp;
  for (int i = -100000; i <= 100000; ++i) inp.push_back((float)i * 1e-4f);
  const size_t n = inp.size();
  const std::vector<float> ones(n, 1.0f);
  std::vector<float> out(n), dinp(n);
  cpu::GeluForward(out.data(), inp.data(), n);
  cpu::GeluBackward(dinp.data(), inp.data(), ones.data(), n);
  std::vector<double> want_out(n), want_dinp(n);
  ref::GeluForward(want_out.data(), ToDouble(inp).data(), n);
  ref::GeluBackward(want_dinp.data(), ToDouble(inp).data(), ToDouble(ones).data(), n);
  double max_fwd = 0.0, max_bwd = 0.0;
  for (size_t i = 0; i < n; ++i) {
    max_fwd = std::max(max_fwd, std::fabs(out[i] - want_out[i]));
    max_bwd = std::max(max_bwd, std::fabs(dinp[i] - want_dinp[i]));
  }
  EXPECT_LT(max_fwd, 1e-6);  // ~4.7e-7 measured; outputs reach 10
  EXPECT_LT(max_bwd, 5e-6);  // ~1.2e-6 measured; slopes reach 1.13
}

TEST(Gelu, DoubleReferenceBackwardMatchesFiniteDifferences) {
  std::mt19937 rng(503);
  const size_t n = 41;
  const std::vector<double> inp = ToDouble(RandomFloats(rng, n, -6.0f, 6.0f));
  const std::vector<double> dout = ToDouble(RandomFloats(rng, n));
  std::vector<double> dinp(n), out(n);
  ref::GeluBackward(dinp.data(), inp.data(), dout.data(), n);
  auto loss = [&](const std::vector<double>& x) {
    ref::GeluForward(out.data(), x.data(), n);
    return Dot(out, dout);
  };
  EXPECT_TRUE(AllClose(dinp, ref::FiniteDifferenceGradient(loss, inp), kFiniteDiffTol));
}

}  // namespace
}  // namespace meridian
