#include "runtime/data/token_shard.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "tests/runtime/data/temp_dir.h"

namespace meridian {
namespace {

// Raw shard bytes with any header values, for forging damaged files.
// token_bytes: 2 for version 1's uint16 tokens, 4 for version 2's uint32.
std::string ShardBytes(int32_t magic, int32_t version, int32_t count, size_t payload_tokens,
                       size_t token_bytes = 2) {
  std::string bytes(kTokenShardHeaderBytes + token_bytes * payload_tokens, '\0');
  const int32_t fields[3] = {magic, version, count};
  for (int f = 0; f < 3; ++f) {
    for (int b = 0; b < 4; ++b) {
      bytes[4 * f + b] = static_cast<char>((static_cast<uint32_t>(fields[f]) >> (8 * b)) & 0xff);
    }
  }
  return bytes;
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST(TokenShard, RoundTripsTokens) {
  ScopedTempDir dir;
  std::mt19937 rng(42);
  std::vector<uint16_t> tokens(10'000);
  for (auto& t : tokens) t = static_cast<uint16_t>(rng());
  tokens[0] = 0;
  tokens[1] = 65535;
  const std::string path = dir.File("train_000.bin");
  ASSERT_TRUE(WriteTokenShard(path, tokens).ok());
  Result<std::vector<uint32_t>> back = ReadTokenShard(path);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, std::vector<uint32_t>(tokens.begin(), tokens.end()));
  EXPECT_EQ(ReadTokenShardHeader(path)->version, kTokenShardVersionU16);
}

TEST(TokenShard, RoundTripsVersion2TokensPast16Bits) {
  ScopedTempDir dir;
  std::mt19937 rng(7);
  std::vector<uint32_t> tokens(10'000);
  for (auto& t : tokens) t = static_cast<uint32_t>(rng() % 128256);
  tokens[0] = 0;
  tokens[1] = 65536;
  tokens[2] = 128255;
  tokens[3] = 0xFFFFFFFFu;
  const std::string path = dir.File("train_000.bin");
  ASSERT_TRUE(WriteTokenShard(path, tokens, kTokenShardVersionU32).ok());
  Result<TokenShardHeader> h = ReadTokenShardHeader(path);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->version, 2);
  EXPECT_EQ(h->token_bytes, 4u);
  EXPECT_EQ(h->num_tokens, tokens.size());
  EXPECT_EQ(h->file_bytes, 1024 + 4 * tokens.size());
  Result<std::vector<uint32_t>> back = ReadTokenShard(path);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, tokens);
}

TEST(TokenShard, Version1WithUint32TokensRoundTripsWhatFits) {
  ScopedTempDir dir;
  const std::string path = dir.File("a.bin");
  const std::vector<uint32_t> tokens = {0, 1, 50256, 65535};
  ASSERT_TRUE(WriteTokenShard(path, tokens, kTokenShardVersionU16).ok());
  EXPECT_EQ(ReadFile(path).size(), 1024u + 2 * tokens.size());
  Result<std::vector<uint32_t>> back = ReadTokenShard(path);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, tokens);
}

TEST(TokenShard, Version1RefusesAnIdPast16BitsNamingPositionAndId) {
  ScopedTempDir dir;
  const std::string path = dir.File("a.bin");
  Status s = WriteTokenShard(path, {1, 2, 65536}, kTokenShardVersionU16);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(s.message(), path + ": token 65536 at position 2 does not fit a version 1 (uint16) shard");
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  EXPECT_EQ(WriteTokenShard(path, {1}, 3).code(), Status::Code::kInvalidArgument);
}

TEST(TokenShard, VersionFollowsTheVocabularyNotTheIds) {
  EXPECT_EQ(TokenShardVersionFor(256), 1);
  EXPECT_EQ(TokenShardVersionFor(50257), 1);
  EXPECT_EQ(TokenShardVersionFor(65536), 1);
  EXPECT_EQ(TokenShardVersionFor(65537), 2);
  EXPECT_EQ(TokenShardVersionFor(128256), 2);
}

TEST(TokenShard, WritesTheLittleEndianVersion2Layout) {
  ScopedTempDir dir;
  const std::string path = dir.File("a.bin");
  ASSERT_TRUE(WriteTokenShard(path, {0x01020304, 128000}, kTokenShardVersionU32).ok());
  std::string expected = ShardBytes(20240520, 2, 2, 2, 4);
  const unsigned char payload[8] = {0x04, 0x03, 0x02, 0x01, 0x00, 0xF4, 0x01, 0x00};  // 128000 = 0x1F400
  for (int i = 0; i < 8; ++i) expected[1024 + i] = static_cast<char>(payload[i]);
  EXPECT_EQ(ReadFile(path), expected);
}

TEST(TokenShard, RoundTripsAnEmptyShard) {
  ScopedTempDir dir;
  const std::string path = dir.File("empty.bin");
  ASSERT_TRUE(WriteTokenShard(path, {}).ok());
  Result<std::vector<uint32_t>> back = ReadTokenShard(path);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(back->empty());
}

TEST(TokenShard, WritesTheLittleEndianLlmcLayout) {
  ScopedTempDir dir;
  const std::string path = dir.File("a.bin");
  ASSERT_TRUE(WriteTokenShard(path, {0x0102, 0xfffe}).ok());
  std::string expected = ShardBytes(20240520, 1, 2, 2);
  expected[1024] = 0x02;
  expected[1025] = 0x01;
  expected[1026] = static_cast<char>(0xfe);
  expected[1027] = static_cast<char>(0xff);
  EXPECT_EQ(ReadFile(path), expected);

  Result<TokenShardHeader> h = ReadTokenShardHeader(path);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->magic, kTokenShardMagic);
  EXPECT_EQ(h->version, kTokenShardVersionU16);
  EXPECT_EQ(h->token_bytes, 2u);
  EXPECT_EQ(h->num_tokens, 2u);
  EXPECT_EQ(h->file_bytes, 1028u);
}

