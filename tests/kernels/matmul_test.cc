#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "kernels/cpu/matmul.h"
#include "tests/kernels/kernel_test_util.h"
#include "tests/kernels/reference_kernels.h"

namespace meridian {
namespace {

using namespace kernel_test;

struct MatmulShape {
  int N, C, OC;
};

// Widths and output counts off the SIMD grid (C=1, 7, 13, 33; OC=1, 5, 19),
// a single row, and the GPT-2 shapes at B*T=128, C=128 (qkv and fc).
const MatmulShape kShapes[] = {{1, 7, 5},  {3, 13, 19}, {5, 33, 5},    {7, 1, 3},
                               {2, 16, 1}, {17, 33, 19}, {128, 128, 384}, {128, 128, 512}};

struct MatmulInputs {
  std::vector<float> inp, weight, bias, dout;
};

MatmulInputs MakeInputs(std::mt19937& rng, const MatmulShape& s) {
  MatmulInputs in;
  in.inp = RandomFloats(rng, (size_t)s.N * s.C);
  in.weight = RandomFloats(rng, (size_t)s.OC * s.C);
  in.bias = RandomFloats(rng, s.OC);
  in.dout = RandomFloats(rng, (size_t)s.N * s.OC);
  return in;
}

TEST(Matmul, ForwardMatchesDoubleReferenceWithAndWithoutBias) {
  std::mt19937 rng(301);
  for (const MatmulShape& s : kShapes) {
    for (bool with_bias : {true, false}) {
      SCOPED_TRACE(testing::Message() << "N=" << s.N << " C=" << s.C << " OC=" << s.OC << " bias=" << with_bias);
      const MatmulInputs in = MakeInputs(rng, s);
      const size_t NOC = (size_t)s.N * s.OC;
      std::vector<float> out = Poisoned(NOC);
      cpu::MatmulForward(out.data(), in.inp.data(), in.weight.data(), with_bias ? in.bias.data() : nullptr, s.N, s.C,
                         s.OC);
      std::vector<double> want(NOC);
      const std::vector<double> bias = ToDouble(in.bias);
      ref::MatmulForward(want.data(), ToDouble(in.inp).data(), ToDouble(in.weight).data(),
                         with_bias ? bias.data() : nullptr, s.N, s.C, s.OC);
      EXPECT_TRUE(AllClose(out, want, kForwardTol));
      EXPECT_TRUE(GuardIntact(out, NOC));
    }
  }
}

TEST(Matmul, BackwardWithBetaZeroOverwritesDinpAndAccumulatesWeightAndBias) {
  std::mt19937 rng(302);
  for (const MatmulShape& s : kShapes) {
    SCOPED_TRACE(testing::Message() << "N=" << s.N << " C=" << s.C << " OC=" << s.OC);
    const MatmulInputs in = MakeInputs(rng, s);
    const size_t NC = (size_t)s.N * s.C;
    std::vector<float> dinp = Poisoned(NC);  // beta 0: NaNs must not survive
    std::vector<float> dweight = RandomFloats(rng, (size_t)s.OC * s.C), dbias = RandomFloats(rng, s.OC);
    std::vector<double> want_dinp(NC, 0.0), want_dweight = ToDouble(dweight), want_dbias = ToDouble(dbias);

    cpu::MatmulBackward(dinp.data(), dweight.data(), dbias.data(), in.dout.data(), in.inp.data(), in.weight.data(),
                        s.N, s.C, s.OC, 0.0f);
    ref::MatmulBackward(want_dinp.data(), want_dweight.data(), want_dbias.data(), ToDouble(in.dout).data(),
                        ToDouble(in.inp).data(), ToDouble(in.weight).data(), s.N, s.C, s.OC);
    EXPECT_TRUE(AllClose(dinp, want_dinp, kBackwardTol));
    EXPECT_TRUE(GuardIntact(dinp, NC));
    EXPECT_TRUE(AllClose(dweight, want_dweight, kBackwardTol));
    EXPECT_TRUE(AllClose(dbias, want_dbias, kBackwardTol));
  }
}

TEST(Matmul, BackwardGradientsAloneMatchReferenceFromZero) {
  // The weight and bias increments on their own, not swamped by a random
  // starting value.
  std::mt19937 rng(303);
  for (const MatmulShape& s : kShapes) {
    SCOPED_TRACE(testing::Message() << "N=" << s.N << " C=" << s.C << " OC=" << s.OC);
    const MatmulInputs in = MakeInputs(rng, s);
    std::vector<float> dinp((size_t)s.N * s.C), dweight((size_t)s.OC * s.C, 0.0f), dbias(s.OC, 0.0f);
    std::vector<double> want_dinp(dinp.size(), 0.0), want_dweight(dweight.size(), 0.0), want_dbias(s.OC, 0.0);
    cpu::MatmulBackward(dinp.data(), dweight.data(), dbias.data(), in.dout.data(), in.inp.data(), in.weight.data(),
                        s.N, s.C, s.OC, 0.0f);
    ref::MatmulBackward(want_dinp.data(), want_dweight.data(), want_dbias.data(), ToDouble(in.dout).data(),
                        ToDouble(in.inp).data(), ToDouble(in.weight).data(), s.N, s.C, s.OC);
    EXPECT_TRUE(AllClose(dinp, want_dinp, kBackwardTol));
    EXPECT_TRUE(AllClose(dweight, want_dweight, kBackwardTol));
    EXPECT_TRUE(AllClose(dbias, want_dbias, kBackwardTol));
  }
}

TEST(Matmul, BackwardWithBetaOneAddsToDinp) {
  std::mt19937 rng(304);
  for (const MatmulShape& s : kShapes) {
    SCOPED_TRACE(testing::Message() << "N=" << s.N << " C=" << s.C << " OC=" << s.OC);
    const MatmulInputs in = MakeInputs(rng, s);
    std::vector<float> dinp = RandomFloats(rng, (size_t)s.N * s.C);
    std::vector<float> dweight((size_t)s.OC * s.C, 0.0f);
    std::vector<double> want_dinp = ToDouble(dinp);
    cpu::MatmulBackward(dinp.data(), dweight.data(), nullptr, in.dout.data(), in.inp.data(), in.weight.data(), s.N,
                        s.C, s.OC, 1.0f);
    ref::MatmulBackward(want_dinp.data(), nullptr, nullptr, ToDouble(in.dout).data(), ToDouble(in.inp).data(),
                        ToDouble(in.weight).data(), s.N, s.C, s.OC);
    EXPECT_TRUE(AllClose(dinp, want_dinp, kBackwardTol));
  }
}

TEST(Matmul, BackwardScalesOldDinpByBeta) {
  std::mt19937 rng(305);
  const MatmulShape s{3, 13, 19};
  const MatmulInputs in = MakeInputs(rng, s);
  std::vector<float> dinp = RandomFloats(rng, (size_t)s.N * s.C), dweight((size_t)s.OC * s.C, 0.0f);
  std::vector<double> want_dinp = ToDouble(dinp);
  for (double& x : want_dinp) x *= 0.5;
  cpu::MatmulBackward(dinp.data(), dweight.data(), nullptr, in.dout.data(), in.inp.data(), in.weight.data(), s.N, s.C,
                      s.OC, 0.5f);
  ref::MatmulBackward(want_dinp.data(), nullptr, nullptr, ToDouble(in.dout).data(), ToDouble(in.inp).data(),
                      ToDouble(in.weight).data(), s.N, s.C, s.OC);
  EXPECT_TRUE(AllClose(dinp, want_dinp, kBackwardTol));
}

TEST(Matmul, BackwardSkipsNullDinpAndDbiasButStillAccumulatesDweight) {
  std::mt19937 rng(306);
  const MatmulShape s{5, 33, 19};
  const MatmulInputs in = MakeInputs(rng, s);
  std::vector<float> dweight = RandomFloats(rng, (size_t)s.OC * s.C);
  std::vector<double> want_dweight = ToDouble(dweight);
  cpu::MatmulBackward(nullptr, dweight.data(), nullptr, in.dout.data(), in.inp.data(), in.weight.data(), s.N, s.C,
                      s.OC, 0.0f);
  ref::MatmulBackward(nullptr, want_dweight.data(), nullptr, ToDouble(in.dout).data(), ToDouble(in.inp).data(),
                      ToDouble(in.weight).data(), s.N, s.C, s.OC);
  EXPECT_TRUE(AllClose(dweight, want_dweight, kBackwardTol));
}

TEST(Matmul, TwoBackwardCallsAccumulateTwiceTheGradient) {
  std::mt19937 rng(307);
  const MatmulShape s{17, 33, 19};
  const MatmulInputs in = MakeInputs(rng, s);
  std::vector<float> dinp((size_t)s.N * s.C), dweight((size_t)s.OC * s.C, 0.0f), dbias(s.OC, 0.0f);
  std::vector<double> want_dweight(dweight.size(), 0.0), want_dbias(s.OC, 0.0);
  for (int call = 0; call < 2; ++call) {
    cpu::MatmulBackward(dinp.data(), dweight.data(), dbias.data(), in.dout.data(), in.inp.data(), in.weight.data(),
                        s.N, s.C, s.OC, 0.0f);
    ref::MatmulBackward(nullptr, want_dweight.data(), want_dbias.data(), ToDouble(in.dout).data(),
                        ToDouble(in.inp).data(), ToDouble(in.weight).data(), s.N, s.C, s.OC);
  }
  EXPECT_TRUE(AllClose(dweight, want_dweight, kBackwardTol));
  EXPECT_TRUE(AllClose(dbias, want_dbias, kBackwardTol));
}

TEST(Matmul, DoubleReferenceBackwardMatchesFiniteDifferences) {
  std::mt19937 rng(308);
  const int N = 3, C = 5, OC = 4;
  const std::vector<double> inp = ToDouble(RandomFloats(rng, (size_t)N * C));
  const std::vector<double> weight = ToDouble(RandomFloats(rng, (size_t)OC * C));
  const std::vector<double> bias = ToDouble(RandomFloats(rng, OC));
  const std::vector<double> dout = ToDouble(RandomFloats(rng, (size_t)N * OC));
  std::vector<double> dinp(inp.size(), 0.0), dweight(weight.size(), 0.0), dbias(OC, 0.0);
  ref::MatmulBackward(dinp.data(), dweight.data(), dbias.data(), dout.data(), inp.data(), weight.data(), N, C, OC);

  std::vector<double> out(dout.size());
  auto loss = [&](const std::vector<double>& x, const std::vector<double>& w, const std::vector<double>& b) {
    ref::MatmulForward(out.data(), x.data(), w.data(), b.data(), N, C, OC);
    return Dot(out, dout);
  };
  EXPECT_TRUE(AllClose(
      dinp, ref::FiniteDifferenceGradient([&](const std::vector<double>& x) { return loss(x, weight, bias); }, inp),
      kFiniteDiffTol));
  EXPECT_TRUE(AllClose(
      dweight, ref::FiniteDifferenceGradient([&](const std::vector<double>& w) { return loss(inp, w, bias); }, weight),
      kFiniteDiffTol));
  EXPECT_TRUE(AllClose(
      dbias, ref::FiniteDifferenceGradient([&](const std::vector<double>& b) { return loss(inp, weight, b); }, bias),
      kFiniteDiffTol));
}

}  // namespace
}  // namespace meridian
