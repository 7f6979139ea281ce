#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "kernels/cpu/layernorm.h"
#include "tests/kernels/kernel_test_util.h"
#include "tests/kernels/reference_kernels.h"

namespace meridian {
namespace {

using namespace kernel_test;

struct LayerNormShape {
  int N, C;
};

// C=1 (zero variance), widths off the SIMD grid, N below and above the
// backward's 16 row blocks, B*T=128 x C=128, and GPT-2 small's width.
const LayerNormShape kShapes[] = {{1, 7}, {3, 13}, {4, 1}, {5, 33}, {19, 33}, {128, 128}, {17, 768}};

struct LayerNormInputs {
  std::vector<float> inp, weight, bias;
};

LayerNormInputs MakeInputs(std::mt19937& rng, int N, int C) {
  LayerNormInputs in;
  in.inp = RandomFloats(rng, (size_t)N * C, -1.5f, 2.5f);  // rows with non-zero mean
  in.weight = RandomFloats(rng, C, 0.5f, 1.5f);
  in.bias = RandomFloats(rng, C, -0.5f, 0.5f);
  return in;
}

TEST(LayerNorm, ForwardMatchesDoubleReference) {
  std::mt19937 rng(201);
  for (const LayerNormShape& s : kShapes) {
    SCOPED_TRACE(testing::Message() << "N=" << s.N << " C=" << s.C);
    const LayerNormInputs in = MakeInputs(rng, s.N, s.C);
    const size_t NC = (size_t)s.N * s.C;
    std::vector<float> out = Poisoned(NC), mean = Poisoned(s.N), rstd = Poisoned(s.N);
    cpu::LayerNormForward(out.data(), mean.data(), rstd.data(), in.inp.data(), in.weight.data(), in.bias.data(),
                          s.N, s.C);
    std::vector<double> want_out(NC), want_mean(s.N), want_rstd(s.N);
    ref::LayerNormForward(want_out.data(), want_mean.data(), want_rstd.data(), ToDouble(in.inp).data(),
                          ToDouble(in.weight).data(), ToDouble(in.bias).data(), s.N, s.C);
    EXPECT_TRUE(AllClose(out, want_out, kForwardTol));
    EXPECT_TRUE(AllClose(mean, want_mean, kForwardTol));
    EXPECT_TRUE(AllClose(rstd, want_rstd, kForwardTol));
    EXPECT_TRUE(GuardIntact(out, NC));
    EXPECT_TRUE(GuardIntact(mean, s.N));
    EXPECT_TRUE(GuardIntact(rstd, s.N));
  }
}

TEST(LayerNorm, BackwardMatchesDoubleReferenceAndAccumulates) {
  std::mt19937 rng(202);
  for (const LayerNormShape& s : kShapes) {
    SCOPED_TRACE(testing::Message() << "N=" << s.N << " C=" << s.C);
    const LayerNormInputs in = MakeInputs(rng, s.N, s.C);
    const size_t NC = (size_t)s.N * s.C;
    std::vector<float> out(NC), mean(s.N), rstd(s.N);
    cpu::LayerNormForward(out.data(), mean.data(), rstd.data(), in.inp.data(), in.weight.data(), in.bias.data(),
                          s.N, s.C);
    const std::vector<float> dout = RandomFloats(rng, NC);
    // Start from non-zero gradients: all three outputs accumulate.
    std::vector<float> dinp = RandomFloats(rng, NC), dweight = RandomFloats(rng, s.C), dbias = RandomFloats(rng, s.C);
    std::vector<double> want_dinp = ToDouble(dinp), want_dweight = ToDouble(dweight), want_dbias = ToDouble(dbias);

    cpu::LayerNormBackward(dinp.data(), dweight.data(), dbias.data(), dout.data(), in.inp.data(), in.weight.data(),
                           mean.data(), rstd.data(), s.N, s.C);
    ref::LayerNormBackward(want_dinp.data(), want_dweight.data(), want_dbias.data(), ToDouble(dout).data(),
                           ToDouble(in.inp).data(), ToDouble(in.weight).data(), s.N, s.C);
    EXPECT_TRUE(AllClose(dinp, want_dinp, kBackwardTol));
    EXPECT_TRUE(AllClose(dweight, want_dweight, kBackwardTol));
    EXPECT_TRUE(AllClose(dbias, want_dbias, kBackwardTol));
  }
}

TEST(LayerNorm, BackwardGradientAloneMatchesReferenceFromZero) {
  // The accumulation test above compares sums dominated by the random
  // starting values; this one checks the increments on their own.
  std::mt19937 rng(203);
  const int N = 128, C = 128;
  const LayerNormInputs in = MakeInputs(rng, N, C);
  std::vector<float> out((size_t)N * C), mean(N), rstd(N);
  cpu::LayerNormForward(out.data(), mean.data(), rstd.data(), in.inp.data(), in.weight.data(), in.bias.data(), N, C);
  const std::vector<float> dout = RandomFloats(rng, (size_t)N * C);
  std::vector<float> dinp((size_t)N * C, 0.0f), dweight(C, 0.0f), dbias(C, 0.0f);
  std::vector<double> want_dinp(dinp.size(), 0.0), want_dweight(C, 0.0), want_dbias(C, 0.0);
  cpu::LayerNormBackward(dinp.data(), dweight.data(), dbias.data(), dout.data(), in.inp.data(), in.weight.data(),
                         mean.data(), rstd.data(), N, C);
  ref::LayerNormBackward(want_dinp.data(), want_dweight.data(), want_dbias.data(), ToDouble(dout).data(),
                         ToDouble(in.inp).data(), ToDouble(in.weight).data(), N, C);
  EXPECT_TRUE(AllClose(dinp, want_dinp, kBackwardTol));
  EXPECT_TRUE(AllClose(dweight, want_dweight, kBackwardTol));
  EXPECT_TRUE(AllClose(dbias, want_dbias, kBackwardTol));
}

TEST(LayerNorm, BackwardIsBitIdenticalForOneAndTwoThreads) {
  std::mt19937 rng(204);
  for (const LayerNormShape& s : {LayerNormShape{5, 33}, LayerNormShape{37, 33}, LayerNormShape{128, 128}}) {
    SCOPED_TRACE(testing::Message() << "N=" << s.N << " C=" << s.C);
    const LayerNormInputs in = MakeInputs(rng, s.N, s.C);
    const size_t NC = (size_t)s.N * s.C;
    std::vector<float> out(NC), mean(s.N), rstd(s.N);
    cpu::LayerNormForward(out.data(), mean.data(), rstd.data(), in.inp.data(), in.weight.data(), in.bias.data(),
                          s.N, s.C);
    const std::vector<float> dout = RandomFloats(rng, NC);
    const std::vector<float> dinp0 = RandomFloats(rng, NC), dw0 = RandomFloats(rng, s.C), db0 = RandomFloats(rng, s.C);
    std::vector<float> dinp[2] = {dinp0, dinp0}, dw[2] = {dw0, dw0}, db[2] = {db0, db0};
    for (int i = 0; i < 2; ++i) {
      ScopedOmpThreads threads(i + 1);
      cpu::LayerNormBackward(dinp[i].data(), dw[i].data(), db[i].data(), dout.data(), in.inp.data(),
                             in.weight.data(), mean.data(), rstd.data(), s.N, s.C);
    }
    EXPECT_TRUE(BitIdentical(dinp[0], dinp[1]));
    EXPECT_TRUE(BitIdentical(dw[0], dw[1]));
    EXPECT_TRUE(BitIdentical(db[0], db[1]));
  }
}

TEST(LayerNorm, DoubleReferenceBackwardMatchesFiniteDifferences) {
  std::mt19937 rng(205);
  const int N = 3, C = 7;
  const LayerNormInputs in = MakeInputs(rng, N, C);
  const std::vector<double> inp = ToDouble(in.inp), weight = ToDouble(in.weight), bias = ToDouble(in.bias);
  const std::vector<double> dout = ToDouble(RandomFloats(rng, (size_t)N * C));
  std::vector<double> dinp(inp.size(), 0.0), dweight(C, 0.0), dbias(C, 0.0);
  ref::LayerNormBackward(dinp.data(), dweight.data(), dbias.data(), dout.data(), inp.data(), weight.data(), N, C);

  std::vector<double> out(inp.size()), mean(N), rstd(N);
  auto loss = [&](const std::vector<double>& x, const std::vector<double>& w, const std::vector<double>& b) {
    ref::LayerNormForward(out.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), N, C);
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
