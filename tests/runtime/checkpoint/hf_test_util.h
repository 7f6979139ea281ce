// Helpers for the Hugging Face interchange tests: safetensors files taken
// apart, edited and put back, and files of any dtype written by hand.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/checkpoint/safetensors.h"
#include "tests/runtime/checkpoint/test_util.h"

namespace meridian::testing_util {

// A float32 tensor held by the test.
struct OwnedTensor {
  std::string name;
  std::vector<uint64_t> shape;
  std::vector<float> values;
};

// Every tensor of a safetensors file, in offset order, as float32.
inline std::vector<OwnedTensor> ReadAllTensors(const std::string& path) {
  Result<SafetensorsFile> f = SafetensorsFile::Open(path);
  EXPECT_TRUE(f.ok()) << f.status().ToString();
  std::vector<OwnedTensor> out;
  if (!f.ok()) return out;
  for (const SafetensorsTensorInfo& t : f->tensors()) out.push_back({t.name, t.shape, *f->ReadFloat32(t.name)});
  return out;
}

inline void WriteAllTensors(const std::string& path, const std::vector<OwnedTensor>& tensors) {
  std::vector<SafetensorsTensorView> views;
  for (const OwnedTensor& t : tensors) views.push_back({t.name, t.shape, t.values.data()});
  ASSERT_TRUE(WriteSafetensors(path, views, {{"format", "pt"}}).ok());
}

// A tensor of any dtype, as raw little-endian bytes.
struct RawTensor {
  std::string name;
  std::string dtype;
  std::vector<uint64_t> shape;
  std::string bytes;
};

// The bytes of a safetensors file holding `tensors` in the given order,
// written without Meridian's writer (which only writes F32).
inline std::string RawSafetensors(const std::vector<RawTensor>& tensors) {
  nlohmann::ordered_json header = {{"__metadata__", {{"format", "pt"}}}};
  std::string data;
  for (const RawTensor& t : tensors) {
    const size_t begin = data.size();
    data += t.bytes;
    header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {begin, data.size()}}};
  }
  const std::string text = header.dump();
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(uint64_t{text.size()} >> (8 * i));
  return out + text + data;
}

inline std::string Float32Bytes(const std::vector<float>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
}

inline std::string Uint16Bytes(const std::vector<uint16_t>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(uint16_t));
}

// The top 16 bits of a float32: bfloat16 by truncation.
inline uint16_t TruncateToBfloat16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return static_cast<uint16_t>(bits >> 16);
}

}  // namespace meridian::testing_util
