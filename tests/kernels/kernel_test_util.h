// Shared helpers for the kernel tests: seeded random buffers, NaN-poisoned
// output buffers with a guard tail, float<->double conversion, and a
// relative-to-max-abs comparison against a double reference.
#pragma once

#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace meridian::kernel_test {

// Forward kernels: float vs double. Backward kernels: longer float chains.
constexpr double kForwardTol = 1e-5;
constexpr double kBackwardTol = 1e-4;
// The analytic double reference against central differences in double.
constexpr double kFiniteDiffTol = 1e-6;

// Elements appended after every poisoned buffer; a kernel that writes past
// the end of its output overwrites them.
constexpr size_t kGuard = 16;

inline std::vector<float> RandomFloats(std::mt19937& rng, size_t n, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

inline std::vector<int> RandomInts(std::mt19937& rng, size_t n, int lo, int hi_inclusive) {
  std::uniform_int_distribution<int> dist(lo, hi_inclusive);
  std::vector<int> v(n);
  for (int& x : v) x = dist(rng);
  return v;
}

inline std::vector<double> ToDouble(const std::vector<float>& v) { return {v.begin(), v.end()}; }

inline std::vector<double> ToDouble(const float* p, size_t n) { return {p, p + n}; }

inline std::vector<float> ToFloat(const std::vector<double>& v) {
  std::vector<float> f(v.size());
  for (size_t i = 0; i < v.size(); ++i) f[i] = (float)v[i];
  return f;
}

inline float PoisonValue() { return std::numeric_limits<float>::quiet_NaN(); }

// n NaNs followed by kGuard more NaNs; pass .data() to a kernel that
// overwrites n elements, then check with GuardIntact(buf, n).
inline std::vector<float> Poisoned(size_t n) { return std::vector<float>(n + kGuard, PoisonValue()); }

// True when elements [n, n + kGuard) still hold the poison's exact bits.
inline ::testing::AssertionResult GuardIntact(const std::vector<float>& buf, size_t n) {
  const uint32_t poison = std::bit_cast<uint32_t>(PoisonValue());
  for (size_t i = n; i < buf.size(); ++i)
    if (std::bit_cast<uint32_t>(buf[i]) != poison)
      return ::testing::AssertionFailure() << "write past the end: element " << i << " (size " << n
                                           << ") = " << buf[i];
  return ::testing::AssertionSuccess();
}

// max_i |got_i - want_i| <= tol * max(max_i |want_i|, floor). Fails on any
// NaN or Inf in got, and names the worst element.
inline ::testing::AssertionResult AllClose(const float* got, const double* want, size_t n, double tol,
                                           double floor = 1e-30) {
  double max_want = 0.0, max_err = 0.0;
  size_t worst = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(got[i]))
      return ::testing::AssertionFailure() << "element " << i << " of " << n << " is " << got[i]
                                           << " (want " << want[i] << ")";
    max_want = std::max(max_want, std::fabs(want[i]));
    const double err = std::fabs((double)got[i] - want[i]);
    if (err > max_err) {
      max_err = err;
      worst = i;
    }
  }
  const double scale = std::max(max_want, floor);
  const double rel = max_err / scale;
  if (rel <= tol) return ::testing::AssertionSuccess() << "rel err " << rel;
  std::ostringstream s;
  s.precision(9);
  s << "rel err " << rel << " > " << tol << " (max |got-want| " << max_err << ", max |want| " << max_want
    << ", worst element " << worst << ": got " << got[worst] << " want " << want[worst] << ")";
  return ::testing::AssertionFailure() << s.str();
}

inline ::testing::AssertionResult AllClose(const std::vector<float>& got, const std::vector<double>& want,
                                           double tol) {
  if (got.size() < want.size())
    return ::testing::AssertionFailure() << "size " << got.size() << " < " << want.size();
  return AllClose(got.data(), want.data(), want.size(), tol);
}

// Same criterion, double vs double (reference vs finite differences).
inline ::testing::AssertionResult AllClose(const std::vector<double>& got, const std::vector<double>& want,
                                           double tol) {
  double max_want = 0.0, max_err = 0.0;
  size_t worst = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    max_want = std::max(max_want, std::fabs(want[i]));
    const double err = std::fabs(got[i] - want[i]);
    if (!(err <= max_err)) {
      max_err = err;
      worst = i;
    }
  }
  const double rel = max_err / std::max(max_want, 1e-30);
  if (rel <= tol) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "rel err " << rel << " > " << tol << " at element " << worst
                                       << ": got " << got[worst] << " want " << want[worst];
}

// Bitwise equality of two float buffers.
inline ::testing::AssertionResult BitIdentical(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return ::testing::AssertionFailure() << "sizes " << a.size() << " vs " << b.size();
  for (size_t i = 0; i < a.size(); ++i)
    if (std::bit_cast<uint32_t>(a[i]) != std::bit_cast<uint32_t>(b[i]))
      return ::testing::AssertionFailure() << "element " << i << ": " << a[i] << " vs " << b[i];
  return ::testing::AssertionSuccess();
}

// Sets the OpenMP thread count for one scope and restores it after.
class ScopedOmpThreads {
 public:
  explicit ScopedOmpThreads(int threads) : saved_(omp_get_max_threads()) { omp_set_num_threads(threads); }
  ~ScopedOmpThreads() { omp_set_num_threads(saved_); }
  ScopedOmpThreads(const ScopedOmpThreads&) = delete;
  ScopedOmpThreads& operator=(const ScopedOmpThreads&) = delete;

 private:
  int saved_;
};

inline double Dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0.0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

}  // namespace meridian::kernel_test
