#include "runtime/checkpoint/safetensors.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "tests/runtime/checkpoint/test_util.h"

namespace meridian {
namespace {

using testing_util::ExpectErrorNaming;
using testing_util::FreshTempDir;
using testing_util::ReadBytes;
using testing_util::WriteBytes;

// A safetensors file built by hand, independently of the writer under test.
std::string HandMadeFile(const std::string& header, const std::string& data) {
  std::string bytes(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(n >> (8 * i));
  return bytes + header + data;
}

std::string Bytes(const std::vector<uint16_t>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * 2);
}

std::string Bytes(const std::vector<float>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * 4);
}

class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override { path_ = FreshTempDir() + "/t.safetensors"; }

  Result<SafetensorsFile> OpenHandMade(const std::string& header, const std::string& data) {
    WriteBytes(path_, HandMadeFile(header, data));
    return SafetensorsFile::Open(path_);
  }

  // The header is refused with Corruption naming the file and `what`.
  void ExpectRefused(const std::string& header, const std::string& data, const std::string& what) {
    Result<SafetensorsFile> f = OpenHandMade(header, data);
    ASSERT_FALSE(f.ok()) << header;
    ExpectErrorNaming(f.status(), Status::Code::kCorruption, path_, what);
  }

  std::string path_;
};

TEST_F(SafetensorsTest, WrittenTensorsReadBackBitExactlyWithMetadata) {
  const std::vector<float> matrix = {1.5f, -2.0f, std::numeric_limits<float>::quiet_NaN(), 0.0f, -0.0f, 1e-40f};
  const float scalar = 42.0f;
  ASSERT_TRUE(WriteSafetensors(path_,
                               {{"m", {2, 3}, matrix.data()}, {"empty", {0, 3}, nullptr}, {"s", {}, &scalar}},
                               {{"format", "pt"}, {"note", "x"}})
                  .ok());
  Result<SafetensorsFile> f = SafetensorsFile::Open(path_);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ASSERT_EQ(f->tensors().size(), 3u);
  EXPECT_EQ(f->metadata(), (std::map<std::string, std::string>{{"format", "pt"}, {"note", "x"}}));
  const SafetensorsTensorInfo* m = f->Find("m");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->dtype, "F32");
  EXPECT_EQ(m->shape, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(m->num_elements, 6u);
  Result<std::vector<float>> values = f->ReadFloat32("m");
  ASSERT_TRUE(values.ok());
  EXPECT_EQ(std::memcmp(values->data(), matrix.data(), sizeof(float) * 6), 0);
  EXPECT_EQ(f->Find("empty")->num_elements, 0u);
  EXPECT_TRUE(f->ReadFloat32("empty")->empty());
  EXPECT_EQ(f->Find("s")->shape, std::vector<uint64_t>{});
  EXPECT_EQ(*f->ReadFloat32("s"), std::vector<float>{42.0f});
  EXPECT_EQ(f->Find("absent"), nullptr);
  EXPECT_EQ(f->ReadFloat32("absent").status().code(), Status::Code::kNotFound);
}

TEST_F(SafetensorsTest, WrittenHeaderIsPaddedSoTheDataIsAligned) {
  const std::vector<float> v = {1, 2, 3};
  ASSERT_TRUE(WriteSafetensors(path_, {{"abc", {3}, v.data()}}).ok());
  const std::string bytes = ReadBytes(path_);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  ASSERT_EQ(bytes.size(), 8 + n + 12);
  const std::string header = bytes.substr(8, n);
  EXPECT_EQ(header.front(), '{');
  EXPECT_EQ(header.substr(0, header.find_last_not_of(' ') + 1),
            R"({"abc":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}})");
  EXPECT_EQ(bytes.substr(8 + n), Bytes(v));
  EXPECT_EQ(bytes.find(".tmp-"), std::string::npos);
}

TEST_F(SafetensorsTest, Float16ConvertsExactly) {
  const std::vector<uint16_t> bits = {0x3C00, 0xC000, 0x3555, 0x7BFF, 0x0001, 0x03FF, 0x0400,
                                      0x8000, 0x7C00, 0xFC00, 0x7E00};
  const std::vector<float> expected = {1.0f, -2.0f, 0.333251953125f, 65504.0f, 5.9604644775390625e-08f,
                                       6.097555160522461e-05f, 6.103515625e-05f, -0.0f,
                                       std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()};
  Result<SafetensorsFile> f = OpenHandMade(R"({"h":{"dtype":"F16","shape":[11],"data_offsets":[0,22]}})", Bytes(bits));
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  Result<std::vector<float>> got = f->ReadFloat32("h");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 11u);
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(std::bit_cast<uint32_t>((*got)[i]), std::bit_cast<uint32_t>(expected[i])) << "element " << i;
  }
  EXPECT_TRUE(std::isnan((*got)[10]));
}

