#include "runtime/parallel/compression.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace meridian {

namespace {

// float <-> IEEE half, round to nearest even; overflow saturates to inf.
uint16_t FloatToHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  int32_t exp = (int32_t)((x >> 23) & 0xff) - 127 + 15;
  uint32_t mant = x & 0x7fffffu;
  if (((x >> 23) & 0xff) == 0xff) return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u : 0));  // inf / nan
  if (exp >= 31) return (uint16_t)(sign | 0x7c00u);
  if (exp <= 0) {
    if (exp < -10) return (uint16_t)sign;
    mant |= 0x800000u;
    const int shift = 14 - exp;
    uint32_t half = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1u))) ++half;
    return (uint16_t)(sign | half);
  }
  uint32_t half = sign | ((uint32_t)exp << 10) | (mant >> 13);
  const uint32_t rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (half & 1u))) ++half;  // may carry into the exponent: correct
  return (uint16_t)half;
}

float HalfToFloat(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ffu;
  uint32_t x;
  if (exp == 0) {
    if (mant == 0) {
      x = sign;
    } else {  // subnormal
      float f = std::ldexp((float)mant, -24);
      return sign ? -f : f;
    }
  } else if (exp == 31) {
    x = sign | 0x7f800000u | (mant << 13);
  } else {
    x = sign | ((exp - 15 + 127) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

}  // namespace

size_t CompressedBytes(Compression c, size_t n) {
  auto blocks = [n](size_t size) { return (n + size - 1) / size; };
  switch (c) {
    case Compression::kNone: return n * 4;
    case Compression::kFp16: return n * 2;
    case Compression::kInt8: return n + 4 * blocks(kInt8Chunk);
    case Compression::kInt4: return (n + 1) / 2 + 4 * blocks(kInt4Block);
    case Compression::kSparse: {
      // Per chunk: its scale, then an index and a 2-bit code per kept value
      // (a short last chunk keeps at most its length). Closed form: the
      // placement engine prices billions of values per candidate.
      auto chunk = [](size_t k) { return 4 + k + (2 * k + 7) / 8; };
      const size_t rest = n % kSparseChunk;
      return n / kSparseChunk * chunk(kSparseTopK) + (rest > 0 ? chunk(std::min(kSparseTopK, rest)) : 0);
    }
  }
  return 0;
}

namespace {

// Symmetric quantisation to `levels` steps either side of zero, per block:
// the scales first (one float per block), then the codes through `put`.
template <typename Put>
void QuantiseBlocks(const float* x, size_t n, float* error, size_t block, float levels, uint8_t* out, Put put) {
  const size_t blocks = (n + block - 1) / block;
  for (size_t k = 0; k < blocks; ++k) {
    const size_t lo = k * block, hi = std::min(n, lo + block);
    float maxabs = 0.0f;
    for (size_t i = lo; i < hi; ++i) maxabs = std::max(maxabs, std::fabs(x[i] + (error ? error[i] : 0.0f)));
    const float scale = maxabs > 0 ? maxabs / levels : 1.0f;
    std::memcpy(out + 4 * k, &scale, 4);
    for (size_t i = lo; i < hi; ++i) {
      const float v = x[i] + (error ? error[i] : 0.0f);
      const int q = (int)std::lrint(std::clamp(v / scale, -levels, levels));
      put(i, q);
      if (error) error[i] = v - q * scale;
    }
  }
}

float BlockScale(const uint8_t* payload, size_t i, size_t block) {
  float scale;
  std::memcpy(&scale, payload + 4 * (i / block), 4);
  return scale;
}

// SparseLoCo's 2-bit levels, in units of the chunk's scale.
constexpr float kSparseLevels[4] = {-1.0f, -1.0f / 3, 1.0f / 3, 1.0f};

int SparseCode(float v, float scale) {
  const float t = v / scale;  // in [-1, 1]
  return t < -2.0f / 3 ? 0 : t < 0 ? 1 : t < 2.0f / 3 ? 2 : 3;
}

void CompressSparse(const float* x, size_t n, float* error, uint8_t* out) {
  std::vector<float> v(kSparseChunk);
  std::vector<uint8_t> order(kSparseChunk);
  for (size_t lo = 0; lo < n; lo += kSparseChunk) {
    const size_t len = std::min(kSparseChunk, n - lo), k = std::min(kSparseTopK, len);
    for (size_t j = 0; j < len; ++j) v[j] = x[lo + j] + (error ? error[lo + j] : 0.0f);
    for (size_t j = 0; j < len; ++j) order[j] = (uint8_t)j;
    // The k largest magnitudes; ties go to the lower index, so every rank
    // picks alike.
    std::partial_sort(order.begin(), order.begin() + k, order.begin() + len, [&](uint8_t a, uint8_t b) {
      const float fa = std::fabs(v[a]), fb = std::fabs(v[b]);
      return fa > fb || (fa == fb && a < b);
    });
    std::sort(order.begin(), order.begin() + k);  // indices ascending: the decoder needs no order
    float scale = 0.0f;
    for (size_t j = 0; j < k; ++j) scale = std::max(scale, std::fabs(v[order[j]]));
    if (scale == 0.0f) scale = 1.0f;
    std::memcpy(out, &scale, 4);
    uint8_t* indices = out + 4;
    uint8_t* codes = indices + k;
    std::memset(codes, 0, (2 * k + 7) / 8);
    if (error)
      for (size_t j = 0; j < len; ++j) error[lo + j] = v[j];  // all of it stays behind, less what is sent
    for (size_t j = 0; j < k; ++j) {
      const int code = SparseCode(v[order[j]], scale);
      indices[j] = order[j];
      codes[j / 4] |= (uint8_t)(code << (2 * (j % 4)));
      if (error) error[lo + order[j]] -= kSparseLevels[code] * scale;
    }
    out = codes + (2 * k + 7) / 8;
  }
}

void DecompressAddSparse(const uint8_t* in, size_t n, float weight, float* acc) {
  for (size_t lo = 0; lo < n; lo += kSparseChunk) {
    const size_t k = std::min(kSparseTopK, n - lo);
    float scale;
    std::memcpy(&scale, in, 4);
    const uint8_t* indices = in + 4;
    const uint8_t* codes = indices + k;
    for (size_t j = 0; j < k; ++j) {
      const int code = (codes[j / 4] >> (2 * (j % 4))) & 3;
      acc[lo + indices[j]] += weight * kSparseLevels[code] * scale;
    }
    in = codes + (2 * k + 7) / 8;
  }
}

}  // namespace

void Compress(Compression c, const float* x, size_t n, float* error, uint8_t* out) {
  switch (c) {
    case Compression::kNone:
      std::memcpy(out, x, n * 4);
      return;
    case Compression::kFp16:
      for (size_t i = 0; i < n; ++i) {
        const uint16_t h = FloatToHalf(x[i]);
        std::memcpy(out + 2 * i, &h, 2);
      }
      return;
    case Compression::kInt8: {
      int8_t* codes = reinterpret_cast<int8_t*>(out + 4 * ((n + kInt8Chunk - 1) / kInt8Chunk));
      QuantiseBlocks(x, n, error, kInt8Chunk, 127.0f, out, [codes](size_t i, int q) { codes[i] = (int8_t)q; });
      return;
    }
    case Compression::kInt4: {
      // Two codes a byte, low nibble first, stored as q + 8 in [1, 15].
      uint8_t* codes = out + 4 * ((n + kInt4Block - 1) / kInt4Block);
      std::memset(codes, 0, (n + 1) / 2);
      QuantiseBlocks(x, n, error, kInt4Block, 7.0f, out,
                     [codes](size_t i, int q) { codes[i / 2] |= (uint8_t)((q + 8) << (4 * (i % 2))); });
      return;
    }
    case Compression::kSparse:
      CompressSparse(x, n, error, out);
      return;
  }
}

void DecompressAdd(Compression c, const uint8_t* payload, size_t n, float weight, float* acc) {
  switch (c) {
    case Compression::kNone:
      for (size_t i = 0; i < n; ++i) {
        float v;
        std::memcpy(&v, payload + 4 * i, 4);
        acc[i] += weight * v;
      }
      return;
    case Compression::kFp16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, payload + 2 * i, 2);
        acc[i] += weight * HalfToFloat(h);
      }
      return;
    case Compression::kInt8: {
      const int8_t* codes = reinterpret_cast<const int8_t*>(payload + 4 * ((n + kInt8Chunk - 1) / kInt8Chunk));
      for (size_t i = 0; i < n; ++i) acc[i] += weight * BlockScale(payload, i, kInt8Chunk) * codes[i];
      return;
    }
    case Compression::kInt4: {
      const uint8_t* codes = payload + 4 * ((n + kInt4Block - 1) / kInt4Block);
      for (size_t i = 0; i < n; ++i) {
        const int q = ((codes[i / 2] >> (4 * (i % 2))) & 0xf) - 8;
        acc[i] += weight * BlockScale(payload, i, kInt4Block) * q;
      }
      return;
    }
    case Compression::kSparse:
      DecompressAddSparse(payload, n, weight, acc);
      return;
  }
}

}  // namespace meridian
