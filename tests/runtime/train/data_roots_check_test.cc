// A scheduled rank's own check of its data against the roots the daemon
// handed it: the daemon's and the submitting token's, links resolved.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "runtime/train/data_roots_check.h"

namespace meridian {
namespace {

namespace fs = std::filesystem;

class DataRootsCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() / ("data-roots-check-" + std::to_string(getpid()));
    fs::remove_all(base_);
    fs::create_directories(base_ / "root/alice");
    fs::create_directories(base_ / "root/bob");
    fs::create_directories(base_ / "outside");
    std::ofstream(base_ / "root/alice/train_000.bin") << "x";
    std::ofstream(base_ / "root/bob/train_000.bin") << "x";
    std::ofstream(base_ / "outside/secret.bin") << "x";
    roots_.daemon = {(base_ / "root").string()};
    roots_.owner = {(base_ / "root/alice").string()};
  }
  void TearDown() override { fs::remove_all(base_); }
  TrainOptions With(const std::string& data) {
    TrainOptions o;
    o.data = (base_ / data).string();
    return o;
  }
  fs::path base_;
  HandedRoots roots_;
};

TEST_F(DataRootsCheckTest, DataUnderBothRootsPasses) {
  EXPECT_TRUE(CheckTrainerDataUnderRoots(With("root/alice/train_*.bin"), roots_).ok());
  EXPECT_TRUE(CheckTrainerDataUnderRoots(With("outside/*.bin"), HandedRoots{}).ok());  // none handed
}

TEST_F(DataRootsCheckTest, AShardOutsideEitherRootsIsRefusedNamingWhose) {
  Status bob = CheckTrainerDataUnderRoots(With("root/bob/train_*.bin"), roots_);
  ASSERT_FALSE(bob.ok());
  EXPECT_NE(bob.message().find("submitting token's data roots"), std::string::npos) << bob.message();
  // A link swapped in after the daemon's checks.
  fs::create_symlink(base_ / "outside/secret.bin", base_ / "root/alice/train_001.bin");
  Status link = CheckTrainerDataUnderRoots(With("root/alice/train_*.bin"), roots_);
  ASSERT_FALSE(link.ok());
  EXPECT_NE(link.message().find("--data: " + (base_ / "root/alice/train_001.bin").string()), std::string::npos)
      << link.message();
  EXPECT_NE(link.message().find("daemon's data roots"), std::string::npos) << link.message();
}

TEST_F(DataRootsCheckTest, InitFromAndItsCompanionsAreChecked) {
  TrainOptions o = With("root/alice/train_*.bin");
  o.init_from = (base_ / "outside/secret.bin").string();
  EXPECT_FALSE(CheckTrainerDataUnderRoots(o, roots_).ok());
}

TEST(DataRoots, ListsTravelAsLines) {
  EXPECT_EQ(SplitRoots(JoinRoots({"/a", "/b c"})), (std::vector<std::string>{"/a", "/b c"}));
  EXPECT_TRUE(SplitRoots("").empty());
}

}  // namespace
}  // namespace meridian