TEST_F(SafetensorsTest, Bfloat16ConvertsExactly) {
  const std::vector<uint16_t> bits = {0x3F80, 0xC040, 0x3EAB, 0x7F7F, 0x0001, 0x8000, 0x7F80, 0x7FC0};
  const std::vector<float> expected = {1.0f, -3.0f, 0.333984375f, 3.3895313892515355e38f, 9.183549615799121e-41f,
                                       -0.0f, std::numeric_limits<float>::infinity()};
  Result<SafetensorsFile> f =
      OpenHandMade(R"({"b":{"dtype":"BF16","shape":[2,4],"data_offsets":[0,16]}})", Bytes(bits));
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  Result<std::vector<float>> got = f->ReadFloat32("b");
  ASSERT_TRUE(got.ok());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(std::bit_cast<uint32_t>((*got)[i]), std::bit_cast<uint32_t>(expected[i])) << "element " << i;
  }
  EXPECT_TRUE(std::isnan((*got)[7]));
}

TEST_F(SafetensorsTest, MixedDtypesTileTheDataInOffsetOrder) {
  // JSON order differs from data order; an int64 buffer opens but does not convert.
  const std::string data = Bytes(std::vector<uint16_t>{0x3C00}) + std::string(6, '\0') + std::string(8, '\x01') +
                           Bytes(std::vector<float>{2.5f});
  Result<SafetensorsFile> f = OpenHandMade(
      R"({"z":{"dtype":"F32","shape":[1],"data_offsets":[16,20]},"__metadata__":{},)"
      R"("a":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},"pad":{"dtype":"U8","shape":[6],"data_offsets":[2,8]},)"
      R"("i":{"dtype":"I64","shape":[1],"data_offsets":[8,16]}})",
      data);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ASSERT_EQ(f->tensors().size(), 4u);
  EXPECT_EQ(f->tensors()[0].name, "a");
  EXPECT_EQ(f->tensors()[3].name, "z");
  EXPECT_EQ(*f->ReadFloat32("a"), std::vector<float>{1.0f});
  EXPECT_EQ(*f->ReadFloat32("z"), std::vector<float>{2.5f});
  ExpectErrorNaming(f->ReadFloat32("i").status(), Status::Code::kInvalidArgument, "'i'", "I64");
}

TEST_F(SafetensorsTest, ShortFileIsRefused) {
  WriteBytes(path_, "abc");
  Result<SafetensorsFile> f = SafetensorsFile::Open(path_);
  ExpectErrorNaming(f.status(), Status::Code::kCorruption, path_, "8-byte header length");
}

TEST_F(SafetensorsTest, MissingFileIsNotFound) {
  EXPECT_EQ(SafetensorsFile::Open(path_ + ".none").status().code(), Status::Code::kNotFound);
}

TEST_F(SafetensorsTest, HeaderLongerThanTheFileIsRefused) {
  std::string bytes = HandMadeFile("{}", "");
  bytes[0] = 100;  // claims 100 header bytes, 2 follow
  WriteBytes(path_, bytes);
  ExpectErrorNaming(SafetensorsFile::Open(path_).status(), Status::Code::kCorruption, path_,
                    "header length 100 runs past the end of the file");
  bytes[7] = '\x80';  // a length near 2^63
  WriteBytes(path_, bytes);
  ExpectErrorNaming(SafetensorsFile::Open(path_).status(), Status::Code::kCorruption, path_, "runs past the end");
}

TEST_F(SafetensorsTest, HeaderLongerThanTheCapIsRefusedBeforeReading) {
  // A sparse file big enough to hold the claimed header costs no disk.
  const uint64_t claimed = kSafetensorsMaxHeaderBytes + 8;
  WriteBytes(path_, HandMadeFile("{}", ""));
  ASSERT_EQ(::truncate(path_.c_str(), static_cast<off_t>(claimed + 16)), 0);
  FILE* f = std::fopen(path_.c_str(), "r+b");
  ASSERT_NE(f, nullptr);
  for (int i = 0; i < 8; ++i) std::fputc(static_cast<int>((claimed >> (8 * i)) & 0xff), f);
  std::fclose(f);
  ExpectErrorNaming(SafetensorsFile::Open(path_).status(), Status::Code::kCorruption, path_, "exceeds the limit");
}

