// A small, portable random source: the same seed gives the same numbers on
// every compiler and platform (std:: distributions do not promise that),
// which initialisation, sampling and tests rely on.
#pragma once

#include <cmath>
#include <cstdint>

namespace meridian {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  // splitmix64
  uint64_t NextU64() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // uniform in [0, 1) with 53 random bits
  double Uniform() { return (NextU64() >> 11) * (1.0 / 9007199254740992.0); }
  // standard normal, Box-Muller
  double Normal() {
    const double u1 = 1.0 - Uniform();  // (0, 1]
    const double u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

  uint64_t state() const { return state_; }
  void set_state(uint64_t s) { state_ = s; }

 private:
  uint64_t state_;
};

}  // namespace meridian
