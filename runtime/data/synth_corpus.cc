#include "runtime/data/synth_corpus.h"

#include <array>
#include <string_view>

namespace meridian {

uint64_t SplitMix64::Below(uint64_t n) {
  // Values below `threshold` would over-represent small residues.
  const uint64_t threshold = (0 - n) % n;
  for (;;) {
    const uint64_t r = Next();
    if (r >= threshold) return r % n;
  }
}

namespace {

constexpr std::array<std::string_view, 8> kAdjectives = {
    "small", "big", "red", "old", "quick", "quiet", "happy", "green"};
constexpr std::array<std::string_view, 8> kNouns = {
    "cat", "dog", "bird", "fox", "ball", "tree", "house", "fish"};
constexpr std::array<std::string_view, 6> kVerbs = {
    "sees", "likes", "finds", "chases", "wants", "hears"};

template <size_t N>
std::string_view Pick(SplitMix64& rng, const std::array<std::string_view, N>& words) {
  return words[rng.Below(N)];
}

// Appends one line; the mix is chosen so every kind appears often.
void AppendLine(SplitMix64& rng, std::string* out) {
  const uint64_t kind = rng.Below(100);
  if (kind < 35) {  // addition of two numbers below 100
    const int64_t a = rng.Between(0, 99), b = rng.Between(0, 99);
    *out += std::to_string(a) + "+" + std::to_string(b) + "=" + std::to_string(a + b) + "\n";
  } else if (kind < 50) {  // subtraction with a non-negative result
    int64_t a = rng.Between(0, 99), b = rng.Between(0, 99);
    if (a < b) std::swap(a, b);
    *out += std::to_string(a) + "-" + std::to_string(b) + "=" + std::to_string(a - b) + "\n";
  } else if (kind < 70) {  // the multiplication table
    const int64_t a = rng.Between(1, 12), b = rng.Between(1, 12);
    *out += std::to_string(a) + "*" + std::to_string(b) + "=" + std::to_string(a * b) + "\n";
  } else if (kind < 85) {  // counting run
    const int64_t start = rng.Between(0, 90), len = rng.Between(4, 7);
    *out += "count";
    for (int64_t i = 0; i < len; ++i) {
      *out += ' ';
      *out += std::to_string(start + i);
    }
    *out += "\n";
  } else {  // templated sentence
    *out += "the ";
    *out += Pick(rng, kAdjectives);
    *out += " ";
    *out += Pick(rng, kNouns);
    *out += " ";
    *out += Pick(rng, kVerbs);
    *out += " the ";
    *out += Pick(rng, kNouns);
    *out += ".\n";
  }
}

}  // namespace

std::string GenerateSynthText(uint64_t seed, size_t approx_bytes) {
  SplitMix64 rng(seed);
  std::string text;
  text.reserve(approx_bytes + 64);
  while (text.size() < approx_bytes) AppendLine(rng, &text);
  return text;
}

}  // namespace meridian
