// Byte-level tokenizer: one token per byte, vocabulary of 256.
//
// The smallest tokenizer that can represent any text exactly; the tiny
// models used in tests and the CPU demo train on it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace meridian {

class ByteTokenizer {
 public:
  static constexpr int kVocabSize = 256;
  // What Decode writes for a token outside [0, kVocabSize).
  static constexpr char kUnknownByte = '?';

  // One token per byte: token = (unsigned char) byte. Decode(Encode(s)) == s.
  static std::vector<uint16_t> Encode(std::string_view text);

  // Inverse of Encode; never fails: tokens >= kVocabSize become kUnknownByte.
  static std::string Decode(const uint16_t* tokens, size_t n);
  static std::string Decode(const std::vector<uint16_t>& tokens) {
    return Decode(tokens.data(), tokens.size());
  }
};

}  // namespace meridian
