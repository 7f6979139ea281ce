// Llama's CPU kernels against the double-precision references of
// llama_reference_kernels.h, forward and backward, on random inputs; the
// references' own backward passes against central finite differences.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/rmsnorm.h"
#include "kernels/cpu/rope.h"
#include "kernels/cpu/swiglu.h"
#include "tests/kernels/kernel_test_util.h"
#include "tests/kernels/llama_reference_kernels.h"
#include "tests/kernels/reference_kernels.h"

namespace meridian {
namespace {

using namespace kernel_test;

// ---- RMSNorm ----------------------------------------------------------------

TEST(RmsNorm, ForwardAndBackwardMatchDoubleReference) {
  std::mt19937 rng(701);
  const float eps = 1e-5f;
  for (auto [N, C] : {std::pair{1, 1}, {3, 7}, {17, 64}, {5, 300}, {128, 256}}) {
    SCOPED_TRACE(testing::Message() << "N=" << N << " C=" << C);
    const size_t n = (size_t)N * C;
    const std::vector<float> inp = RandomFloats(rng, n, -2.0f, 2.0f), weight = RandomFloats(rng, C, 0.5f, 1.5f),
                             dout = RandomFloats(rng, n);
    std::vector<float> out = Poisoned(n), rstd = Poisoned(N);
    cpu::RmsNormForward(out.data(), rstd.data(), inp.data(), weight.data(), N, C, eps);
    std::vector<double> want(n);
    ref::RmsNormForward(want.data(), ToDouble(inp).data(), ToDouble(weight).data(), N, C, eps);
    EXPECT_TRUE(AllClose(out.data(), want.data(), n, kForwardTol));
    EXPECT_TRUE(GuardIntact(out, n));
    EXPECT_TRUE(GuardIntact(rstd, N));

    // Backward accumulates into dinp and dweight: start both non-zero.
    std::vector<float> dinp = RandomFloats(rng, n), dweight = RandomFloats(rng, C);
    std::vector<double> want_dinp = ToDouble(dinp), want_dweight = ToDouble(dweight);
    cpu::RmsNormBackward(dinp.data(), dweight.data(), dout.data(), inp.data(), weight.data(), rstd.data(), N, C);
    ref::RmsNormBackward(want_dinp.data(), want_dweight.data(), ToDouble(dout).data(), ToDouble(inp).data(),
                         ToDouble(weight).data(), N, C, eps);
    EXPECT_TRUE(AllClose(dinp.data(), want_dinp.data(), n, kBackwardTol));
    EXPECT_TRUE(AllClose(dweight.data(), want_dweight.data(), C, kBackwardTol));
  }
}

TEST(RmsNorm, DoubleReferenceBackwardMatchesFiniteDifferences) {
  std::mt19937 rng(702);
  const int N = 3, C = 5;
  const double eps = 1e-5;
  const std::vector<double> inp = ToDouble(RandomFloats(rng, N * C, -2.0f, 2.0f)),
                            weight = ToDouble(RandomFloats(rng, C, 0.5f, 1.5f)), dout = ToDouble(RandomFloats(rng, N * C));
  std::vector<double> dinp(N * C, 0.0), dweight(C, 0.0), out(N * C);
  ref::RmsNormBackward(dinp.data(), dweight.data(), dout.data(), inp.data(), weight.data(), N, C, eps);
  auto loss_of_inp = [&](const std::vector<double>& x) {
    ref::RmsNormForward(out.data(), x.data(), weight.data(), N, C, eps);
    return Dot(out, dout);
  };
  auto loss_of_weight = [&](const std::vector<double>& w) {
    ref::RmsNormForward(out.data(), inp.data(), w.data(), N, C, eps);
    return Dot(out, dout);
  };
  EXPECT_TRUE(AllClose(dinp, ref::FiniteDifferenceGradient(loss_of_inp, inp), kFiniteDiffTol));
  EXPECT_TRUE(AllClose(dweight, ref::FiniteDifferenceGradient(loss_of_weight, weight), kFiniteDiffTol));
}

// ---- rotary embeddings -------------------------------------------------------

std::vector<double> InvFreq(int hs, double theta) {
  std::vector<double> inv(hs / 2);
  for (int i = 0; i < hs / 2; ++i) inv[i] = 1.0 / std::pow(theta, 2.0 * i / hs);
  return inv;
}

void Tables(const std::vector<double>& inv, int T, std::vector<float>* cos, std::vector<float>* sin) {
  cos->clear();
  sin->clear();
  for (int t = 0; t < T; ++t)
    for (double f : inv) {
      cos->push_back((float)std::cos(t * f));
      sin->push_back((float)std::sin(t * f));
    }
}

struct RopeShape {
  int B, T, heads, hs, row_stride;
};

TEST(Rope, ForwardMatchesHuggingFaceRotateHalf) {
  std::mt19937 rng(711);
  // q and k heads of a GQA qkv row (row wider than the rotated part), a
  // single head, long sequences (large angles), head sizes 2 and 128.
  for (RopeShape s : {RopeShape{1, 1, 1, 2, 2}, {2, 9, 3, 8, 40}, {3, 17, 6, 16, 128}, {1, 300, 2, 128, 512},
                      {2, 64, 12, 64, 1024}}) {
    SCOPED_TRACE(testing::Message() << "B=" << s.B << " T=" << s.T << " heads=" << s.heads << " hs=" << s.hs);
    const std::vector<double> inv = InvFreq(s.hs, 10000.0);
    std::vector<float> cos, sin;
    Tables(inv, s.T, &cos, &sin);
    const size_t n = (size_t)s.B * s.T * s.row_stride;
    const std::vector<float> x0 = RandomFloats(rng, n, -2.0f, 2.0f);
    std::vector<float> x = x0;
    cpu::RopeForward(x.data(), cos.data(), sin.data(), s.B, s.T, s.heads, s.hs, s.row_stride);
    std::vector<double> want = ToDouble(x0);
    ref::RopeForward(want.data(), inv, s.B, s.T, s.heads, s.hs, s.row_stride);
    EXPECT_TRUE(AllClose(x.data(), want.data(), n, kForwardTol));
    // Channels past the rotated heads (the v heads of a qkv row) are untouched.
    for (size_t row = 0; row < (size_t)s.B * s.T; ++row)
      for (int c = s.heads * s.hs; c < s.row_stride; ++c)
        ASSERT_EQ(x[row * s.row_stride + c], x0[row * s.row_stride + c]);
  }
}

TEST(Rope, BackwardIsTheTransposeOfForward) {
  // The rotation is linear: <R x, y> = <x, R^T y> for every x, y.
  std::mt19937 rng(712);
  const RopeShape s{2, 33, 5, 32, 224};
  std::vector<float> cos, sin;
  Tables(InvFreq(s.hs, 500000.0), s.T, &cos, &sin);
  const size_t n = (size_t)s.B * s.T * s.row_stride;
  std::vector<float> x = RandomFloats(rng, n), y = RandomFloats(rng, n);
  const std::vector<double> x0 = ToDouble(x), y0 = ToDouble(y);
  cpu::RopeForward(x.data(), cos.data(), sin.data(), s.B, s.T, s.heads, s.hs, s.row_stride);
  cpu::RopeBackward(y.data(), cos.data(), sin.data(), s.B, s.T, s.heads, s.hs, s.row_stride);
  const double lhs = Dot(ToDouble(x), y0), rhs = Dot(x0, ToDouble(y));
  EXPECT_NEAR(lhs, rhs, 1e-4 * std::abs(lhs) + 1e-4);
  // And backward undoes forward.
  cpu::RopeBackward(x.data(), cos.data(), sin.data(), s.B, s.T, s.heads, s.hs, s.row_stride);
  EXPECT_TRUE(AllClose(x.data(), x0.data(), n, kForwardTol));
}

TEST(Rope, PositionZeroIsTheIdentity) {
  std::mt19937 rng(713);
  std::vector<float> cos, sin;
  Tables(InvFreq(16, 10000.0), 1, &cos, &sin);
  const std::vector<float> x0 = RandomFloats(rng, 48);
  std::vector<float> x = x0;
  cpu::RopeForward(x.data(), cos.data(), sin.data(), 1, 1, 3, 16, 48);
  EXPECT_EQ(x, x0);
}

// ---- SwiGLU -------------------------------------------------------------------

TEST(Swiglu, ForwardAndBackwardMatchDoubleReference) {
  std::mt19937 rng(721);
  for (auto [N, F] : {std::pair{1, 1}, {3, 7}, {17, 64}, {64, 688}}) {
    SCOPED_TRACE(testing::Message() << "N=" << N << " F=" << F);
    const size_t n = (size_t)N * F;
    const std::vector<float> gate_up = RandomFloats(rng, 2 * n, -6.0f, 6.0f), dout = RandomFloats(rng, n);
    std::vector<float> out = Poisoned(n), dgate_up = Poisoned(2 * n);
    cpu::SwigluForward(out.data(), gate_up.data(), N, F);
    cpu::SwigluBackward(dgate_up.data(), gate_up.data(), dout.data(), N, F);
    std::vector<double> want(n), want_d(2 * n);
    ref::SwigluForward(want.data(), ToDouble(gate_up).data(), N, F);
    ref::SwigluBackward(want_d.data(), ToDouble(gate_up).data(), ToDouble(dout).data(), N, F);
    EXPECT_TRUE(AllClose(out.data(), want.data(), n, kForwardTol));
    EXPECT_TRUE(AllClose(dgate_up.data(), want_d.data(), 2 * n, kBackwardTol));
    EXPECT_TRUE(GuardIntact(out, n));
    EXPECT_TRUE(GuardIntact(dgate_up, 2 * n));
  }
}

TEST(Swiglu, DoubleReferenceBackwardMatchesFiniteDifferences) {
  std::mt19937 rng(722);
  const int N = 2, F = 5;
  const std::vector<double> gate_up = ToDouble(RandomFloats(rng, 2 * N * F, -4.0f, 4.0f)),
                            dout = ToDouble(RandomFloats(rng, N * F));
  std::vector<double> d(2 * N * F), out(N * F);
  ref::SwigluBackward(d.data(), gate_up.data(), dout.data(), N, F);
  auto loss = [&](const std::vector<double>& x) {
    ref::SwigluForward(out.data(), x.data(), N, F);
    return Dot(out, dout);
  };
  EXPECT_TRUE(AllClose(d, ref::FiniteDifferenceGradient(loss, gate_up), kFiniteDiffTol));
}

// ---- grouped-query attention ----------------------------------------------------

struct GqaShape {
  int B, T, NH, KVH, hs;
};

const GqaShape kGqaShapes[] = {{1, 1, 2, 1, 4}, {2, 7, 4, 2, 5}, {3, 17, 6, 3, 8},
                               {2, 33, 8, 1, 16}, {1, 64, 8, 8, 32}, {2, 64, 8, 2, 32}};

TEST(GqaAttention, ForwardAndBackwardMatchRepeatKvReference) {
  std::mt19937 rng(731);
  for (const GqaShape& s : kGqaShapes) {
    SCOPED_TRACE(testing::Message() << "B=" << s.B << " T=" << s.T << " NH=" << s.NH << " KVH=" << s.KVH
                                    << " hs=" << s.hs);
    const size_t BT = (size_t)s.B * s.T, row = (size_t)(s.NH + 2 * s.KVH) * s.hs, C = (size_t)s.NH * s.hs;
    const size_t att_n = (size_t)s.B * s.NH * s.T * s.T;
    const std::vector<float> qkv = RandomFloats(rng, BT * row, -2.0f, 2.0f), dout = RandomFloats(rng, BT * C);
    std::vector<float> out = Poisoned(BT * C), att = Poisoned(att_n);
    cpu::AttentionForward(out.data(), att.data(), qkv.data(), s.B, s.T, s.NH, s.KVH, s.hs);
    std::vector<double> want(BT * C);
    ref::GqaAttentionForward(want.data(), ToDouble(qkv).data(), s.B, s.T, s.NH, s.KVH, s.hs);
    EXPECT_TRUE(AllClose(out.data(), want.data(), BT * C, kForwardTol));
    EXPECT_TRUE(GuardIntact(out, BT * C));

    std::vector<float> dqkv = Poisoned(BT * row), scratch = Poisoned(att_n);
    cpu::AttentionBackward(dqkv.data(), scratch.data(), dout.data(), qkv.data(), att.data(), s.B, s.T, s.NH, s.KVH,
                           s.hs);
    std::vector<double> want_d(BT * row);
    ref::GqaAttentionBackward(want_d.data(), ToDouble(dout).data(), ToDouble(qkv).data(), s.B, s.T, s.NH, s.KVH,
                              s.hs);
    EXPECT_TRUE(GuardIntact(dqkv, BT * row));
    // q, k and v parts on their own, so a small dk cannot hide behind a large dq.
    const size_t parts[4] = {0, (size_t)s.NH * s.hs, (size_t)(s.NH + s.KVH) * s.hs, row};
    for (int part = 0; part < 3; ++part) {
      SCOPED_TRACE(testing::Message() << "part " << "qkv"[part]);
      std::vector<float> got;
      std::vector<double> exp;
      for (size_t bt = 0; bt < BT; ++bt)
        for (size_t c = parts[part]; c < parts[part + 1]; ++c) {
          got.push_back(dqkv[bt * row + c]);
          exp.push_back(want_d[bt * row + c]);
        }
      EXPECT_TRUE(AllClose(got, exp, kBackwardTol));
    }
  }
}

}  // namespace
}  // namespace meridian