TEST(TokenShard, LeavesNoTempFileAndReplacesAnOldShard) {
  ScopedTempDir dir;
  const std::string path = dir.File("a.bin");
  ASSERT_TRUE(WriteTokenShard(path, {1, 2, 3}).ok());
  ASSERT_TRUE(WriteTokenShard(path, {7}).ok());
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  Result<std::vector<uint32_t>> back = ReadTokenShard(path);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, std::vector<uint32_t>{7});
}

TEST(TokenShard, WriteIntoMissingFolderIsAnIOErrorNamingTheFile) {
  ScopedTempDir dir;
  const std::string path = dir.File("no/such/dir/a.bin");
  Status s = WriteTokenShard(path, {1});
  EXPECT_EQ(s.code(), Status::Code::kIOError);
  EXPECT_NE(s.message().find(path), std::string::npos) << s.message();
}

TEST(TokenShard, RefusesMissingFile) {
  ScopedTempDir dir;
  const std::string path = dir.File("nope.bin");
  Result<std::vector<uint32_t>> r = ReadTokenShard(path);
  EXPECT_EQ(r.status().code(), Status::Code::kNotFound);
  EXPECT_EQ(r.status().message(), path + ": no such file");
}

TEST(TokenShard, RefusesADirectory) {
  ScopedTempDir dir;
  Result<std::vector<uint32_t>> r = ReadTokenShard(dir.path());
  EXPECT_EQ(r.status().code(), Status::Code::kIOError);
  EXPECT_NE(r.status().message().find(dir.path()), std::string::npos) << r.status().message();
}

TEST(TokenShard, RefusesFileShorterThanHeader) {
  ScopedTempDir dir;
  const std::string path = dir.File("short.bin");
  WriteFile(path, ShardBytes(20240520, 1, 0, 0).substr(0, 100));
  Result<std::vector<uint32_t>> r = ReadTokenShard(path);
  EXPECT_EQ(r.status().code(), Status::Code::kCorruption);
  EXPECT_EQ(r.status().message(), path + ": file holds 100 bytes, shorter than the 1024-byte header");
}

TEST(TokenShard, RefusesBadMagic) {
  ScopedTempDir dir;
  const std::string path = dir.File("model.bin");
  WriteFile(path, ShardBytes(20240326, 1, 4, 4));  // a checkpoint's magic
  Result<std::vector<uint32_t>> r = ReadTokenShard(path);
  EXPECT_EQ(r.status().code(), Status::Code::kCorruption);
  EXPECT_EQ(r.status().message(),
            path + ": bad magic 20240326 (expected 20240520), not a token shard");
}

