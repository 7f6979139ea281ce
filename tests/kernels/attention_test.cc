#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/attention.h"
#include "tests/kernels/kernel_test_util.h"
#include "tests/kernels/reference_kernels.h"

namespace meridian {
namespace {

using namespace kernel_test;

struct AttentionShape {
  int B, T, C, NH;
};

// T=1 (with one and with several heads), one head, head sizes off the SIMD
// grid (7, 13, 4, 11, 5), B=1 and B=3, and B=2,T=64,C=128,NH=4.
const AttentionShape kShapes[] = {{1, 1, 7, 1},  {3, 1, 8, 2},   {3, 5, 13, 1}, {1, 7, 12, 3},
                                  {3, 17, 33, 3}, {2, 9, 20, 4}, {2, 64, 128, 4}};

testing::Message Describe(const AttentionShape& s) {
  return testing::Message() << "B=" << s.B << " T=" << s.T << " C=" << s.C << " NH=" << s.NH;
}

TEST(Attention, ForwardMatchesDoubleReferenceWithExplicitCausalMask) {
  std::mt19937 rng(401);
  for (const AttentionShape& s : kShapes) {
    SCOPED_TRACE(Describe(s));
    const size_t BTC = (size_t)s.B * s.T * s.C, att_n = (size_t)s.B * s.NH * s.T * s.T;
    const std::vector<float> qkv = RandomFloats(rng, 3 * BTC, -2.0f, 2.0f);
    std::vector<float> out = Poisoned(BTC), att = Poisoned(att_n);
    cpu::AttentionForward(out.data(), att.data(), qkv.data(), s.B, s.T, s.C, s.NH);
    std::vector<double> want_out(BTC), want_att(att_n);
    ref::AttentionForward(want_out.data(), want_att.data(), ToDouble(qkv).data(), s.B, s.T, s.C, s.NH);
    EXPECT_TRUE(AllClose(out, want_out, kForwardTol));
    EXPECT_TRUE(AllClose(att, want_att, kForwardTol));
    EXPECT_TRUE(GuardIntact(out, BTC));
    EXPECT_TRUE(GuardIntact(att, att_n));
    // Above the diagonal: exactly zero. Each row: a distribution.
    for (size_t bh = 0; bh < (size_t)s.B * s.NH; ++bh)
      for (int t = 0; t < s.T; ++t) {
        const float* row = att.data() + (bh * s.T + t) * s.T;
        double sum = 0.0;
        for (int j = 0; j < s.T; ++j) {
          if (j > t) {
            EXPECT_EQ(row[j], 0.0f) << "bh=" << bh << " t=" << t << " j=" << j;
          }
          sum += row[j];
        }
        EXPECT_NEAR(sum, 1.0, 1e-6) << "bh=" << bh << " t=" << t;
      }
  }
}

TEST(Attention, BackwardMatchesDoubleReference) {
  std::mt19937 rng(402);
  for (const AttentionShape& s : kShapes) {
    SCOPED_TRACE(Describe(s));
    const size_t BTC = (size_t)s.B * s.T * s.C, att_n = (size_t)s.B * s.NH * s.T * s.T;
    const std::vector<float> qkv = RandomFloats(rng, 3 * BTC, -2.0f, 2.0f);
    const std::vector<float> dout = RandomFloats(rng, BTC);
    std::vector<float> out(BTC), att(att_n);
    cpu::AttentionForward(out.data(), att.data(), qkv.data(), s.B, s.T, s.C, s.NH);
    // dqkv is overwritten and scratch is workspace: both start as NaN.
    std::vector<float> dqkv = Poisoned(3 * BTC), scratch = Poisoned(att_n);
    cpu::AttentionBackward(dqkv.data(), scratch.data(), dout.data(), qkv.data(), att.data(), s.B, s.T, s.C, s.NH);
    std::vector<double> want(3 * BTC);
    ref::AttentionBackward(want.data(), ToDouble(dout).data(), ToDouble(qkv).data(), s.B, s.T, s.C, s.NH);
    EXPECT_TRUE(AllClose(dqkv, want, kBackwardTol));
    EXPECT_TRUE(GuardIntact(dqkv, 3 * BTC));
    EXPECT_TRUE(GuardIntact(scratch, att_n));
    // Each third on its own, so a small dq cannot hide behind a large dv.
    for (int part = 0; part < 3; ++part) {
      SCOPED_TRACE(testing::Message() << "part " << "qkv"[part]);
      std::vector<float> got_part;
      std::vector<double> want_part;
      for (size_t bt = 0; bt < (size_t)s.B * s.T; ++bt)
        for (int c = 0; c < s.C; ++c) {
          got_part.push_back(dqkv[bt * 3 * s.C + part * s.C + c]);
          want_part.push_back(want[bt * 3 * s.C + part * s.C + c]);
        }
      EXPECT_TRUE(AllClose(got_part, want_part, kBackwardTol));
    }
  }
}

TEST(Attention, OutputAtFirstPositionIsItsOwnValue) {
  // Position 0 attends only to itself: out[b,0] = v[b,0] for every head.
  std::mt19937 rng(403);
  const int B = 3, T = 6, C = 13, NH = 1;
  const std::vector<float> qkv = RandomFloats(rng, (size_t)B * T * 3 * C);
  std::vector<float> out((size_t)B * T * C), att((size_t)B * NH * T * T);
  cpu::AttentionForward(out.data(), att.data(), qkv.data(), B, T, C, NH);
  for (int b = 0; b < B; ++b)
    for (int c = 0; c < C; ++c)
      EXPECT_NEAR(out[(size_t)b * T * C + c], qkv[(size_t)b * T * 3 * C + 2 * C + c], 1e-6);
}

TEST(Attention, DoubleReferenceBackwardMatchesFiniteDifferences) {
  std::mt19937 rng(404);
  for (const AttentionShape& s : {AttentionShape{2, 4, 6, 2}, AttentionShape{1, 5, 3, 1}}) {
    SCOPED_TRACE(Describe(s));
    const size_t BTC = (size_t)s.B * s.T * s.C;
    const std::vector<double> qkv = ToDouble(RandomFloats(rng, 3 * BTC, -2.0f, 2.0f));
    const std::vector<double> dout = ToDouble(RandomFloats(rng, BTC));
    std::vector<double> dqkv(3 * BTC);
    ref::AttentionBackward(dqkv.data(), dout.data(), qkv.data(), s.B, s.T, s.C, s.NH);
    std::vector<double> out(BTC), att((size_t)s.B * s.NH * s.T * s.T);
    auto loss = [&](const std::vector<double>& x) {
      ref::AttentionForward(out.data(), att.data(), x.data(), s.B, s.T, s.C, s.NH);
      return Dot(out, dout);
    };
    EXPECT_TRUE(AllClose(dqkv, ref::FiniteDifferenceGradient(loss, qkv), kFiniteDiffTol));
  }
}

}  // namespace
}  // namespace meridian
