#include "runtime/data/byte_tokenizer.h"

namespace meridian {

std::vector<uint32_t> ByteTokenizer::Encode(std::string_view text) {
  std::vector<uint32_t> tokens(text.size());
  for (size_t i = 0; i < text.size(); ++i) tokens[i] = static_cast<unsigned char>(text[i]);
  return tokens;
}

std::string ByteTokenizer::Decode(const uint32_t* tokens, size_t n) {
  std::string text(n, kUnknownByte);
  for (size_t i = 0; i < n; ++i) {
    if (tokens[i] < kVocabSize) text[i] = static_cast<char>(static_cast<unsigned char>(tokens[i]));
  }
  return text;
}

void ByteTokenizer::EncodeImpl(std::string_view text, std::vector<uint32_t>* tokens) const {
  const size_t old = tokens->size();
  tokens->resize(old + text.size());
  for (size_t i = 0; i < text.size(); ++i) (*tokens)[old + i] = static_cast<unsigned char>(text[i]);
}

}  // namespace meridian