TEST_F(SafetensorsTest, MalformedHeadersAreRefused) {
  const std::string f32x2 = Bytes(std::vector<float>{1, 2});
  ExpectRefused("", "", "does not start with '{'");
  ExpectRefused("[1, 2]", "", "does not start with '{'");
  ExpectRefused(R"({"a": )", "", "not valid JSON");
  ExpectRefused(R"({"a": 1} x)", "", "not valid JSON");
  ExpectRefused(R"({"a":[[[[[[[[[[1]]]]]]]]]]})", "", "nests deeper");
  ExpectRefused(R"({"a": 5})", "", "tensor 'a': entry must be an object");
  ExpectRefused(R"({"a":{"shape":[2],"data_offsets":[0,8]}})", f32x2, "'dtype' must be a string");
  ExpectRefused(R"({"a":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}})", f32x2, "unknown dtype 'F33'");
  ExpectRefused(R"({"a":{"dtype":"F32","data_offsets":[0,8]}})", f32x2, "has no 'shape'");
  ExpectRefused(R"({"a":{"dtype":"F32","shape":2,"data_offsets":[0,8]}})", f32x2, "'shape' must be a list");
  ExpectRefused(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", f32x2, "non-negative integers");
  ExpectRefused(R"({"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", f32x2, "non-negative integers");
  ExpectRefused(R"({"a":{"dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,8]}})", f32x2,
                "non-negative integers below 2^64");
  ExpectRefused(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4,8]}})", f32x2, "must be [begin, end]");
  ExpectRefused(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", f32x2, "end before they begin");
  ExpectRefused(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})", f32x2,
                "run past the end of the data section (8 bytes)");
  ExpectRefused(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", f32x2, "needs 12");
  ExpectRefused(R"({"a":{"dtype":"F16","shape":[2],"data_offsets":[0,8]}})", f32x2, "needs 4");
  ExpectRefused(R"({"__metadata__":{"k":1}})", "", "'__metadata__' entry 'k' must be a string");
  ExpectRefused(R"({"__metadata__":[]})", "", "'__metadata__' must be an object");
}

TEST_F(SafetensorsTest, ShapesWhoseSizeOverflowsAreRefused) {
  // 2^32 * 2^32 elements wraps to 0, which would "match" empty offsets.
  ExpectRefused(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})", "",
                "more elements than fit in 64 bits");
  // 2^62 elements fit; 2^62 * 4 bytes wraps to 0.
  ExpectRefused(R"({"a":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]}})", "",
                "more bytes than fit in 64 bits");
  // A zero dimension makes the product 0 whatever else is there.
  Result<SafetensorsFile> ok =
      OpenHandMade(R"({"a":{"dtype":"F32","shape":[0,18446744073709551615],"data_offsets":[0,0]}})", "");
  EXPECT_TRUE(ok.ok()) << ok.status().ToString();
}

TEST_F(SafetensorsTest, OverlapsGapsAndTrailingBytesAreRefused) {
  const std::string f32x3 = Bytes(std::vector<float>{1, 2, 3});
  ExpectRefused(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],)"
                R"("data_offsets":[4,12]}})",
                f32x3, "overlap tensor 'a'");
  ExpectRefused(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],)"
                R"("data_offsets":[0,8]}})",
                f32x3, "overlap");
  ExpectRefused(R"({"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", f32x3, "leave bytes [0, 4)");
  ExpectRefused(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", f32x3,
                "bytes [8, 12) of the data section belong to no tensor");
  ExpectRefused(R"({})", f32x3, "bytes [0, 12)");
}

TEST_F(SafetensorsTest, WriterRefusesBadNamesAndMissingData) {
  const float x = 1;
  EXPECT_EQ(WriteSafetensors(path_, {{"a", {1}, &x}, {"a", {1}, &x}}).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(WriteSafetensors(path_, {{"__metadata__", {1}, &x}}).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(WriteSafetensors(path_, {{"", {1}, &x}}).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(WriteSafetensors(path_, {{"a", {2}, nullptr}}).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(WriteSafetensors(path_, {{"a", {uint64_t{1} << 62, 4}, &x}}).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(WriteSafetensors(path_, {{std::string("\xff\xfe"), {1}, &x}}).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(WriteSafetensors(FreshTempDir() + "/no/such/dir/t.safetensors", {{"a", {1}, &x}}).code(),
            Status::Code::kIOError);
}

}  // namespace
}  // namespace meridian
