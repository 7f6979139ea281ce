#include "runtime/train/tensorboard_writer.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <gtest/gtest.h>

#include "tensorboard/event.pb.h"

namespace meridian {
namespace {

TEST(Crc32cTest, KnownValues) {
  // The check value of CRC-32C (RFC 3720 appendix B.4 lists the same
  // polynomial), and 32 zero bytes from RFC 3720's test vectors.
  EXPECT_EQ(Crc32c("123456789", 9), 0xe3069283u);
  const std::string zeros(32, '\0');
  EXPECT_EQ(Crc32c(zeros.data(), zeros.size()), 0x8a9136aau);
  EXPECT_EQ(Crc32c("", 0), 0u);
}

uint64_t Le64(const std::string& s, size_t at) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  return v;
}
uint32_t Le32(const std::string& s, size_t at) { return static_cast<uint32_t>(Le64(s + std::string(4, '\0'), at)); }

TEST(TensorBoardWriterTest, RecordsAreFramedAndParse) {
  const std::string dir = ::testing::TempDir() + "/tensorboard_writer_test";
  std::filesystem::remove_all(dir);
  std::string path;
  {
    TensorBoardWriter writer;
    ASSERT_TRUE(writer.Open(dir).ok());
    path = writer.path();
    EXPECT_NE(path.find("/events.out.tfevents."), std::string::npos) << path;
    ASSERT_TRUE(writer.WriteScalars(7, 1.5e9, {{"train/loss", 2.5f}, {"eval/loss", 3.0f}}).ok());
  }
  std::ifstream in(path, std::ios::binary);
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t at = 0;
  std::vector<tensorboard::Event> events;
  while (at < data.size()) {
    ASSERT_LE(at + 12, data.size());
    const uint64_t length = Le64(data, at);
    EXPECT_EQ(Le32(data, at + 8), MaskedCrc32c(data.data() + at, 8));
    ASSERT_LE(at + 16 + length, data.size());
    const std::string payload = data.substr(at + 12, length);
    EXPECT_EQ(Le32(data, at + 12 + length), MaskedCrc32c(payload.data(), payload.size()));
    ASSERT_TRUE(events.emplace_back().ParseFromString(payload));
    at += 16 + length;
  }
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].file_version(), "brain.Event:2");
  EXPECT_EQ(events[1].step(), 7);
  EXPECT_EQ(events[1].wall_time(), 1.5e9);
  ASSERT_EQ(events[1].summary().value_size(), 2);
  EXPECT_EQ(events[1].summary().value(0).tag(), "train/loss");
  EXPECT_EQ(events[1].summary().value(0).simple_value(), 2.5f);
  EXPECT_EQ(events[1].summary().value(1).tag(), "eval/loss");
}

TEST(TensorBoardWriterTest, UnwritableDirectoryIsAnErrorNamingIt) {
  TensorBoardWriter writer;
  const Status s = writer.Open("/proc/no/such/dir");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("/proc/no/such/dir"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace meridian
