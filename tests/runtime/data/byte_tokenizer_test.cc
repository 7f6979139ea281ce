#include "runtime/data/byte_tokenizer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace meridian {
namespace {

TEST(ByteTokenizer, RoundTripsEveryByte) {
  std::string text;
  for (int b = 0; b < 256; ++b) text += static_cast<char>(b);
  text += "hello\n";
  const std::vector<uint32_t> tokens = ByteTokenizer::Encode(text);
  ASSERT_EQ(tokens.size(), text.size());
  for (int b = 0; b < 256; ++b) EXPECT_EQ(tokens[b], b);
  EXPECT_EQ(ByteTokenizer::Decode(tokens), text);
}

TEST(ByteTokenizer, EncodesTextAsItsBytes) {
  EXPECT_EQ(ByteTokenizer::Encode("Hi\n"), (std::vector<uint32_t>{72, 105, 10}));
  EXPECT_TRUE(ByteTokenizer::Encode("").empty());
}

TEST(ByteTokenizer, DecodesOutOfVocabTokensAsAPlaceholder) {
  EXPECT_EQ(ByteTokenizer::Decode({72, 256, 50256, 65535, 105}), "H???i");
}

}  // namespace
}  // namespace meridian
