// The Llama kernels on the GPU (RMSNorm, rotary embeddings, SwiGLU and
// grouped-query attention) against their CPU counterparts, which are the
// written reference, in fp32 and bf16.
#include <gtest/gtest.h>

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/rmsnorm.h"
#include "kernels/cpu/rope.h"
#include "kernels/cpu/swiglu.h"
#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/rmsnorm.cuh"
#include "kernels/cuda/rope.cuh"
#include "kernels/cuda/swiglu.cuh"
#include "tests/kernels/cuda/cuda_test_util.h"

namespace meridian {
namespace {

using namespace cuda_test;

template <typename T>
class LlamaCuda : public testing::Test {};
using StorageTypes = testing::Types<float, bf16>;
TYPED_TEST_SUITE(LlamaCuda, StorageTypes);

constexpr float kEps = 1e-5f;

// ---- RMSNorm -------------------------------------------------------------

struct RowShape {
  int N, C;
};

// One-element rows, widths off the 32-lane grid, Llama widths, and more rows
// than the dweight kernel's 32 row lanes take in one lap.
const RowShape kRowShapes[] = {{1, 1}, {7, 77}, {33, 768}, {9001, 77}, {5, 4096}};

std::string Describe(const RowShape& s) { return "N=" + std::to_string(s.N) + " C=" + std::to_string(s.C); }

TYPED_TEST(LlamaCuda, RmsNormForwardMatchesTheCpuKernel) {
  using T = TypeParam;
  MERIDIAN_SKIP_WITHOUT_GPU();
  std::mt19937 rng(1101);
  for (const RowShape& s : kRowShapes) {
    SCOPED_TRACE(std::string(TypeName<T>()) + " " + Describe(s));
    const size_t NC = (size_t)s.N * s.C;
    // Off-centre rows, so a kernel that subtracts the mean shows.
    const std::vector<float> inp = RoundTo<T>(RandomFloats(rng, NC, -1.0f, 3.0f));
    const std::vector<float> weight = RoundTo<T>(RandomFloats(rng, s.C, 0.5f, 1.5f));
    auto d_inp = Upload<T>(inp);
    auto d_w = Upload<T>(weight);
    auto d_out = Poisoned<T>(NC);
    auto d_rstd = Poisoned<float>(s.N);
    const Status st =
        cuda::RmsNormForward<T>(d_out.data(), d_rstd.data(), d_inp.data(), d_w.data(), s.N, s.C, kEps, nullptr);
    ASSERT_TRUE(st.ok()) << st.ToString();
    std::vector<float> out(NC), rstd(s.N);
    cpu::RmsNormForward(out.data(), rstd.data(), inp.data(), weight.data(), s.N, s.C, kEps);
    ExpectClose(Download(d_out.data(), NC), out, Tolerance<T>(), "out");
    // rstd is float for both storage types; only the order of the sum of
    // squares differs from the CPU's.
    ExpectClose(Download(d_rstd.data(), s.N), rstd, Tolerance<float>(true), "rstd");
  }
}

TYPED_TEST(LlamaCuda, RmsNormBackwardAccumulatesAsTheCpuKernelDoesAndRepeatsBitForBit) {
  using T = TypeParam;
  MERIDIAN_SKIP_WITHOUT_GPU();
  std::mt19937 rng(1102);
  for (const RowShape& s : kRowShapes) {
    SCOPED_TRACE(std::string(TypeName<T>()) + " " + Describe(s));
    const size_t NC = (size_t)s.N * s.C;
    const std::vector<float> inp = RoundTo<T>(RandomFloats(rng, NC, -1.0f, 3.0f));
    const std::vector<float> dout = RoundTo<T>(RandomFloats(rng, NC));
    const std::vector<float> weight = RoundTo<T>(RandomFloats(rng, s.C, 0.5f, 1.5f));
    std::vector<float> out(NC), rstd(s.N);
    cpu::RmsNormForward(out.data(), rstd.data(), inp.data(), weight.data(), s.N, s.C, kEps);
    // Both outputs accumulate: start from earlier values, not zeros.
    std::vector<float> dinp = RoundTo<T>(RandomFloats(rng, NC));
    std::vector<float> dweight = RandomFloats(rng, s.C);

    auto d_inp = Upload<T>(inp);
    auto d_dout = Upload<T>(dout);
    auto d_w = Upload<T>(weight);
    auto d_rstd = Upload<float>(rstd);
    auto d_dinp = Upload<T>(dinp);
    auto d_dweight = Upload<float>(dweight);
    auto d_dweight2 = Upload<float>(dweight);
    Status st = cuda::RmsNormBackward<T>(d_dinp.data(), d_dweight.data(), d_dout.data(), d_inp.data(), d_w.data(),
                                         d_rstd.data(), s.N, s.C, nullptr);
    ASSERT_TRUE(st.ok()) << st.ToString();
    cpu::RmsNormBackward(dinp.data(), dweight.data(), dout.data(), inp.data(), weight.data(), rstd.data(), s.N, s.C);
    ExpectClose(Download(d_dinp.data(), NC), dinp, Tolerance<T>(), "dinp");
    const std::vector<float> got_dweight = Download(d_dweight.data(), (size_t)s.C);
    ExpectClose(got_dweight, dweight, Tolerance<float>(true), "dweight");

    // The weight gradient is summed without atomics: a second run from the
    // same start gives the same bits.
    auto d_dinp2 = Upload<T>(dinp);
    st = cuda::RmsNormBackward<T>(d_dinp2.data(), d_dweight2.data(), d_dout.data(), d_inp.data(), d_w.data(),
                                  d_rstd.data(), s.N, s.C, nullptr);
    ASSERT_TRUE(st.ok()) << st.ToString();
    ExpectClose(Download(d_dweight2.data(), (size_t)s.C), got_dweight, 0.0, "dweight, second run");
  }
}

// ---- Rotary embeddings ---------------------------------------------------

struct RopeShape {
  int B, T, heads, hs, row_stride;
};

// A fused Llama qkv row (q and k heads rotated, v heads left alone), a row of
// exactly the rotated heads, and one head of size 2.
const RopeShape kRopeShapes[] = {{2, 37, 6, 64, (4 + 2 * 2) * 64}, {1, 129, 3, 128, 3 * 128}, {3, 5, 1, 2, 7}};

std::string Describe(const RopeShape& s) {
  return "B=" + std::to_string(s.B) + " T=" + std::to_string(s.T) + " heads=" + std::to_string(s.heads) +
         " hs=" + std::to_string(s.hs) + " row_stride=" + std::to_string(s.row_stride);
}

// cos and sin tables (T, hs/2) for Llama's frequencies (theta 500000).
void RopeTables(int T, int hs, std::vector<float>* cos, std::vector<float>* sin) {
  const int half = hs / 2;
  cos->resize((size_t)T * half);
  sin->resize((size_t)T * half);
  for (int t = 0; t < T; ++t)
    for (int i = 0; i < half; ++i) {
      const double angle = t * std::pow(500000.0, -2.0 * i / hs);
      (*cos)[(size_t)t * half + i] = (float)std::cos(angle);
      (*sin)[(size_t)t * half + i] = (float)std::sin(angle);
    }
}

TYPED_TEST(LlamaCuda, RopeForwardAndBackwardMatchTheCpuKernelAndLeaveTheOtherHeadsAlone) {
  using T = TypeParam;
  MERIDIAN_SKIP_WITHOUT_GPU();
  std::mt19937 rng(1201);
  for (const RopeShape& s : kRopeShapes) {
    SCOPED_TRACE(std::string(TypeName<T>()) + " " + Describe(s));
    const size_t n = (size_t)s.B * s.T * s.row_stride;
    std::vector<float> cos, sin;
    RopeTables(s.T, s.hs, &cos, &sin);
    auto d_cos = Upload<float>(cos);
    auto d_sin = Upload<float>(sin);
    const std::vector<float> x = RoundTo<T>(RandomFloats(rng, n, -2.0f, 2.0f));
    auto d_x = Upload<T>(x);
    Status st = cuda::RopeForward<T>(d_x.data(), d_cos.data(), d_sin.data(), s.B, s.T, s.heads, s.hs, s.row_stride,
                                     nullptr);
    ASSERT_TRUE(st.ok()) << st.ToString();
    std::vector<float> want = x;
    cpu::RopeForward(want.data(), cos.data(), sin.data(), s.B, s.T, s.heads, s.hs, s.row_stride);
    const std::vector<float> got = Download(d_x.data(), n);
    ExpectClose(got, want, Tolerance<T>(), "forward");
    // Channels past the rotated heads are untouched, to the bit.
    for (size_t r = 0; r < (size_t)s.B * s.T; ++r)
      for (int c = s.heads * s.hs; c < s.row_stride; ++c)
        ASSERT_EQ(got[r * s.row_stride + c], x[r * s.row_stride + c]) << "row " << r << " channel " << c;

    const std::vector<float> dx = RoundTo<T>(RandomFloats(rng, n));
    auto d_dx = Upload<T>(dx);
    st = cuda::RopeBackward<T>(d_dx.data(), d_cos.data(), d_sin.data(), s.B, s.T, s.heads, s.hs, s.row_stride,
                               nullptr);
    ASSERT_TRUE(st.ok()) << st.ToString();
    std::vector<float> want_dx = dx;
    cpu::RopeBackward(want_dx.data(), cos.data(), sin.data(), s.B, s.T, s.heads, s.hs, s.row_stride);
    ExpectClose(Download(d_dx.data(), n), want_dx, Tolerance<T>(), "backward");
  }
}

// ---- SwiGLU --------------------------------------------------------------

// One element, an odd width, and a Llama-like MLP width.
const RowShape kSwigluShapes[] = {{1, 1}, {7, 77}, {64, 1376}};

TYPED_TEST(LlamaCuda, SwigluForwardAndBackwardMatchTheCpuKernel) {
  using T = TypeParam;
  MERIDIAN_SKIP_WITHOUT_GPU();
  std::mt19937 rng(1301);
  for (const RowShape& s : kSwigluShapes) {
    const int N = s.N, F = s.C;
    SCOPED_TRACE(std::string(TypeName<T>()) + " N=" + std::to_string(N) + " F=" + std::to_string(F));
    const size_t NF = (size_t)N * F;
    // Wide enough to reach both flat ends of the sigmoid.
    const std::vector<float> gate_up = RoundTo<T>(RandomFloats(rng, 2 * NF, -8.0f, 8.0f));
    const std::vector<float> dout = RoundTo<T>(RandomFloats(rng, NF));
    auto d_gate_up = Upload<T>(gate_up);
    auto d_dout = Upload<T>(dout);
    auto d_out = Poisoned<T>(NF);
    Status st = cuda::SwigluForward<T>(d_out.data(), d_gate_up.data(), N, F, nullptr);
    ASSERT_TRUE(st.ok()) << st.ToString();
    std::vector<float> out(NF);
    cpu::SwigluForward(out.data(), gate_up.data(), N, F);
    ExpectClose(Download(d_out.data(), NF), out, Tolerance<T>(), "out");

    // dgate_up is overwritten everywhere: it starts as NaN.
    auto d_dgate_up = Poisoned<T>(2 * NF);
    st = cuda::SwigluBackward<T>(d_dgate_up.data(), d_gate_up.data(), d_dout.data(), N, F, nullptr);
    ASSERT_TRUE(st.ok()) << st.ToString();
    std::vector<float> dgate_up(2 * NF);
    cpu::SwigluBackward(dgate_up.data(), gate_up.data(), dout.data(), N, F);
    ExpectClose(Download(d_dgate_up.data(), 2 * NF), dgate_up, Tolerance<T>(), "dgate_up");
  }
}

// ---- Grouped-query attention ---------------------------------------------

struct GqaShape {
  int B, T, NH, KVH, hs;
};

// Every supported head size; groups of 2, 4 and 3 query heads, one shared
// head for all, and KVH = NH (multi-head); T off the tile sizes, on them, and
// T = 1.
const GqaShape kGqaShapes[] = {{2, 37, 4, 2, 32},  {1, 129, 8, 2, 64}, {1, 70, 4, 1, 128}, {2, 64, 6, 2, 32},
                               {1, 33, 2, 2, 64},  {2, 1, 4, 2, 64}};

testing::Message Describe(const GqaShape& s) {
  return testing::Message() << "B=" << s.B << " T=" << s.T << " NH=" << s.NH << " KVH=" << s.KVH << " hs=" << s.hs;
}

int RowWidth(const GqaShape& s) { return (s.NH + 2 * s.KVH) * s.hs; }

// Channels [begin, end) of every (B,T) row of a (B,T,width) tensor.
std::vector<float> Columns(const std::vector<float>& x, int width, int begin, int end) {
  std::vector<float> r;
  for (size_t at = 0; at < x.size(); at += width) r.insert(r.end(), x.begin() + at + begin, x.begin() + at + end);
  return r;
}

// lse (B,NH,T) of the scaled causal scores, in double; query head h reads
// key head h / (NH / KVH).
std::vector<double> LogSumExpInDouble(const std::vector<float>& qkv, const GqaShape& s) {
  const int row = RowWidth(s), rep = s.NH / s.KVH;
  const double scale = 1.0 / std::sqrt((double)s.hs);
  std::vector<double> lse((size_t)s.B * s.NH * s.T);
  for (int b = 0; b < s.B; ++b)
    for (int h = 0; h < s.NH; ++h)
      for (int t = 0; t < s.T; ++t) {
        const float* q = qkv.data() + ((size_t)b * s.T + t) * row + (size_t)h * s.hs;
        std::vector<double> scores(t + 1);
        double maxv = -INFINITY;
        for (int j = 0; j <= t; ++j) {
          const float* k = qkv.data() + ((size_t)b * s.T + j) * row + (size_t)(s.NH + h / rep) * s.hs;
          double dot = 0.0;
          for (int d = 0; d < s.hs; ++d) dot += (double)q[d] * k[d];
          scores[j] = scale * dot;
          maxv = std::max(maxv, scores[j]);
        }
        double sum = 0.0;
        for (double v : scores) sum += std::exp(v - maxv);
        lse[((size_t)b * s.NH + h) * s.T + t] = maxv + std::log(sum);
      }
  return lse;
}

// As attention_cuda_test.cc: fp32 forward is one float chain, the backward a
// longer one; bf16 outputs are rounded to 8 mantissa bits.
template <typename T>
double AttentionForwardTol() {
  return std::is_same_v<T, float> ? 1e-5 : 2e-2;
}
template <typename T>
double AttentionBackwardTol() {
  return std::is_same_v<T, float> ? 1e-4 : 2e-2;
}

TYPED_TEST(LlamaCuda, GroupedQueryAttentionForwardMatchesTheCpuKernel) {
  using T = TypeParam;
  MERIDIAN_SKIP_WITHOUT_GPU();
  std::mt19937 rng(1401);
  for (const GqaShape& s : kGqaShapes) {
    SCOPED_TRACE(Describe(s));
    const size_t BT = (size_t)s.B * s.T, rows = (size_t)s.B * s.NH * s.T;
    const size_t out_n = BT * s.NH * s.hs, qkv_n = BT * RowWidth(s);
    const std::vector<float> qkv = RoundTo<T>(RandomFloats(rng, qkv_n, -2.0f, 2.0f));
    auto d_qkv = Upload<T>(qkv);
    auto d_out = Poisoned<T>(out_n);
    auto d_lse = Poisoned<float>(rows);
    const Status st = cuda::AttentionForward<T>(d_out.data(), d_lse.data(), d_qkv.data(), s.B, s.T, s.NH, s.KVH,
                                                s.hs, nullptr);
    ASSERT_TRUE(st.ok()) << st.ToString();
    std::vector<float> want(out_n), att(rows * s.T);
    cpu::AttentionForward(want.data(), att.data(), qkv.data(), s.B, s.T, s.NH, s.KVH, s.hs);
    ExpectClose(Download(d_out.data(), out_n), want, AttentionForwardTol<T>(), std::string(TypeName<T>()) + " out");
    const std::vector<float> lse = Download(d_lse.data(), rows);
    const std::vector<double> want_lse = LogSumExpInDouble(qkv, s);
    for (size_t r = 0; r < rows; ++r) {
      ASSERT_TRUE(std::isfinite(lse[r])) << "lse row " << r << " is " << lse[r];
      EXPECT_NEAR(lse[r], want_lse[r], 1e-5 * std::max(1.0, std::fabs(want_lse[r]))) << "lse row " << r;
    }
  }
}

TYPED_TEST(LlamaCuda, GroupedQueryAttentionBackwardMatchesTheCpuKernelAndRepeatsBitForBit) {
  using T = TypeParam;
  MERIDIAN_SKIP_WITHOUT_GPU();
  std::mt19937 rng(1402);
  for (const GqaShape& s : kGqaShapes) {
    SCOPED_TRACE(Describe(s));
    const size_t BT = (size_t)s.B * s.T, rows = (size_t)s.B * s.NH * s.T;
    const size_t out_n = BT * s.NH * s.hs, qkv_n = BT * RowWidth(s);
    const std::vector<float> qkv = RoundTo<T>(RandomFloats(rng, qkv_n, -2.0f, 2.0f));
    const std::vector<float> dout = RoundTo<T>(RandomFloats(rng, out_n));
    auto d_qkv = Upload<T>(qkv);
    auto d_dout = Upload<T>(dout);
    auto d_out = Poisoned<T>(out_n);
    auto d_lse = Poisoned<float>(rows);
    Status st = cuda::AttentionForward<T>(d_out.data(), d_lse.data(), d_qkv.data(), s.B, s.T, s.NH, s.KVH, s.hs,
                                          nullptr);
    ASSERT_TRUE(st.ok()) << st.ToString();
    // dqkv is overwritten everywhere and delta is workspace: both start NaN.
    auto d_dqkv = Poisoned<T>(qkv_n);
    auto d_delta = Poisoned<float>(rows);
    st = cuda::AttentionBackward<T>(d_dqkv.data(), d_delta.data(), d_dout.data(), d_out.data(), d_qkv.data(),
                                    d_lse.data(), s.B, s.T, s.NH, s.KVH, s.hs, nullptr);
    ASSERT_TRUE(st.ok()) << st.ToString();

    std::vector<float> out(out_n), att(rows * s.T), scratch(rows * s.T), want(qkv_n);
    cpu::AttentionForward(out.data(), att.data(), qkv.data(), s.B, s.T, s.NH, s.KVH, s.hs);
    cpu::AttentionBackward(want.data(), scratch.data(), dout.data(), qkv.data(), att.data(), s.B, s.T, s.NH, s.KVH,
                           s.hs);
    const std::vector<float> got = Download(d_dqkv.data(), qkv_n);
    // dq, dk and dv each on their own, so a small one cannot hide behind a
    // large one; dk and dv are the sums over each group's query heads.
    const int row = RowWidth(s), q_end = s.NH * s.hs, k_end = q_end + s.KVH * s.hs;
    const std::string type = TypeName<T>();
    ExpectClose(Columns(got, row, 0, q_end), Columns(want, row, 0, q_end), AttentionBackwardTol<T>(), type + " dq");
    ExpectClose(Columns(got, row, q_end, k_end), Columns(want, row, q_end, k_end), AttentionBackwardTol<T>(),
                type + " dk");
    ExpectClose(Columns(got, row, k_end, row), Columns(want, row, k_end, row), AttentionBackwardTol<T>(),
                type + " dv");

    // The group's sums come out in a fixed order: a second run is identical.
    auto d_dqkv2 = Poisoned<T>(qkv_n);
    st = cuda::AttentionBackward<T>(d_dqkv2.data(), d_delta.data(), d_dout.data(), d_out.data(), d_qkv.data(),
                                    d_lse.data(), s.B, s.T, s.NH, s.KVH, s.hs, nullptr);
    ASSERT_TRUE(st.ok()) << st.ToString();
    ExpectClose(Download(d_dqkv2.data(), qkv_n), got, 0.0, type + " dqkv, second run");
  }
}

TYPED_TEST(LlamaCuda, MultiHeadOverloadEqualsGroupedQueryWithOneKeyHeadPerQueryHead) {
  using T = TypeParam;
  MERIDIAN_SKIP_WITHOUT_GPU();
  std::mt19937 rng(1403);
  const int B = 2, T_ = 45, NH = 4, hs = 64, C = NH * hs;
  const size_t BTC = (size_t)B * T_ * C, rows = (size_t)B * NH * T_;
  const std::vector<float> qkv = RoundTo<T>(RandomFloats(rng, 3 * BTC, -2.0f, 2.0f));
  auto d_qkv = Upload<T>(qkv);
  auto d_out = Poisoned<T>(BTC), d_out2 = Poisoned<T>(BTC);
  auto d_lse = Poisoned<float>(rows), d_lse2 = Poisoned<float>(rows);
  Status st = cuda::AttentionForward<T>(d_out.data(), d_lse.data(), d_qkv.data(), B, T_, C, NH, nullptr);
  ASSERT_TRUE(st.ok()) << st.ToString();
  st = cuda::AttentionForward<T>(d_out2.data(), d_lse2.data(), d_qkv.data(), B, T_, NH, NH, hs, nullptr);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ExpectClose(Download(d_out2.data(), BTC), Download(d_out.data(), BTC), 0.0, "out");
  ExpectClose(Download(d_lse2.data(), rows), Download(d_lse.data(), rows), 0.0, "lse");
}

// ---- Argument checks (no device needed) ----------------------------------

TEST(LlamaCudaArguments, BadShapesAreRefusedBeforeTouchingTheDeviceAndEmptyOnesAreNoOps) {
  // RMSNorm: negative sizes, zero width with rows; no rows is a no-op.
  EXPECT_EQ(cuda::RmsNormForward<float>(nullptr, nullptr, nullptr, nullptr, -1, 8, kEps, nullptr).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(cuda::RmsNormForward<bf16>(nullptr, nullptr, nullptr, nullptr, 4, 0, kEps, nullptr).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(cuda::RmsNormBackward<bf16>(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 4, 8, nullptr).code(),
            Status::Code::kInvalidArgument);
  EXPECT_TRUE(cuda::RmsNormForward<float>(nullptr, nullptr, nullptr, nullptr, 0, 8, kEps, nullptr).ok());
  EXPECT_TRUE(cuda::RmsNormBackward<float>(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 0, 8, nullptr).ok());

  // RoPE: odd or zero head size, heads wider than the row.
  const Status odd = cuda::RopeForward<float>(nullptr, nullptr, nullptr, 1, 4, 2, 63, 256, nullptr);
  EXPECT_EQ(odd.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(odd.message().find("hs=63"), std::string::npos) << odd.message();
  EXPECT_EQ(cuda::RopeBackward<bf16>(nullptr, nullptr, nullptr, 1, 4, 2, 0, 256, nullptr).code(),
            Status::Code::kInvalidArgument);
  const Status wide = cuda::RopeForward<bf16>(nullptr, nullptr, nullptr, 1, 4, 5, 64, 256, nullptr);
  EXPECT_EQ(wide.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(wide.message().find("row_stride=256"), std::string::npos) << wide.message();
  EXPECT_TRUE(cuda::RopeForward<float>(nullptr, nullptr, nullptr, 0, 4, 2, 64, 256, nullptr).ok());
  EXPECT_TRUE(cuda::RopeBackward<float>(nullptr, nullptr, nullptr, 1, 4, 0, 64, 256, nullptr).ok());

  // SwiGLU: negative sizes; nothing to do is a no-op.
  EXPECT_EQ(cuda::SwigluForward<float>(nullptr, nullptr, -1, 8, nullptr).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(cuda::SwigluBackward<bf16>(nullptr, nullptr, nullptr, 4, -8, nullptr).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(cuda::SwigluForward<bf16>(nullptr, nullptr, 4, 8, nullptr).code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(cuda::SwigluForward<float>(nullptr, nullptr, 0, 8, nullptr).ok());
  EXPECT_TRUE(cuda::SwigluBackward<bf16>(nullptr, nullptr, nullptr, 4, 0, nullptr).ok());

  // Grouped-query attention: KVH must divide NH; head sizes as before.
  struct Case {
    int NH, KVH, hs;
    const char* names;  // what the message must mention
  };
  const Case cases[] = {{4, 3, 64, "KVH=3"}, {4, 0, 64, "KVH=0"}, {4, 8, 64, "KVH=8"}, {4, 2, 48, "hs=48"},
                        {0, 1, 64, "NH=0"}};
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << "NH=" << c.NH << " KVH=" << c.KVH << " hs=" << c.hs);
    const Status fwd = cuda::AttentionForward<float>(nullptr, nullptr, nullptr, 1, 4, c.NH, c.KVH, c.hs, nullptr);
    EXPECT_EQ(fwd.code(), Status::Code::kInvalidArgument) << fwd.message();
    EXPECT_NE(fwd.message().find(c.names), std::string::npos) << fwd.message();
    const Status bwd = cuda::AttentionBackward<bf16>(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 1, 4, c.NH,
                                                     c.KVH, c.hs, nullptr);
    EXPECT_EQ(bwd.code(), Status::Code::kInvalidArgument) << bwd.message();
    EXPECT_NE(bwd.message().find(c.names), std::string::npos) << bwd.message();
  }
}

}  // namespace
}  // namespace meridian
