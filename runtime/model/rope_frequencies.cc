#include "runtime/model/rope_frequencies.h"

#include <cmath>
#include <numbers>

namespace meridian {

std::vector<double> RopeInverseFrequencies(const GPTConfig& c) {
  const int hs = c.head_size(), half = hs / 2;
  std::vector<double> inv(half);
  for (int i = 0; i < half; ++i) inv[i] = 1.0 / std::pow(c.rope_theta, 2.0 * i / hs);
  const RopeScaling& r = c.rope_scaling;
  if (!r.enabled()) return inv;
  // Wavelengths shorter than original/high_freq_factor are kept, longer than
  // original/low_freq_factor slowed by `factor`, and the band between blends
  // the two by where the wavelength falls.
  const double low_wavelen = r.original_max_position_embeddings / r.low_freq_factor;
  const double high_wavelen = r.original_max_position_embeddings / r.high_freq_factor;
  for (double& f : inv) {
    const double wavelen = 2.0 * std::numbers::pi / f;
    if (wavelen < high_wavelen) continue;
    if (wavelen > low_wavelen) {
      f /= r.factor;
      continue;
    }
    const double smooth =
        (r.original_max_position_embeddings / wavelen - r.low_freq_factor) / (r.high_freq_factor - r.low_freq_factor);
    f = (1.0 - smooth) * f / r.factor + smooth * f;
  }
  return inv;
}

RopeTables MakeRopeTables(const GPTConfig& config, int T) {
  const std::vector<double> inv = RopeInverseFrequencies(config);
  const size_t half = inv.size();
  RopeTables tables;
  tables.cos.resize((size_t)T * half);
  tables.sin.resize((size_t)T * half);
  for (int t = 0; t < T; ++t)
    for (size_t i = 0; i < half; ++i) {
      const double angle = t * inv[i];
      tables.cos[(size_t)t * half + i] = (float)std::cos(angle);
      tables.sin[(size_t)t * half + i] = (float)std::sin(angle);
    }
  return tables;
}

}  // namespace meridian
