#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/cpu/attention.h"
#include "kernels/cuda/attention.cuh"
#include "tests/kernels/cuda/cuda_test_util.h"

namespace meridian {
namespace {

using namespace cuda_test;

struct AttentionShape {
  int B, T, C, NH;
};

// Head sizes 32, 64 and 128; T off the tile sizes (37, 200, 129), on them
// (64), and T = 1.
const AttentionShape kShapes[] = {{2, 37, 64, 2}, {1, 200, 256, 4}, {1, 129, 256, 2},
                                  {2, 64, 128, 2}, {2, 1, 128, 2},  {1, 1, 32, 1}};

testing::Message Describe(const AttentionShape& s) {
  return testing::Message() << "B=" << s.B << " T=" << s.T << " C=" << s.C << " NH=" << s.NH;
}

// fp32: forward against the CPU kernel is one float chain; the backward is a
// longer one. bf16: the outputs are rounded to 8 mantissa bits.
template <typename T>
double ForwardTol() {
  return std::is_same_v<T, float> ? 1e-5 : 2e-2;
}
template <typename T>
double BackwardTol() {
  return std::is_same_v<T, float> ? 1e-4 : 2e-2;
}

// lse (B,NH,T) of the scaled causal scores, in double.
std::vector<double> LogSumExpInDouble(const std::vector<float>& qkv, const AttentionShape& s) {
  const int hs = s.C / s.NH;
  const size_t C3 = 3 * (size_t)s.C;
  const double scale = 1.0 / std::sqrt((double)hs);
  std::vector<double> lse((size_t)s.B * s.NH * s.T);
  for (int b = 0; b < s.B; ++b)
    for (int h = 0; h < s.NH; ++h)
      for (int t = 0; t < s.T; ++t) {
        const float* q = qkv.data() + ((size_t)b * s.T + t) * C3 + (size_t)h * hs;
        std::vector<double> scores(t + 1);
        double maxv = -INFINITY;
        for (int j = 0; j <= t; ++j) {
          const float* k = qkv.data() + ((size_t)b * s.T + j) * C3 + s.C + (size_t)h * hs;
          double dot = 0.0;
          for (int d = 0; d < hs; ++d) dot += (double)q[d] * k[d];
          scores[j] = scale * dot;
          maxv = std::max(maxv, scores[j]);
        }
        double sum = 0.0;
        for (double x : scores) sum += std::exp(x - maxv);
        lse[((size_t)b * s.NH + h) * s.T + t] = maxv + std::log(sum);
      }
  return lse;
}

// One third of (B,T,3C): part 0 = q, 1 = k, 2 = v.
std::vector<float> Part(const std::vector<float>& qkv, const AttentionShape& s, int part) {
  std::vector<float> r;
  r.reserve((size_t)s.B * s.T * s.C);
  for (size_t bt = 0; bt < (size_t)s.B * s.T; ++bt)
    for (int c = 0; c < s.C; ++c) r.push_back(qkv[bt * 3 * s.C + (size_t)part * s.C + c]);
  return r;
}

template <typename T>
class AttentionCuda : public testing::Test {};
using StorageTypes = testing::Types<float, bf16>;
TYPED_TEST_SUITE(AttentionCuda, StorageTypes);

TYPED_TEST(AttentionCuda, ForwardMatchesCpuKernelAndLogSumExpMatchesDouble) {
  using T = TypeParam;
  MERIDIAN_SKIP_WITHOUT_GPU();
  std::mt19937 rng(501);
  for (const AttentionShape& s : kShapes) {
    SCOPED_TRACE(Describe(s));
    const size_t BTC = (size_t)s.B * s.T * s.C, rows = (size_t)s.B * s.NH * s.T;
    const std::vector<float> qkv = RoundTo<T>(RandomFloats(rng, 3 * BTC, -2.0f, 2.0f));
    DeviceBuffer<T> d_qkv = Upload<T>(qkv);
    DeviceBuffer<T> d_out = Poisoned<T>(BTC);
    DeviceBuffer<float> d_lse = Poisoned<float>(rows);
    const Status st = cuda::AttentionForward<T>(d_out.data(), d_lse.data(), d_qkv.data(), s.B, s.T, s.C, s.NH, nullptr);
    ASSERT_TRUE(st.ok()) << st.message();

    std::vector<float> want_out(BTC), att(rows * s.T);
    cpu::AttentionForward(want_out.data(), att.data(), qkv.data(), s.B, s.T, s.C, s.NH);
    ExpectClose(Download(d_out.data(), BTC), want_out, ForwardTol<T>(), std::string(TypeName<T>()) + " out");

    // The kernel computes lse in float from exactly these inputs, whatever
    // the storage type.
    const std::vector<float> lse = Download(d_lse.data(), rows);
    const std::vector<double> want_lse = LogSumExpInDouble(qkv, s);
    for (size_t r = 0; r < rows; ++r) {
      ASSERT_TRUE(std::isfinite(lse[r])) << "lse row " << r << " is " << lse[r];
      EXPECT_NEAR(lse[r], want_lse[r], 1e-5 * std::max(1.0, std::fabs(want_lse[r]))) << "lse row " << r;
    }
  }
}

TYPED_TEST(AttentionCuda, BackwardMatchesCpuKernel) {
  using T = TypeParam;
  MERIDIAN_SKIP_WITHOUT_GPU();
  std::mt19937 rng(502);
  for (const AttentionShape& s : kShapes) {
    SCOPED_TRACE(Describe(s));
    const size_t BTC = (size_t)s.B * s.T * s.C, rows = (size_t)s.B * s.NH * s.T;
    const std::vector<float> qkv = RoundTo<T>(RandomFloats(rng, 3 * BTC, -2.0f, 2.0f));
    const std::vector<float> dout = RoundTo<T>(RandomFloats(rng, BTC));
    DeviceBuffer<T> d_qkv = Upload<T>(qkv);
    DeviceBuffer<T> d_dout = Upload<T>(dout);
    DeviceBuffer<T> d_out = Poisoned<T>(BTC);
    DeviceBuffer<float> d_lse = Poisoned<float>(rows);
    Status st = cuda::AttentionForward<T>(d_out.data(), d_lse.data(), d_qkv.data(), s.B, s.T, s.C, s.NH, nullptr);
    ASSERT_TRUE(st.ok()) << st.message();
    // dqkv is overwritten everywhere (future keys of the last rows get 0)
    // and delta is workspace: both start as NaN.
    DeviceBuffer<T> d_dqkv = Poisoned<T>(3 * BTC);
    DeviceBuffer<float> d_delta = Poisoned<float>(rows);
    st = cuda::AttentionBackward<T>(d_dqkv.data(), d_delta.data(), d_dout.data(), d_out.data(), d_qkv.data(),
                                    d_lse.data(), s.B, s.T, s.C, s.NH, nullptr);
    ASSERT_TRUE(st.ok()) << st.message();

    std::vector<float> out(BTC), att(rows * s.T), scratch(rows * s.T), want(3 * BTC);
    cpu::AttentionForward(out.data(), att.data(), qkv.data(), s.B, s.T, s.C, s.NH);
    cpu::AttentionBackward(want.data(), scratch.data(), dout.data(), qkv.data(), att.data(), s.B, s.T, s.C, s.NH);
    const std::vector<float> got = Download(d_dqkv.data(), 3 * BTC);
    // Each third on its own, so a small dq cannot hide behind a large dv.
    for (int part = 0; part < 3; ++part)
      ExpectClose(Part(got, s, part), Part(want, s, part), BackwardTol<T>(),
                  std::string(TypeName<T>()) + " d" + "qkv"[part]);
  }
}

// Validation runs before any CUDA call, so this needs no device: the
// pointers are never touched.
TEST(AttentionCudaShapes, AreRefusedBeforeTouchingTheDevice) {
  EXPECT_TRUE(cuda::AttentionSupportsHeadSize(32));
  EXPECT_TRUE(cuda::AttentionSupportsHeadSize(64));
  EXPECT_TRUE(cuda::AttentionSupportsHeadSize(128));
  EXPECT_FALSE(cuda::AttentionSupportsHeadSize(48));
  EXPECT_FALSE(cuda::AttentionSupportsHeadSize(16));
  EXPECT_FALSE(cuda::AttentionSupportsHeadSize(256));

  struct Case {
    int B, T, C, NH;
    const char* names;  // what the message must mention
  };
  const Case cases[] = {{1, 4, 96, 2, "48"}, {1, 4, 64, 3, "C=64"}, {1, 0, 64, 2, "T=0"}, {0, 4, 64, 2, "B=0"},
                        {1, 4, 64, 0, "NH=0"}};
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << "B=" << c.B << " T=" << c.T << " C=" << c.C << " NH=" << c.NH);
    const Status fwd = cuda::AttentionForward<float>(nullptr, nullptr, nullptr, c.B, c.T, c.C, c.NH, nullptr);
    EXPECT_EQ(fwd.code(), Status::Code::kInvalidArgument) << fwd.message();
    EXPECT_NE(fwd.message().find(c.names), std::string::npos) << fwd.message();
    const Status fwd16 = cuda::AttentionForward<bf16>(nullptr, nullptr, nullptr, c.B, c.T, c.C, c.NH, nullptr);
    EXPECT_EQ(fwd16.code(), Status::Code::kInvalidArgument) << fwd16.message();
    const Status bwd = cuda::AttentionBackward<float>(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, c.B, c.T,
                                                      c.C, c.NH, nullptr);
    EXPECT_EQ(bwd.code(), Status::Code::kInvalidArgument) << bwd.message();
    EXPECT_NE(bwd.message().find(c.names), std::string::npos) << bwd.message();
    const Status bwd16 = cuda::AttentionBackward<bf16>(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, c.B,
                                                       c.T, c.C, c.NH, nullptr);
    EXPECT_EQ(bwd16.code(), Status::Code::kInvalidArgument) << bwd16.message();
  }
}

}  // namespace
}  // namespace meridian
