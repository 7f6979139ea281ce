#include <gtest/gtest.h>

#include <cuda_runtime.h>

#include <random>
#include <vector>

#include "kernels/cpu/adamw.h"
#include "kernels/cuda/adamw.cuh"
#include "kernels/cuda/cuda_check.h"
#include "tests/kernels/cuda/cuda_test_util.h"

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

TEST(AdamWCuda, WritesTheUpdatedMasterWeightsRoundedToBf16WhenAsked) {
  MERIDIAN_SKIP_WITHOUT_GPU();
  using namespace cuda_test;
  const size_t n = 100003;
  std::mt19937 gen(6);
  std::vector<float> p = RandomFloats(gen, n, -2.0f, 2.0f), g = RandomFloats(gen, n);
  std::vector<float> m(n, 0.0f), v(n, 0.0f);
  auto dp = Upload<float>(p);
  auto dg = Upload<float>(g);
  auto dm = Upload<float>(m);
  auto dv = Upload<float>(v);
  auto d_bf16 = Poisoned<bf16>(n);
  cpu::AdamWParams hp;
  hp.lr = 1e-3f;
  hp.weight_decay = 0.1f;
  for (long t = 1; t <= 2; ++t) {
    hp.step = t;
    const Status st = cuda::AdamWUpdate(dp.data(), dg.data(), dm.data(), dv.data(), n, hp, nullptr, d_bf16.data());
    ASSERT_TRUE(st.ok()) << st.ToString();
    cpu::AdamWUpdate(p.data(), g.data(), m.data(), v.data(), n, hp);
  }
  const std::vector<float> master = Download(dp.data(), n);
  ExpectClose(master, p, Tolerance<float>(), "master weights");
  // The copy is the GPU's own master weights, rounded once to nearest even.
  const std::vector<float> copy = Download(d_bf16.data(), n);
  const std::vector<float> want = RoundTo<bf16>(master);
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(copy[i], want[i]) << i;
}

}  // namespace
}  // namespace meridian
