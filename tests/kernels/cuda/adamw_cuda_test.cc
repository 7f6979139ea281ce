#include <gtest/gtest.h>

#include <cuda_runtime.h>

#include <random>
#include <vector>

#include "kernels/cpu/adamw.h"
#include "kernels/cuda/adamw.cuh"
#include "kernels/cuda/cuda_check.h"

namespace meridian {
namespace {

TEST(AdamWCuda, MatchesTheCpuKernel) {
  if (cuda::DeviceCount() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  const size_t n = 100003;  // not a multiple of the block size
  std::mt19937 gen(5);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> p(n), g(n), m(n, 0.0f), v(n, 0.0f);
  for (size_t i = 0; i < n; ++i) {
    p[i] = dist(gen);
    g[i] = dist(gen);
  }
  float *dp, *dg, *dm, *dv;
  for (float** d : {&dp, &dg, &dm, &dv}) ASSERT_EQ(cudaMalloc(d, n * sizeof(float)), cudaSuccess);
  cudaMemcpy(dp, p.data(), n * 4, cudaMemcpyHostToDevice);
  cudaMemcpy(dg, g.data(), n * 4, cudaMemcpyHostToDevice);
  cudaMemcpy(dm, m.data(), n * 4, cudaMemcpyHostToDevice);
  cudaMemcpy(dv, v.data(), n * 4, cudaMemcpyHostToDevice);
  cpu::AdamWParams hp;
  hp.lr = 1e-3f;
  hp.weight_decay = 0.1f;
  hp.grad_scale = 0.5f;
  for (long t = 1; t <= 3; ++t) {
    hp.step = t;
    ASSERT_TRUE(cuda::AdamWUpdate(dp, dg, dm, dv, n, hp, nullptr).ok());
    cpu::AdamWUpdate(p.data(), g.data(), m.data(), v.data(), n, hp);
  }
  std::vector<float> out(n);
  ASSERT_EQ(cudaMemcpy(out.data(), dp, n * 4, cudaMemcpyDeviceToHost), cudaSuccess);
  for (size_t i = 0; i < n; ++i) ASSERT_NEAR(out[i], p[i], 1e-5f * (1.0f + std::fabs(p[i]))) << i;
  for (float* d : {dp, dg, dm, dv}) cudaFree(d);
}

}  // namespace
}  // namespace meridian
