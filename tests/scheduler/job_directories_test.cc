// The job's directories on real files: made with the right owners and
// modes, refused when another user could swap them, and removed at
// retention without following a link the job's user planted.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "scheduler/launcher/job_directories.h"

namespace meridian::scheduler {
namespace {

namespace fs = std::filesystem;

class JobDirectoriesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() / ("job-directories-" + std::to_string(getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(base_);
    fs::create_directories(base_ / "outside/dir");
    std::ofstream(base_ / "outside/file") << "keep me";
    std::ofstream(base_ / "outside/dir/inner") << "keep me too";
    root_ = (base_ / "root").string();
  }
  void TearDown() override { fs::remove_all(base_); }
  // A launched job's files, with links a user could plant among them.
  void MakeJob(const std::string& id) {
    auto dir = LaunchDirectory::Prepare(root_, id, nullptr);
    ASSERT_TRUE(dir.ok()) << dir.status().ToString();
    ASSERT_TRUE(dir->Write("hostfile", "localhost\n").ok());
    const fs::path job = fs::path(root_) / "jobs" / id;
    fs::create_directories(job / "checkpoints/step_00000010");
    fs::create_directories(job / "tensorboard/run");
    std::ofstream(job / "output.log") << "log";
    std::ofstream(job / "metrics.jsonl") << "{}";
    std::ofstream(job / "checkpoints/step_00000010/rank-0.bin") << "ckpt";
    std::ofstream(job / "tensorboard/run/events") << "tb";
    fs::create_symlink(base_ / "outside/file", job / "link-to-file");
    fs::create_symlink(base_ / "outside/dir", job / "tensorboard/link-to-dir");
  }
  fs::path base_;
  std::string root_;
};

TEST_F(JobDirectoriesTest, TheDaemonsLaunchFilesAreItsOwnAndWrittenWithoutFollowingLinks) {
  auto dir = LaunchDirectory::Prepare(root_, "job-000001", nullptr);
  ASSERT_TRUE(dir.ok()) << dir.status().ToString();
  const fs::path launch = fs::path(root_) / "launch/job-000001";
  EXPECT_EQ(fs::status(launch).permissions() & fs::perms::all,
            fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec);
  fs::create_symlink(base_ / "outside/file", launch / "hostfile");
  EXPECT_FALSE(dir->Write("hostfile", "x").ok());  // never through the link
  std::ifstream in(base_ / "outside/file");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(text, "keep me");
}

TEST_F(JobDirectoriesTest, ASecretIsReadableByItsOwnerAlone) {
  auto dir = LaunchDirectory::Prepare(root_, "job-000001", nullptr);
  ASSERT_TRUE(dir.ok()) << dir.status().ToString();
  const fs::path key = fs::path(root_) / "launch/job-000001/exchange.key";
  std::ofstream(key) << "old";  // a wider file left behind
  fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write | fs::perms::others_read);
  ASSERT_TRUE(dir->WriteSecret("exchange.key", "secret").ok());
  EXPECT_EQ(fs::status(key).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  std::ifstream in(key);
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(in)), {}), "secret");
  fs::remove(key);
  fs::create_symlink(base_ / "outside/file", key);
  EXPECT_FALSE(dir->WriteSecret("exchange.key", "x").ok());  // never through a link
}

TEST_F(JobDirectoriesTest, ALaunchDirectoryOthersCanWriteIsRefused) {
  fs::create_directories(fs::path(root_) / "launch");
  chmod((fs::path(root_) / "launch").c_str(), 0777);
  const Result<LaunchDirectory> dir = LaunchDirectory::Prepare(root_, "job-000001", nullptr);
  ASSERT_FALSE(dir.ok());
  EXPECT_NE(dir.status().message().find(root_ + "/launch is owned by"), std::string::npos) << dir.status().message();
}

TEST_F(JobDirectoriesTest, RetentionRemovesAllButCheckpointsAndFollowsNoLink) {
  MakeJob("job-000001");
  ASSERT_TRUE(RemoveJobFiles(root_, "job-000001", /*keep_checkpoints=*/true).ok());
  const fs::path job = fs::path(root_) / "jobs/job-000001";
  EXPECT_FALSE(fs::exists(fs::path(root_) / "launch/job-000001"));
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(job)) left.push_back(e.path().filename().string());
  EXPECT_EQ(left, std::vector<std::string>{"checkpoints"});
  EXPECT_TRUE(fs::exists(job / "checkpoints/step_00000010/rank-0.bin"));
  EXPECT_TRUE(fs::exists(base_ / "outside/file"));
  EXPECT_TRUE(fs::exists(base_ / "outside/dir/inner"));
}

TEST_F(JobDirectoriesTest, RetentionWithDiscardedCheckpointsRemovesTheWholeJob) {
  MakeJob("job-000002");
  ASSERT_TRUE(RemoveJobFiles(root_, "job-000002", /*keep_checkpoints=*/false).ok());
  EXPECT_FALSE(fs::exists(fs::path(root_) / "jobs/job-000002"));
  EXPECT_TRUE(fs::exists(base_ / "outside/dir/inner"));
  EXPECT_TRUE(RemoveJobFiles(root_, "job-000002", false).ok());  // already gone
}

}  // namespace
}  // namespace meridian::scheduler
