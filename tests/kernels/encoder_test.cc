#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "kernels/cpu/encoder.h"
#include "tests/kernels/kernel_test_util.h"
#include "tests/kernels/reference_kernels.h"

namespace meridian {
namespace {

using namespace kernel_test;

struct EncoderShape {
  int B, T, C;
  int V;     // rows of wte; small values force repeated tokens
  int maxT;  // rows of wpe, >= T
};

// Awkward widths (not multiples of 4/8/16, and across the kernel's 64-column
// blocks), T=1, B=1 and B=3, and one realistic shape.
const EncoderShape kShapes[] = {
    {1, 1, 7, 5, 1}, {3, 5, 13, 4, 8}, {1, 9, 33, 3, 9}, {3, 7, 130, 6, 10}, {2, 64, 128, 50, 64},
};

TEST(Encoder, ForwardEqualsTokenPlusPositionRowsExactly) {
  std::mt19937 rng(101);
  for (const EncoderShape& s : kShapes) {
    SCOPED_TRACE(testing::Message() << "B=" << s.B << " T=" << s.T << " C=" << s.C);
    const size_t BTC = (size_t)s.B * s.T * s.C;
    const std::vector<int> inp = RandomInts(rng, (size_t)s.B * s.T, 0, s.V - 1);
    const std::vector<float> wte = RandomFloats(rng, (size_t)s.V * s.C);
    const std::vector<float> wpe = RandomFloats(rng, (size_t)s.maxT * s.C);
    std::vector<float> out = Poisoned(BTC);
    cpu::EncoderForward(out.data(), inp.data(), wte.data(), wpe.data(), s.B, s.T, s.C);
    std::vector<double> want(BTC);
    ref::EncoderForward(want.data(), inp.data(), ToDouble(wte).data(), ToDouble(wpe).data(), s.B, s.T, s.C);
    // One float addition per element: correctly rounded, so exact.
    EXPECT_TRUE(BitIdentical(std::vector<float>(out.begin(), out.begin() + BTC), ToFloat(want)));
    EXPECT_TRUE(GuardIntact(out, BTC));
  }
}

TEST(Encoder, BackwardAccumulatesRepeatedTokensLikeDoubleReference) {
  std::mt19937 rng(102);
  for (const EncoderShape& s : kShapes) {
    SCOPED_TRACE(testing::Message() << "B=" << s.B << " T=" << s.T << " C=" << s.C << " V=" << s.V);
    const std::vector<int> inp = RandomInts(rng, (size_t)s.B * s.T, 0, s.V - 1);
    const std::vector<float> dout = RandomFloats(rng, (size_t)s.B * s.T * s.C);
    // Non-zero starting gradients: the kernel must add, not overwrite.
    std::vector<float> dwte = RandomFloats(rng, (size_t)s.V * s.C);
    std::vector<float> dwpe = RandomFloats(rng, (size_t)s.maxT * s.C);
    std::vector<double> want_wte = ToDouble(dwte), want_wpe = ToDouble(dwpe);
    const std::vector<float> dwte0 = dwte, dwpe0 = dwpe;

    cpu::EncoderBackward(dwte.data(), dwpe.data(), dout.data(), inp.data(), s.B, s.T, s.C);
    ref::EncoderBackward(want_wte.data(), want_wpe.data(), ToDouble(dout).data(), inp.data(), s.B, s.T, s.C);

    EXPECT_TRUE(AllClose(dwte, want_wte, kBackwardTol));
    EXPECT_TRUE(AllClose(dwpe, want_wpe, kBackwardTol));
    // Rows of tokens that never occur, and positions >= T, are untouched.
    std::vector<bool> seen(s.V, false);
    for (int tok : inp) seen[tok] = true;
    for (int v = 0; v < s.V; ++v) {
      if (seen[v]) continue;
      for (int c = 0; c < s.C; ++c) EXPECT_EQ(dwte[(size_t)v * s.C + c], dwte0[(size_t)v * s.C + c]);
    }
    for (size_t i = (size_t)s.T * s.C; i < dwpe.size(); ++i) EXPECT_EQ(dwpe[i], dwpe0[i]);
  }
}

TEST(Encoder, BackwardSumsEveryOccurrenceOfARepeatedToken) {
  // Every position holds the same token: its row gets the sum of all B*T
  // rows of dout, computed here with small integers so it is exact.
  const int B = 3, T = 5, C = 13, V = 4;
  std::vector<int> inp(B * T, 2);
  std::vector<float> dout((size_t)B * T * C);
  for (size_t i = 0; i < dout.size(); ++i) dout[i] = (float)(i % 7) - 3.0f;
  std::vector<float> dwte((size_t)V * C, 1.0f), dwpe((size_t)T * C, 0.0f);
  cpu::EncoderBackward(dwte.data(), dwpe.data(), dout.data(), inp.data(), B, T, C);
  for (int c = 0; c < C; ++c) {
    float want = 1.0f;
    for (int bt = 0; bt < B * T; ++bt) want += dout[(size_t)bt * C + c];
    EXPECT_EQ(dwte[2 * C + c], want) << "c=" << c;
    EXPECT_EQ(dwte[0 * C + c], 1.0f);
  }
  // Accumulates across calls: a second identical call doubles the increment.
  const std::vector<float> once = dwte;
  cpu::EncoderBackward(dwte.data(), dwpe.data(), dout.data(), inp.data(), B, T, C);
  for (int c = 0; c < C; ++c) EXPECT_EQ(dwte[2 * C + c] - 1.0f, 2.0f * (once[2 * C + c] - 1.0f));
}

TEST(Encoder, BackwardIsBitIdenticalForOneAndTwoThreads) {
  std::mt19937 rng(103);
  const int B = 4, T = 33, C = 200, V = 7;  // 4 column blocks of <= 64
  const std::vector<int> inp = RandomInts(rng, (size_t)B * T, 0, V - 1);
  const std::vector<float> dout = RandomFloats(rng, (size_t)B * T * C);
  const std::vector<float> dwte0 = RandomFloats(rng, (size_t)V * C), dwpe0 = RandomFloats(rng, (size_t)T * C);
  std::vector<float> dwte[2] = {dwte0, dwte0}, dwpe[2] = {dwpe0, dwpe0};
  for (int i = 0; i < 2; ++i) {
    ScopedOmpThreads threads(i + 1);
    cpu::EncoderBackward(dwte[i].data(), dwpe[i].data(), dout.data(), inp.data(), B, T, C);
  }
  EXPECT_TRUE(BitIdentical(dwte[0], dwte[1]));
  EXPECT_TRUE(BitIdentical(dwpe[0], dwpe[1]));
}

TEST(Encoder, DoubleReferenceBackwardMatchesFiniteDifferences) {
  std::mt19937 rng(104);
  const int B = 3, T = 4, C = 5, V = 3;
  const std::vector<int> inp = RandomInts(rng, (size_t)B * T, 0, V - 1);
  const std::vector<double> wte = ToDouble(RandomFloats(rng, (size_t)V * C));
  const std::vector<double> wpe = ToDouble(RandomFloats(rng, (size_t)T * C));
  const std::vector<double> dout = ToDouble(RandomFloats(rng, (size_t)B * T * C));
  std::vector<double> dwte(wte.size(), 0.0), dwpe(wpe.size(), 0.0);
  ref::EncoderBackward(dwte.data(), dwpe.data(), dout.data(), inp.data(), B, T, C);

  std::vector<double> out(dout.size());
  auto loss_of_wte = [&](const std::vector<double>& x) {
    ref::EncoderForward(out.data(), inp.data(), x.data(), wpe.data(), B, T, C);
    return Dot(out, dout);
  };
  auto loss_of_wpe = [&](const std::vector<double>& x) {
    ref::EncoderForward(out.data(), inp.data(), wte.data(), x.data(), B, T, C);
    return Dot(out, dout);
  };
  EXPECT_TRUE(AllClose(dwte, ref::FiniteDifferenceGradient(loss_of_wte, wte), kFiniteDiffTol));
  EXPECT_TRUE(AllClose(dwpe, ref::FiniteDifferenceGradient(loss_of_wpe, wpe), kFiniteDiffTol));
}

}  // namespace
}  // namespace meridian
