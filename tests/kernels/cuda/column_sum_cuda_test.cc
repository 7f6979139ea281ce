#include <gtest/gtest.h>

#include <cuda_runtime.h>

#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/reduce.h"
#include "kernels/cuda/reduce.cuh"
#include "tests/kernels/cuda/cuda_test_util.h"

namespace meridian {
namespace {

using namespace cuda_test;

template <typename T>
class ColumnSumAccumulateCuda : public testing::Test {};
using StorageTypes = testing::Types<float, bf16>;
TYPED_TEST_SUITE(ColumnSumAccumulateCuda, StorageTypes);

TYPED_TEST(ColumnSumAccumulateCuda, AddsColumnSumsOntoTheOutputAsTheCpuKernelDoes) {
  using T = TypeParam;
  MERIDIAN_SKIP_WITHOUT_GPU();
  std::mt19937 rng(501);
  struct Dims {
    int N, C;
  };
  // A single element, rows and columns off the 32-wide grids, a bias of
  // GPT-2's qkv width, and more rows than one block's row lanes by far.
  for (const Dims& d : {Dims{1, 1}, Dims{1000, 77}, Dims{37, 2304}, Dims{4099, 33}}) {
    SCOPED_TRACE(std::string(TypeName<T>()) + " N=" + std::to_string(d.N) + " C=" + std::to_string(d.C));
    const std::vector<float> in = RoundTo<T>(RandomFloats(rng, (size_t)d.N * d.C));
    const std::vector<float> start = RandomFloats(rng, d.C);
    auto d_in = Upload<T>(in);
    auto d_out = Upload<float>(start);
    const Status st = cuda::ColumnSumAccumulate<T>(d_out.data(), d_in.data(), d.N, d.C, nullptr);
    ASSERT_TRUE(st.ok()) << st.ToString();
    std::vector<float> want = start;
    cpu::ColumnSumAccumulate(want.data(), in.data(), d.N, d.C);
    // The sum is float either way; only the order of additions differs.
    ExpectClose(Download(d_out.data(), (size_t)d.C), want, Tolerance<float>(true), "out");
  }
}

TYPED_TEST(ColumnSumAccumulateCuda, RepeatedCallsGiveBitIdenticalSums) {
  using T = TypeParam;
  MERIDIAN_SKIP_WITHOUT_GPU();
  std::mt19937 rng(502);
  const int N = 3001, C = 129;
  auto d_in = Upload<T>(RandomFloats(rng, (size_t)N * C));
  std::vector<std::vector<float>> results;
  for (int run = 0; run < 3; ++run) {
    auto d_out = Upload<float>(std::vector<float>(C, 0.0f));
    ASSERT_TRUE(cuda::ColumnSumAccumulate<T>(d_out.data(), d_in.data(), N, C, nullptr).ok());
    results.push_back(Download(d_out.data(), (size_t)C));
  }
  EXPECT_EQ(results[0], results[1]);
  EXPECT_EQ(results[0], results[2]);
}

TEST(ColumnSumAccumulateCudaArguments, NegativeSizesAreRefusedAndEmptyOnesAreNoOps) {
  // Checked before any device work, so this runs without a GPU.
  EXPECT_EQ(cuda::ColumnSumAccumulate<float>(nullptr, nullptr, -1, 4, nullptr).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(cuda::ColumnSumAccumulate<bf16>(nullptr, nullptr, 4, -1, nullptr).code(),
            Status::Code::kInvalidArgument);
  EXPECT_TRUE(cuda::ColumnSumAccumulate<float>(nullptr, nullptr, 0, 4, nullptr).ok());
}

}  // namespace
}  // namespace meridian
