// A deterministic synthetic text corpus for tests, demos and benchmarks.
//
// The text is lines of arithmetic facts ("37+45=82", "9*7=63"), counting
// runs ("count 12 13 14 15") and templated sentences ("the small cat sees
// the red ball."): enough structure that a tiny byte-level GPT's loss drops
// visibly within a couple of hundred steps, with no download.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/random.h"

namespace meridian {

// SplitMix64 (Steele, Lea, Flood 2014). Pure 64-bit integer arithmetic, so
// the stream is the same on every platform and compiler; the standard
// library's distributions are not, which is why none are used here.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : rng_(seed) {}

  uint64_t Next() { return rng_.NextU64(); }

  // Uniform in [0, n) by rejection (no modulo bias). REQUIRES: n > 0.
  uint64_t Below(uint64_t n);

  // Uniform in [lo, hi], both inclusive. REQUIRES: lo <= hi.
  int64_t Between(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(Below(static_cast<uint64_t>(hi - lo) + 1));
  }

 private:
  Rng rng_;  // splitmix64, shared with the rest of the project
};

// Returns whole lines of synthetic text, each ending in '\n', stopping at
// the first line that brings the total to at least `approx_bytes` (so the
// result exceeds it by less than one line, ~40 bytes). Only printable
// ASCII and '\n'. Same seed and size -> same text, byte for byte,
// everywhere; a longer text with the same seed extends a shorter one.
std::string GenerateSynthText(uint64_t seed, size_t approx_bytes);

}  // namespace meridian
