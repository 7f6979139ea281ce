// Shared helpers for the CUDA kernel tests: skip without a device, upload
// host float data in either storage type, download as float, NaN-poisoned
// outputs (0xFF bytes are NaN in both float and bf16), and a comparison
// relative to the reference's largest magnitude.
#pragma once

#include <gtest/gtest.h>

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/dtype.cuh"

namespace meridian::cuda_test {

using cuda::bf16;
using cuda::DeviceBuffer;

#define MERIDIAN_SKIP_WITHOUT_GPU()                                                   \
  do {                                                                                \
    if (::meridian::cuda::DeviceCount() == 0) GTEST_SKIP() << "no CUDA device on this machine"; \
  } while (0)

// Relative error bounds of the issue: fp32 ~1e-5, bf16 ~1e-2. Kernels whose
// float accumulation order differs from the CPU's over long sums get the
// looser `long_sum` bound in fp32.
template <typename T>
double Tolerance(bool long_sum = false) {
  if constexpr (std::is_same_v<T, float>) return long_sum ? 1e-4 : 1e-5;
  return 1e-2;
}

template <typename T>
const char* TypeName() {
  return std::is_same_v<T, float> ? "fp32" : "bf16";
}

// Rounds host data through the storage type, so a CPU reference sees
// exactly the inputs the GPU kernel sees.
template <typename T>
std::vector<float> RoundTo(const std::vector<float>& v) {
  if constexpr (std::is_same_v<T, float>) return v;
  std::vector<float> r(v.size());
  for (size_t i = 0; i < v.size(); ++i) r[i] = __bfloat162float(__float2bfloat16_rn(v[i]));
  return r;
}

template <typename T>
DeviceBuffer<T> Upload(const std::vector<float>& host) {
  std::vector<T> staged(host.size());
  for (size_t i = 0; i < host.size(); ++i) staged[i] = cuda::FromFloat<T>(host[i]);
  DeviceBuffer<T> d;
  EXPECT_TRUE(d.Allocate(std::max<size_t>(host.size(), 1)).ok());
  EXPECT_EQ(cudaMemcpy(d.data(), staged.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice), cudaSuccess);
  return d;
}

inline DeviceBuffer<int> UploadInts(const std::vector<int>& host) {
  DeviceBuffer<int> d;
  EXPECT_TRUE(d.Allocate(std::max<size_t>(host.size(), 1)).ok());
  EXPECT_EQ(cudaMemcpy(d.data(), host.data(), host.size() * sizeof(int), cudaMemcpyHostToDevice), cudaSuccess);
  return d;
}

// n elements of NaN (every byte 0xFF).
template <typename T>
DeviceBuffer<T> Poisoned(size_t n) {
  DeviceBuffer<T> d;
  EXPECT_TRUE(d.Allocate(std::max<size_t>(n, 1)).ok());
  EXPECT_EQ(cudaMemset(d.data(), 0xFF, std::max<size_t>(n, 1) * sizeof(T)), cudaSuccess);
  return d;
}

template <typename T>
std::vector<float> Download(const T* device, size_t n) {
  std::vector<T> staged(n);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(cudaMemcpy(staged.data(), device, n * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
  std::vector<float> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = cuda::ToFloat(staged[i]);
  return out;
}

// Every element finite and |actual - expected| <= tol * max(1, max|expected|).
inline void ExpectClose(const std::vector<float>& actual, const std::vector<float>& expected, double tol,
                        const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  double scale = 1e-30;
  for (float e : expected) scale = std::max(scale, (double)std::fabs(e));
  scale = std::max(scale, 1.0);
  size_t worst = 0;
  double worst_err = 0.0;
  for (size_t i = 0; i < actual.size(); ++i) {
    ASSERT_TRUE(std::isfinite(actual[i])) << what << ": element " << i << " is " << actual[i]
                                          << " (unwritten or overflowed)";
    const double err = std::fabs((double)actual[i] - (double)expected[i]);
    if (err > worst_err) {
      worst_err = err;
      worst = i;
    }
  }
  EXPECT_LE(worst_err / scale, tol) << what << ": worst at element " << worst << ": got " << actual[worst]
                                    << ", want " << expected[worst] << " (scale " << scale << ")";
}

inline std::vector<float> RandomFloats(std::mt19937& rng, size_t n, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

}  // namespace meridian::cuda_test
