// ExpandBoundedGlob: glob(3)'s answers for ordinary patterns, and a
// refusal naming the rule or limit for patterns that would walk the tree
// again and again.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "common/bounded_glob.h"

namespace meridian {
namespace {

namespace fs = std::filesystem;

class BoundedGlobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / ("bounded-glob-" + std::to_string(getpid()))).string();
    fs::remove_all(dir_);
    for (int i = 0; i < 8; ++i) fs::create_directories(dir_ + "/d" + std::to_string(i));
    for (const char* f : {"train_001.bin", "train_000.bin", "val_000.bin", ".train_hidden.bin"})
      std::ofstream(dir_ + "/d3/" + f) << "x";
    std::ofstream(dir_ + "/d5/train_000.bin") << "x";
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
};

TEST_F(BoundedGlobTest, MatchesLikeGlobSortedAndSkippingDotFiles) {
  auto one = ExpandBoundedGlob(dir_ + "/d3/train_*.bin");
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  EXPECT_EQ(*one, (std::vector<std::string>{dir_ + "/d3/train_000.bin", dir_ + "/d3/train_001.bin"}));
  auto two = ExpandBoundedGlob(dir_ + "/d?/train_00[0].bin");
  ASSERT_TRUE(two.ok()) << two.status().ToString();
  EXPECT_EQ(*two, (std::vector<std::string>{dir_ + "/d3/train_000.bin", dir_ + "/d5/train_000.bin"}));
  auto literal = ExpandBoundedGlob(dir_ + "/d3/val_000.bin");
  ASSERT_TRUE(literal.ok());
  EXPECT_EQ(literal->size(), 1u);
}

TEST_F(BoundedGlobTest, NothingMatchingIsNotFound) {
  EXPECT_EQ(ExpandBoundedGlob(dir_ + "/d3/test_*.bin").status().code(), Status::Code::kNotFound);
  EXPECT_EQ(ExpandBoundedGlob(dir_ + "/none.bin").status().code(), Status::Code::kNotFound);
}

TEST_F(BoundedGlobTest, GlobBombsAreRefusedQuicklyNamingTheRule) {
  const auto start = std::chrono::steady_clock::now();
  for (const std::string& bomb : {dir_ + "/*/../*/../*/../*/../*/../*/../*/../*/train_*.bin",
                                  dir_ + "/*/../*/train_*.bin", dir_ + "/*/*/*/train_*.bin"}) {
    const Status s = ExpandBoundedGlob(bomb).status();
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << bomb;
    EXPECT_NE(s.message().find(bomb), std::string::npos) << s.message();
  }
  EXPECT_NE(ExpandBoundedGlob(dir_ + "/*/../train_*.bin").status().message().find(".. after a wildcard"),
            std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

TEST_F(BoundedGlobTest, CapsOnDirectoriesAndMatchesAreNamed) {
  GlobLimits few_dirs;
  few_dirs.directories = 4;
  EXPECT_NE(ExpandBoundedGlob(dir_ + "/d*/train_*.bin", few_dirs).status().message().find("more than 4 directories"),
            std::string::npos);
  GlobLimits few_matches;
  few_matches.matches = 1;
  EXPECT_NE(ExpandBoundedGlob(dir_ + "/d3/*.bin", few_matches).status().message().find("more than 1 paths"),
            std::string::npos);
}

}  // namespace
}  // namespace meridian
