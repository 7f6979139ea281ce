#include <gtest/gtest.h>

#include <cuda_runtime.h>

#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/encoder.h"
#include "kernels/cuda/encoder.cuh"
#include "tests/kernels/cuda/cuda_test_util.h"

namespace meridian {
namespace {

using namespace cuda_test;

template <typename T>
class EncoderCuda : public testing::Test {};
using StorageTypes = testing::Types<float, bf16>;
TYPED_TEST_SUITE(EncoderCuda, StorageTypes);

struct EncoderShape {
  int B, T, C, V, maxT;
};

// A single token, widths off the 32-lane grid, a vocabulary of 3 so most
// tokens collide in dwte, and GPT-2 small's width.
const EncoderShape kShapes[] = {{1, 1, 1, 1, 1}, {3, 17, 77, 3, 20}, {2, 33, 129, 50, 40}, {4, 64, 768, 1000, 64}};

std::string Describe(const EncoderShape& s) {
  return "B=" + std::to_string(s.B) + " T=" + std::to_string(s.T) + " C=" + std::to_string(s.C) +
         " V=" + std::to_string(s.V);
}

std::vector<int> RandomTokens(std::mt19937& rng, size_t n, int V) {
  std::uniform_int_distribution<int> dist(0, V - 1);
  std::vector<int> v(n);
  for (int& x : v) x = dist(rng);
  return v;
}

TYPED_TEST(EncoderCuda, ForwardMatchesTheCpuKernel) {
  using T = TypeParam;
  MERIDIAN_SKIP_WITHOUT_GPU();
  std::mt19937 rng(901);
  for (const EncoderShape& s : kShapes) {
    SCOPED_TRACE(std::string(TypeName<T>()) + " " + Describe(s));
    const size_t BTC = (size_t)s.B * s.T * s.C;
    const std::vector<float> wte = RoundTo<T>(RandomFloats(rng, (size_t)s.V * s.C));
    const std::vector<float> wpe = RoundTo<T>(RandomFloats(rng, (size_t)s.maxT * s.C));
    const std::vector<int> inp = RandomTokens(rng, (size_t)s.B * s.T, s.V);
    auto d_wte = Upload<T>(wte);
    auto d_wpe = Upload<T>(wpe);
    auto d_inp = UploadInts(inp);
    auto d_out = Poisoned<T>(BTC);
    const Status st =
        cuda::EncoderForward<T>(d_out.data(), d_inp.data(), d_wte.data(), d_wpe.data(), s.B, s.T, s.C, nullptr);
    ASSERT_TRUE(st.ok()) << st.ToString();
    std::vector<float> want(BTC);
    cpu::EncoderForward(want.data(), inp.data(), wte.data(), wpe.data(), s.B, s.T, s.C);
    ExpectClose(Download(d_out.data(), BTC), want, Tolerance<T>(), "out");
  }
}

TYPED_TEST(EncoderCuda, BackwardAccumulatesAsTheCpuKernelDoes) {
  using T = TypeParam;
  MERIDIAN_SKIP_WITHOUT_GPU();
  std::mt19937 rng(902);
  for (const EncoderShape& s : kShapes) {
    SCOPED_TRACE(std::string(TypeName<T>()) + " " + Describe(s));
    const size_t BTC = (size_t)s.B * s.T * s.C;
    const std::vector<float> dout = RoundTo<T>(RandomFloats(rng, BTC));
    const std::vector<int> inp = RandomTokens(rng, (size_t)s.B * s.T, s.V);
    // Gradients accumulate: start from earlier values, not zeros. Rows of
    // dwpe past T must come back untouched.
    std::vector<float> dwte = RandomFloats(rng, (size_t)s.V * s.C);
    std::vector<float> dwpe = RandomFloats(rng, (size_t)s.maxT * s.C);
    auto d_dout = Upload<T>(dout);
    auto d_inp = UploadInts(inp);
    auto d_dwte = Upload<float>(dwte);
    auto d_dwpe = Upload<float>(dwpe);
    const Status st =
        cuda::EncoderBackward<T>(d_dwte.data(), d_dwpe.data(), d_dout.data(), d_inp.data(), s.B, s.T, s.C, nullptr);
    ASSERT_TRUE(st.ok()) << st.ToString();
    cpu::EncoderBackward(dwte.data(), dwpe.data(), dout.data(), inp.data(), s.B, s.T, s.C);
    // float sums either way, in a different order (atomics for dwte).
    ExpectClose(Download(d_dwte.data(), dwte.size()), dwte, Tolerance<float>(true), "dwte");
    ExpectClose(Download(d_dwpe.data(), dwpe.size()), dwpe, Tolerance<float>(true), "dwpe");
  }
}

TEST(EncoderCudaArguments, NegativeSizesAreRefusedAndEmptyOnesAreNoOps) {
  // Checked before any device work, so this runs without a GPU.
  EXPECT_EQ(cuda::EncoderForward<float>(nullptr, nullptr, nullptr, nullptr, -1, 4, 8, nullptr).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(cuda::EncoderBackward<bf16>(nullptr, nullptr, nullptr, nullptr, 2, 4, -8, nullptr).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(cuda::EncoderForward<bf16>(nullptr, nullptr, nullptr, nullptr, 1 << 16, 1 << 16, 8, nullptr).code(),
            Status::Code::kInvalidArgument);
  EXPECT_TRUE(cuda::EncoderForward<float>(nullptr, nullptr, nullptr, nullptr, 0, 4, 8, nullptr).ok());
  EXPECT_TRUE(cuda::EncoderBackward<float>(nullptr, nullptr, nullptr, nullptr, 2, 4, 0, nullptr).ok());
  EXPECT_EQ(cuda::EncoderForward<float>(nullptr, nullptr, nullptr, nullptr, 2, 4, 8, nullptr).code(),
            Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace meridian
