#include "runtime/parallel/compression.h"

#include <algorithm>
#include <cmath>
#include <cstring>

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

Result<Compression> ParseCompression(const std::string& name) {
  if (name == "none") return Compression::kNone;
  if (name == "fp16") return Compression::kFp16;
  if (name == "int8") return Compression::kInt8;
  return Status::InvalidArgument("--outer-compress = " + name + ": expected none, fp16 or int8");
}

const char* CompressionName(Compression c) {
  switch (c) {
    case Compression::kNone: return "none";
    case Compression::kFp16: return "fp16";
    case Compression::kInt8: return "int8";
  }
  return "?";
}

size_t CompressedBytes(Compression c, size_t n) {
  switch (c) {
    case Compression::kNone: return n * 4;
    case Compression::kFp16: return n * 2;
    case Compression::kInt8: return n + 4 * ((n + kInt8Chunk - 1) / kInt8Chunk);
  }
  return 0;
}

void Compress(Compression c, const float* x, size_t n, float* error, uint8_t* out) {
  if (c == Compression::kNone) {
    std::memcpy(out, x, n * 4);
    return;
  }
  if (c == Compression::kFp16) {
    for (size_t i = 0; i < n; ++i) {
      const uint16_t h = FloatToHalf(x[i]);
      std::memcpy(out + 2 * i, &h, 2);
    }
    return;
  }
  // int8: scales first (one float per chunk), then the codes.
  const size_t chunks = (n + kInt8Chunk - 1) / kInt8Chunk;
  float* scales = reinterpret_cast<float*>(out);
  int8_t* codes = reinterpret_cast<int8_t*>(out + 4 * chunks);
  for (size_t k = 0; k < chunks; ++k) {
    const size_t lo = k * kInt8Chunk, hi = std::min(n, lo + kInt8Chunk);
    float maxabs = 0.0f;
    for (size_t i = lo; i < hi; ++i) maxabs = std::max(maxabs, std::fabs(x[i] + (error ? error[i] : 0.0f)));
    const float scale = maxabs > 0 ? maxabs / 127.0f : 1.0f;
    std::memcpy(&scales[k], &scale, 4);
    for (size_t i = lo; i < hi; ++i) {
      const float v = x[i] + (error ? error[i] : 0.0f);
      const int q = (int)std::lrint(std::clamp(v / scale, -127.0f, 127.0f));
      codes[i] = (int8_t)q;
      if (error) error[i] = v - q * scale;
    }
  }
}

void DecompressAdd(Compression c, const uint8_t* payload, size_t n, float weight, float* acc) {
  if (c == Compression::kNone) {
    for (size_t i = 0; i < n; ++i) {
      float v;
      std::memcpy(&v, payload + 4 * i, 4);
      acc[i] += weight * v;
    }
    return;
  }
  if (c == Compression::kFp16) {
    for (size_t i = 0; i < n; ++i) {
      uint16_t h;
      std::memcpy(&h, payload + 2 * i, 2);
      acc[i] += weight * HalfToFloat(h);
    }
    return;
  }
  const size_t chunks = (n + kInt8Chunk - 1) / kInt8Chunk;
  const int8_t* codes = reinterpret_cast<const int8_t*>(payload + 4 * chunks);
  for (size_t k = 0; k < chunks; ++k) {
    float scale;
    std::memcpy(&scale, payload + 4 * k, 4);
    const size_t lo = k * kInt8Chunk, hi = std::min(n, lo + kInt8Chunk);
    for (size_t i = lo; i < hi; ++i) acc[i] += weight * scale * codes[i];
  }
}

}  // namespace meridian
