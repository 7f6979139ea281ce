// Byte-level tokenizer: one token per byte, vocabulary of 256.
//
// The smallest tokenizer that can represent any text exactly; the tiny
// models used in tests and the CPU demo train on it. The static functions
// need no object; an object is the same tokenizer behind the Tokenizer
// interface (MakeTokenizer("bytes")).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/data/tokenizer.h"

namespace meridian {

class ByteTokenizer : public Tokenizer {
 public:
  static constexpr int kVocabSize = 256;
  // What Decode writes for a token outside [0, kVocabSize).
  static constexpr char kUnknownByte = '?';

  // One token per byte: token = (unsigned char) byte. Decode(Encode(s)) == s.
  static std::vector<uint32_t> Encode(std::string_view text);

  // Inverse of Encode; never fails: tokens >= kVocabSize become kUnknownByte.
  static std::string Decode(const uint32_t* tokens, size_t n);
  static std::string Decode(const std::vector<uint32_t>& tokens) {
    return Decode(tokens.data(), tokens.size());
  }

  // The Tokenizer interface; no end-of-text token (all 256 ids are bytes).
  std::string_view name() const override { return "bytes"; }
  int vocab_size() const override { return kVocabSize; }
  std::optional<uint32_t> eot() const override { return std::nullopt; }

 private:
  void EncodeImpl(std::string_view text, std::vector<uint32_t>* tokens) const override;
  std::string DecodeImpl(const uint32_t* tokens, size_t n) const override {
    return Decode(tokens, n);
  }
};

}  // namespace meridian
