#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/reduce.h"
#include "tests/kernels/kernel_test_util.h"
#include "tests/kernels/reference_kernels.h"

namespace meridian {
namespace {

using namespace kernel_test;

struct ColumnSumShape {
  int N, C;
};

// One row (the serial path), fewer rows than the 16 row blocks, exactly 16,
// one more, many rows, and odd widths.
const ColumnSumShape kColumnSumShapes[] = {{1, 7},  {2, 13},   {15, 33},  {16, 5},
                                           {17, 19}, {1000, 19}, {128, 768}};

TEST(ColumnSumAccumulate, AddsColumnSumsLikeDoubleReference) {
  std::mt19937 rng(901);
  for (const ColumnSumShape& s : kColumnSumShapes) {
    SCOPED_TRACE(testing::Message() << "N=" << s.N << " C=" << s.C);
    const std::vector<float> in = RandomFloats(rng, (size_t)s.N * s.C);
    std::vector<float> out = RandomFloats(rng, s.C);  // accumulates onto this
    std::vector<double> want = ToDouble(out);
    cpu::ColumnSumAccumulate(out.data(), in.data(), s.N, s.C);
    ref::ColumnSumAccumulate(want.data(), ToDouble(in).data(), s.N, s.C);
    EXPECT_TRUE(AllClose(out, want, kBackwardTol));
  }
}

TEST(ColumnSumAccumulate, IsBitIdenticalForOneAndTwoThreads) {
  std::mt19937 rng(902);
  for (const ColumnSumShape& s : kColumnSumShapes) {
    SCOPED_TRACE(testing::Message() << "N=" << s.N << " C=" << s.C);
    const std::vector<float> in = RandomFloats(rng, (size_t)s.N * s.C);
    const std::vector<float> out0 = RandomFloats(rng, s.C);
    std::vector<float> out[3] = {out0, out0, out0};
    for (int i = 0; i < 3; ++i) {
      ScopedOmpThreads threads(i + 1);
      cpu::ColumnSumAccumulate(out[i].data(), in.data(), s.N, s.C);
    }
    EXPECT_TRUE(BitIdentical(out[0], out[1]));
    EXPECT_TRUE(BitIdentical(out[0], out[2])) << "three threads";
  }
}

TEST(SumOfSquares, MatchesDoubleReference) {
  std::mt19937 rng(903);
  for (size_t n : {size_t{1}, size_t{7}, size_t{63}, size_t{64}, size_t{65}, size_t{100'003}}) {
    SCOPED_TRACE(testing::Message() << "n=" << n);
    const std::vector<float> x = RandomFloats(rng, n, -3.0f, 3.0f);
    const double want = ref::SumOfSquares(ToDouble(x).data(), n);
    // Accumulated in double: only the summation order differs.
    EXPECT_NEAR(cpu::SumOfSquares(x.data(), n), want, 1e-12 * want);
  }
}

TEST(SumOfSquares, IsZeroForAnEmptySpan) { EXPECT_EQ(cpu::SumOfSquares(nullptr, 0), 0.0); }

TEST(SumOfSquares, IsBitIdenticalForOneAndTwoThreads) {
  std::mt19937 rng(904);
  for (size_t n : {size_t{7}, size_t{65}, size_t{100'003}}) {
    SCOPED_TRACE(testing::Message() << "n=" << n);
    const std::vector<float> x = RandomFloats(rng, n, -3.0f, 3.0f);
    double sums[3];
    for (int i = 0; i < 3; ++i) {
      ScopedOmpThreads threads(i + 1);
      sums[i] = cpu::SumOfSquares(x.data(), n);
    }
    EXPECT_EQ(sums[0], sums[1]);
    EXPECT_EQ(sums[0], sums[2]) << "three threads";
  }
}

}  // namespace
}  // namespace meridian
