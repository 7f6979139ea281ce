#include "bench/sgemm_ceiling.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "common/random.h"
#include "kernels/cpu/blas.h"

namespace meridian::bench {

SgemmCeiling MeasureSgemmCeiling(int size, int threads, int reps) {
  const size_t n = (size_t)size * size;
  std::vector<float> a(n), b(n), c(n, 0.0f);
  Rng rng(1);
  for (size_t i = 0; i < n; ++i) {
    a[i] = (float)rng.Uniform() - 0.5f;
    b[i] = (float)rng.Uniform() - 0.5f;
  }
  omp_set_num_threads(threads);
  cpu::SetBlasThreads(threads);
  cpu::Sgemm(false, false, size, size, size, 1.0f, a.data(), size, b.data(), size, 0.0f, c.data(), size);  // warm-up
  std::vector<double> rates;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    cpu::Sgemm(false, false, size, size, size, 1.0f, a.data(), size, b.data(), size, 0.0f, c.data(), size);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rates.push_back(2.0 * size * (double)size * size / s / 1e9);
  }
  std::sort(rates.begin(), rates.end());
  return SgemmCeiling{size, threads, rates[rates.size() / 2]};
}

}  // namespace meridian::bench
