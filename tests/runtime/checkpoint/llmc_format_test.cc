#include "runtime/checkpoint/llmc_format.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "runtime/model/parameter_layout.h"
#include "tests/runtime/checkpoint/test_util.h"

namespace meridian {
namespace {

using testing_util::FreshTempDir;
using testing_util::RandomFloats;
using testing_util::ReadBytes;
using testing_util::TinyConfig;
using testing_util::WriteBytes;

// Builds an llm.c file by hand, independently of the writer under test.
std::string HandMadeFile(const std::vector<int32_t>& header_fields, const std::vector<float>& params) {
  std::vector<int32_t> header(kLlmcHeaderInts, 0);
  for (size_t i = 0; i < header_fields.size(); ++i) header[i] = header_fields[i];
  std::string bytes(reinterpret_cast<const char*>(header.data()), kLlmcHeaderBytes);
  bytes.append(reinterpret_cast<const char*>(params.data()), params.size() * sizeof(float));
  return bytes;
}

// A valid v3 file of the tiny config written by the code under test.
std::string WriteTinyCheckpoint(const std::string& dir, std::vector<float>* params_out = nullptr) {
  const GPTConfig config = TinyConfig();
  std::vector<float> params = RandomFloats(NumParameters(config), 7);
  const std::string path = dir + "/model.bin";
  EXPECT_TRUE(WriteLlmcCheckpoint(path, config, params.data()).ok());
  if (params_out) *params_out = params;
  return path;
}

void ExpectErrorNaming(const Status& s, Status::Code code, const std::string& path,
                       const std::string& what) {
  EXPECT_EQ(s.code(), code) << s.ToString();
  EXPECT_NE(s.message().find(path), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find(what), std::string::npos) << s.ToString();
}

TEST(LlmcFormat, WrittenVersion3CheckpointReadsBackBitExactly) {
  const std::string dir = FreshTempDir();
  std::vector<float> params;
  const std::string path = WriteTinyCheckpoint(dir, &params);
  params[3] = std::numeric_limits<float>::quiet_NaN();  // NaN/Inf load unscanned
  params[4] = -std::numeric_limits<float>::infinity();
  ASSERT_TRUE(WriteLlmcCheckpoint(path, TinyConfig(), params.data()).ok());

  Result<LlmcModel> model = ReadLlmcCheckpoint(path);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  const GPTConfig& c = model->config;
  EXPECT_EQ(c.max_seq_len, 16);
  EXPECT_EQ(c.vocab_size, 50);
  EXPECT_EQ(c.padded_vocab_size, 64);
  EXPECT_EQ(c.n_layer, 2);
  EXPECT_EQ(c.n_head, 2);
  EXPECT_EQ(c.n_embd, 8);
  ASSERT_EQ(model->params.size(), params.size());
  EXPECT_EQ(std::memcmp(model->params.data(), params.data(), params.size() * sizeof(float)), 0);
}

TEST(LlmcFormat, WrittenFileHasTheLlmcHeaderAndExactSize) {
  const std::string dir = FreshTempDir();
  const std::string bytes = ReadBytes(WriteTinyCheckpoint(dir));
  ASSERT_EQ(bytes.size(), kLlmcHeaderBytes + NumParameters(TinyConfig()) * sizeof(float));
  int32_t header[8];
  std::memcpy(header, bytes.data(), sizeof(header));
  EXPECT_EQ(header[0], 20240326);
  EXPECT_EQ(header[1], 3);
  EXPECT_EQ(header[2], 16);
  EXPECT_EQ(header[3], 50);
  EXPECT_EQ(header[4], 2);
  EXPECT_EQ(header[5], 2);
  EXPECT_EQ(header[6], 8);
  EXPECT_EQ(header[7], 64);
}

TEST(LlmcFormat, WriteLeavesNoTemporaryFileBehind) {
  const std::string dir = FreshTempDir();
  WriteTinyCheckpoint(dir);
  WriteTinyCheckpoint(dir);  // overwriting goes through the same tmp + rename
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    EXPECT_EQ(e.path().filename(), "model.bin");
    ++entries;
  }
  EXPECT_EQ(entries, 1);
}

TEST(LlmcFormat, Version1FileReadsWithPaddedVocabEqualToVocab) {
  const std::string dir = FreshTempDir();
  GPTConfig c = TinyConfig();
  c.padded_vocab_size = c.vocab_size;  // what version 1 implies
  const std::vector<float> params = RandomFloats(NumParameters(c), 11);
  const std::string path = dir + "/v1.bin";
  WriteBytes(path, HandMadeFile({20240326, 1, 16, 50, 2, 2, 8}, params));

  Result<LlmcModel> model = ReadLlmcCheckpoint(path);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ(model->config.vocab_size, 50);
  EXPECT_EQ(model->config.padded_vocab_size, 50);
  ASSERT_EQ(model->params.size(), params.size());
  EXPECT_EQ(std::memcmp(model->params.data(), params.data(), params.size() * sizeof(float)), 0);
}

TEST(LlmcFormat, MissingFileIsNotFoundNamingTheFile) {
  const std::string path = FreshTempDir() + "/absent.bin";
  ExpectErrorNaming(ReadLlmcCheckpoint(path).status(), Status::Code::kNotFound, path, "");
}

TEST(LlmcFormat, BadMagicIsCorruptionNamingFoundAndExpectedNumbers) {
  const std::string path = FreshTempDir() + "/bad_magic.bin";
  WriteBytes(path, HandMadeFile({12345, 3, 16, 50, 2, 2, 8, 64}, {}));
  const Status s = ReadLlmcCheckpoint(path).status();
  ExpectErrorNaming(s, Status::Code::kCorruption, path, "12345");
  EXPECT_NE(s.message().find("20240326"), std::string::npos) << s.ToString();
}

TEST(LlmcFormat, TokenShardPassedAsCheckpointIsRecognisedInTheMessage) {
  const std::string path = FreshTempDir() + "/shard.bin";
  WriteBytes(path, HandMadeFile({20240520, 1, 0}, {}));
  ExpectErrorNaming(ReadLlmcCheckpoint(path).status(), Status::Code::kCorruption, path,
                    "token shard");
}

TEST(LlmcFormat, UnsupportedVersionIsRefusedNamingTheVersion) {
  const std::string path = FreshTempDir() + "/v5.bin";
  WriteBytes(path, HandMadeFile({20240326, 5, 16, 50, 2, 2, 8, 64}, {}));
  ExpectErrorNaming(ReadLlmcCheckpoint(path).status(), Status::Code::kCorruption, path,
                    "version 5");
}

TEST(LlmcFormat, TruncatedFileStatesExpectedAndFoundBytes) {
  const std::string dir = FreshTempDir();
  const std::string path = WriteTinyCheckpoint(dir);
  std::string bytes = ReadBytes(path);
  const size_t full = bytes.size();
  bytes.resize(full - 10);
  WriteBytes(path, bytes);
  const Status s = ReadLlmcCheckpoint(path).status();
  ExpectErrorNaming(s, Status::Code::kCorruption, path, "truncated");
  EXPECT_NE(s.message().find("expected " + std::to_string(full) + " bytes"), std::string::npos)
      << s.ToString();
  EXPECT_NE(s.message().find("found " + std::to_string(full - 10)), std::string::npos)
      << s.ToString();
}

TEST(LlmcFormat, FileShorterThanTheHeaderIsTruncated) {
  const std::string path = FreshTempDir() + "/short.bin";
  WriteBytes(path, std::string(100, '\0'));
  ExpectErrorNaming(ReadLlmcCheckpoint(path).status(), Status::Code::kCorruption, path,
                    "found 100");
}

TEST(LlmcFormat, TrailingBytesAreRefused) {
  const std::string dir = FreshTempDir();
  const std::string path = WriteTinyCheckpoint(dir);
  WriteBytes(path, ReadBytes(path) + "junk");
  ExpectErrorNaming(ReadLlmcCheckpoint(path).status(), Status::Code::kCorruption, path,
                    "4 trailing bytes");
}

TEST(LlmcFormat, HeaderFieldThatFailsValidationIsNamed) {
  const std::string path = FreshTempDir() + "/bad_heads.bin";
  // n_embd 8 is not divisible by n_head 3.
  WriteBytes(path, HandMadeFile({20240326, 3, 16, 50, 2, 3, 8, 64}, {}));
  ExpectErrorNaming(ReadLlmcCheckpoint(path).status(), Status::Code::kCorruption, path, "n_embd");
}

TEST(LlmcFormat, PaddedVocabBelowVocabIsRefused) {
  const std::string path = FreshTempDir() + "/bad_vp.bin";
  WriteBytes(path, HandMadeFile({20240326, 3, 16, 50, 2, 2, 8, 40}, {}));
  ExpectErrorNaming(ReadLlmcCheckpoint(path).status(), Status::Code::kCorruption, path,
                    "padded_vocab_size");
}

TEST(LlmcFormat, HugeHeaderDimensionsAreRefusedWithoutAllocating) {
  const std::string path = FreshTempDir() + "/huge.bin";
  // 2^31-1 layers of width 2^30: the byte count overflows 64 bits.
  WriteBytes(path, HandMadeFile({20240326, 3, 16, 50, 2147483647, 1, 1 << 30, 64}, {}));
  ExpectErrorNaming(ReadLlmcCheckpoint(path).status(), Status::Code::kCorruption, path,
                    "impossibly large");
}

TEST(LlmcFormat, WriteRefusesAnInvalidConfig) {
  const std::string path = FreshTempDir() + "/x.bin";
  GPTConfig c = TinyConfig();
  c.n_head = 3;
  const std::vector<float> params(1000);
  const Status s = WriteLlmcCheckpoint(path, c, params.data());
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(LlmcFormat, WriteIntoAMissingDirectoryIsAnIOErrorNamingTheFile) {
  const std::string path = FreshTempDir() + "/no/such/dir/model.bin";
  const std::vector<float> params(NumParameters(TinyConfig()));
  ExpectErrorNaming(WriteLlmcCheckpoint(path, TinyConfig(), params.data()),
                    Status::Code::kIOError, path, "");
}

}  // namespace
}  // namespace meridian
