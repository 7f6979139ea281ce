#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "kernels/cpu/residual.h"
#include "tests/kernels/kernel_test_util.h"
#include "tests/kernels/reference_kernels.h"

namespace meridian {
namespace {

using namespace kernel_test;

TEST(Residual, ForwardIsTheCorrectlyRoundedSum) {
  std::mt19937 rng(601);
  for (size_t n : {size_t{1}, size_t{7}, size_t{33}, size_t{2 * 64 * 128}}) {
    SCOPED_TRACE(testing::Message() << "n=" << n);
    const std::vector<float> a = RandomFloats(rng, n), b = RandomFloats(rng, n);
    std::vector<float> out = Poisoned(n);
    cpu::ResidualForward(out.data(), a.data(), b.data(), n);
    std::vector<double> want(n);
    ref::ResidualForward(want.data(), ToDouble(a).data(), ToDouble(b).data(), n);
    // One float addition: exactly the double sum rounded to float.
    EXPECT_TRUE(BitIdentical(std::vector<float>(out.begin(), out.begin() + n), ToFloat(want)));
    EXPECT_TRUE(GuardIntact(out, n));
  }
}

}  // namespace
}  // namespace meridian
