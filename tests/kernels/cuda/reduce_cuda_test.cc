#include <gtest/gtest.h>

#include <cuda_runtime.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/reduce.h"
#include "kernels/cuda/reduce.cuh"
#include "tests/kernels/cuda/cuda_test_util.h"

namespace meridian {
namespace {

using namespace cuda_test;

double DownloadDouble(const double* device) {
  double host = 0.0;
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(cudaMemcpy(&host, device, sizeof(double), cudaMemcpyDeviceToHost), cudaSuccess);
  return host;
}

TEST(SumOfSquaresAccumulateCuda, AddsTheSumOfSquaresInDoubleOntoTheOutput) {
  MERIDIAN_SKIP_WITHOUT_GPU();
  std::mt19937 rng(1201);
  // One element, an odd count, and more elements than the grid's threads
  // (the grid-stride loop takes many laps).
  for (size_t n : {size_t{1}, size_t{77}, size_t{1000003}, size_t{9000001}}) {
    SCOPED_TRACE("n=" + std::to_string(n));
    const std::vector<float> x = RandomFloats(rng, n, -3.0f, 3.0f);
    auto d_x = Upload<float>(x);
    DeviceBuffer<double> d_out;
    ASSERT_TRUE(d_out.Allocate(1).ok());
    const double start = 1.25;  // accumulates onto what is there
    ASSERT_EQ(cudaMemcpy(d_out.data(), &start, sizeof(double), cudaMemcpyHostToDevice), cudaSuccess);
    Status st = cuda::SumOfSquaresAccumulate(d_out.data(), d_x.data(), n, nullptr);
    ASSERT_TRUE(st.ok()) << st.ToString();
    const double want = cpu::SumOfSquares(x.data(), n);
    // Squares of floats are exact in double; only the summation order
    // differs, far below float resolution.
    EXPECT_NEAR(DownloadDouble(d_out.data()), start + want, 1e-12 * (start + want));
    st = cuda::SumOfSquaresAccumulate(d_out.data(), d_x.data(), n, nullptr);
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_NEAR(DownloadDouble(d_out.data()), start + 2 * want, 1e-12 * (start + 2 * want));
  }
}

TEST(SumAccumulateCuda, AddsTheScaledSumInDoubleOntoTheOutput) {
  MERIDIAN_SKIP_WITHOUT_GPU();
  std::mt19937 rng(1202);
  for (size_t n : {size_t{1}, size_t{77}, size_t{1000003}}) {
    SCOPED_TRACE("n=" + std::to_string(n));
    const std::vector<float> x = RandomFloats(rng, n, 0.0f, 8.0f);  // losses are non-negative
    auto d_x = Upload<float>(x);
    DeviceBuffer<double> d_out;
    ASSERT_TRUE(d_out.Allocate(1).ok());
    const double start = 0.5, scale = 1.0 / (double)n;  // a mean, as the loss uses it
    ASSERT_EQ(cudaMemcpy(d_out.data(), &start, sizeof(double), cudaMemcpyHostToDevice), cudaSuccess);
    Status st = cuda::SumAccumulate(d_out.data(), d_x.data(), n, scale, nullptr);
    ASSERT_TRUE(st.ok()) << st.ToString();
    double want = 0.0;
    for (float v : x) want += v;
    want *= scale;
    EXPECT_NEAR(DownloadDouble(d_out.data()), start + want, 1e-12 * (start + want));
  }
}

TEST(SumOfSquaresAccumulateCudaArguments, EmptyInputIsANoOpAndNullBuffersAreRefused) {
  // Checked before any device work, so this runs without a GPU.
  EXPECT_TRUE(cuda::SumOfSquaresAccumulate(nullptr, nullptr, 0, nullptr).ok());
  EXPECT_EQ(cuda::SumOfSquaresAccumulate(nullptr, nullptr, 5, nullptr).code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(cuda::SumAccumulate(nullptr, nullptr, 0, 1.0, nullptr).ok());
  EXPECT_EQ(cuda::SumAccumulate(nullptr, nullptr, 5, 1.0, nullptr).code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace meridian
