// ReadUntrustedFile reads plain files (ranges and tails) and refuses what a
// writer of the directory could plant: a link, a FIFO, a second name.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/untrusted_file.h"

namespace meridian {
namespace {

namespace fs = std::filesystem;

class UntrustedFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("untrusted-file-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "log") << "0123456789";
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const char* name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

TEST_F(UntrustedFileTest, ReadsRangesAndTails) {
  int64_t size = 0;
  EXPECT_EQ(*ReadUntrustedFile(Path("log"), 2, 3, &size), "234");
  EXPECT_EQ(size, 10);
  EXPECT_EQ(*ReadUntrustedFile(Path("log"), 8, 100), "89");
  EXPECT_EQ(*ReadUntrustedFile(Path("log"), 20, 5), "");
  EXPECT_EQ(*ReadUntrustedFile(Path("log"), -1, 4), "6789");
  EXPECT_EQ(*ReadUntrustedFile(Path("log"), -1, 100), "0123456789");
}

TEST_F(UntrustedFileTest, AMissingFileIsNotFound) {
  EXPECT_EQ(ReadUntrustedFile(Path("none"), 0, 10).status().code(), Status::Code::kNotFound);
}

TEST_F(UntrustedFileTest, ALinkAFifoAndASecondNameAreRefused) {
  fs::create_symlink(dir_ / "log", dir_ / "symlink");
  fs::create_hard_link(dir_ / "log", dir_ / "hardlink");
  ASSERT_EQ(mkfifo(Path("fifo").c_str(), 0600), 0);
  for (const char* name : {"symlink", "hardlink", "fifo"}) {
    const Status s = ReadUntrustedFile(Path(name), 0, 10).status();
    EXPECT_EQ(s.code(), Status::Code::kFailedPrecondition) << name;
    EXPECT_NE(s.message().find(Path(name)), std::string::npos) << s.message();
  }
}

}  // namespace
}  // namespace meridian
