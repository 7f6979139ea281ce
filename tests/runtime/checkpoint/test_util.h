// Helpers shared by the checkpoint tests.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "common/status.h"
#include "runtime/model/gpt_config.h"

namespace meridian::testing_util {

// A fresh, empty directory under ::testing::TempDir(), unique per test.
inline std::string FreshTempDir() {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) /
      ("meridian_ckpt_" + std::string(info->test_suite_name()) + "_" + info->name() + "_" +
       std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

// L2 H2 C8 V50 Vp64 maxT16: every tensor present, a few thousand floats.
inline GPTConfig TinyConfig() {
  GPTConfig c;
  c.max_seq_len = 16;
  c.vocab_size = 50;
  c.padded_vocab_size = 64;
  c.n_layer = 2;
  c.n_head = 2;
  c.n_embd = 8;
  return c;
}

inline std::vector<float> RandomFloats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 0.02f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

inline std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline bool BitEqual(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// `s` has code `code` and its message mentions both strings.
inline void ExpectErrorNaming(const Status& s, Status::Code code, const std::string& what1,
                              const std::string& what2 = "") {
  EXPECT_EQ(s.code(), code) << s.ToString();
  EXPECT_NE(s.message().find(what1), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find(what2), std::string::npos) << s.ToString();
}

}  // namespace meridian::testing_util