TEST(TokenShard, RefusesUnknownVersionNamingTheField) {
  ScopedTempDir dir;
  for (int32_t version : {0, 3, -1}) {
    const std::string path = dir.File("v" + std::to_string(version) + ".bin");
    WriteFile(path, ShardBytes(20240520, version, 4, 4, 4));
    Result<std::vector<uint32_t>> r = ReadTokenShard(path);
    EXPECT_EQ(r.status().code(), Status::Code::kCorruption);
    EXPECT_EQ(r.status().message(), path + ": header field 1 (version) is " + std::to_string(version) +
                                        ", expected 1 (uint16 tokens) or 2 (uint32 tokens)");
    EXPECT_EQ(ReadTokenShardHeader(path).status().code(), Status::Code::kCorruption);
  }
}

TEST(TokenShard, ReadsTheSizeByTheVersionsTokenWidth) {
  ScopedTempDir dir;
  // Four tokens of version 1 are 8 bytes: as version 2 they are 2 tokens.
  const std::string path = dir.File("a.bin");
  WriteFile(path, ShardBytes(20240520, 2, 4, 4, 2));
  Result<TokenShardHeader> r = ReadTokenShardHeader(path);
  EXPECT_EQ(r.status().code(), Status::Code::kCorruption);
  EXPECT_EQ(r.status().message(),
            path + ": header says 4 tokens but file holds 2 (version 2, 4 bytes per token)");
  WriteFile(path, ShardBytes(20240520, 2, 3, 3, 4) + "xy");
  EXPECT_EQ(ReadTokenShardHeader(path).status().message(),
            path + ": header says 3 tokens but file holds 3 and 2 stray byte(s) (version 2, 4 bytes "
                   "per token)");
}

TEST(TokenShard, RefusesTruncatedFile) {
  ScopedTempDir dir;
  const std::string path = dir.File("train_000.bin");
  WriteFile(path, ShardBytes(20240520, 1, 1000, 812));
  Result<std::vector<uint32_t>> r = ReadTokenShard(path);
  EXPECT_EQ(r.status().code(), Status::Code::kCorruption);
  EXPECT_EQ(r.status().message(),
            path + ": header says 1000 tokens but file holds 812 (version 1, 2 bytes per token)");
}

TEST(TokenShard, RefusesTrailingBytes) {
  ScopedTempDir dir;
  const std::string path = dir.File("long.bin");
  WriteFile(path, ShardBytes(20240520, 1, 10, 12) + "x");
  Result<TokenShardHeader> r = ReadTokenShardHeader(path);
  EXPECT_EQ(r.status().code(), Status::Code::kCorruption);
  EXPECT_EQ(r.status().message(), path + ": header says 10 tokens but file holds 12 and 1 stray "
                                         "byte(s) (version 1, 2 bytes per token)");
}

TEST(TokenShard, RefusesNegativeCount) {
  ScopedTempDir dir;
  const std::string path = dir.File("neg.bin");
  WriteFile(path, ShardBytes(20240520, 1, -5, 0));
  Result<std::vector<uint32_t>> r = ReadTokenShard(path);
  EXPECT_EQ(r.status().code(), Status::Code::kCorruption);
  EXPECT_EQ(r.status().message(), path + ": header says -5 tokens (negative)");
}

TEST(ShardGlob, ExpandsInSortedOrder) {
  ScopedTempDir dir;
  for (const char* name : {"train_002.bin", "train_000.bin", "val_000.bin", "train_001.bin"}) {
    ASSERT_TRUE(WriteTokenShard(dir.File(name), {1}).ok());
  }
  Result<std::vector<std::string>> paths = ExpandShardGlob(dir.File("train_*.bin"));
  ASSERT_TRUE(paths.ok()) << paths.status().ToString();
  EXPECT_EQ(*paths, (std::vector<std::string>{dir.File("train_000.bin"), dir.File("train_001.bin"),
                                              dir.File("train_002.bin")}));
}

TEST(ShardGlob, ReportsPatternThatMatchesNothing) {
  ScopedTempDir dir;
  const std::string pattern = dir.File("train_*.bin");
  Result<std::vector<std::string>> paths = ExpandShardGlob(pattern);
  EXPECT_EQ(paths.status().code(), Status::Code::kNotFound);
  EXPECT_EQ(paths.status().message(), "no files match shard pattern '" + pattern + "'");
}

}  // namespace
}  // namespace meridian
