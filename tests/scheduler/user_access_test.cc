// CheckUserCanReach by the mode bits, on real directories: a 0700 parent
// blocks another user and is named; the owner, a group member and root
// pass; a job root that does not exist yet is judged by what exists.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "scheduler/launcher/user_access.h"

namespace meridian::scheduler {
namespace {

namespace fs = std::filesystem;

class UserAccessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("user-access-" + std::to_string(getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "open/private");
    chmod(root_.c_str(), 0755);
    chmod((root_ / "open").c_str(), 0755);
    chmod((root_ / "open/private").c_str(), 0700);
    for (const char* dir : {"open", "open/private"}) {
      const fs::path bin = root_ / dir / "trainer";
      std::ofstream(bin) << "#!/bin/sh\n";
      chmod(bin.c_str(), 0755);
    }
  }
  void TearDown() override { fs::remove_all(root_); }

  // A user who is neither the files' owner nor in their group.
  RunAs Stranger() const {
    RunAs as;
    as.uid = 54321;
    as.gid = 54321;
    as.name = "stranger";
    return as;
  }
  fs::path root_;
};

TEST_F(UserAccessTest, AnotherUserPassesOpenDirectories) {
  EXPECT_TRUE(CheckUserCanReach(Stranger(), (root_ / "open/trainer").string(), Access::kExecute).ok());
  EXPECT_TRUE(CheckUserCanReach(Stranger(), (root_ / "open").string(), Access::kSearch).ok());
}

TEST_F(UserAccessTest, APrivateParentBlocksAndIsNamed) {
  const Status s = CheckUserCanReach(Stranger(), (root_ / "open/private/trainer").string(), Access::kExecute);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find((root_ / "open/private").string() + " (mode 0700"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("stranger"), std::string::npos) << s.message();
  EXPECT_FALSE(CheckUserCanReach(Stranger(), (root_ / "open/private/jobs/x").string(), Access::kSearch).ok());
}

TEST_F(UserAccessTest, OwnerGroupMembersAndRootPass) {
  RunAs owner = Stranger();
  owner.uid = getuid();
  EXPECT_TRUE(CheckUserCanReach(owner, (root_ / "open/private/trainer").string(), Access::kExecute).ok());
  chmod((root_ / "open/private").c_str(), 0710);
  RunAs member = Stranger();
  member.groups = {getgid()};
  EXPECT_TRUE(CheckUserCanReach(member, (root_ / "open/private/trainer").string(), Access::kExecute).ok());
  RunAs root = Stranger();
  root.uid = 0;
  chmod((root_ / "open/private").c_str(), 0700);
  EXPECT_TRUE(CheckUserCanReach(root, (root_ / "open/private/trainer").string(), Access::kExecute).ok());
}

TEST_F(UserAccessTest, AFileThatIsNotExecutableOrMissingIsRefused) {
  chmod((root_ / "open/trainer").c_str(), 0644);
  EXPECT_FALSE(CheckUserCanReach(Stranger(), (root_ / "open/trainer").string(), Access::kExecute).ok());
  const Status missing = CheckUserCanReach(Stranger(), (root_ / "open/none").string(), Access::kExecute);
  EXPECT_NE(missing.message().find("does not exist"), std::string::npos) << missing.message();
}

TEST_F(UserAccessTest, AJobRootNotYetMadeIsJudgedByWhatExists) {
  EXPECT_TRUE(CheckUserCanReach(Stranger(), (root_ / "open/later/jobs").string(), Access::kSearch).ok());
}

}  // namespace
}  // namespace meridian::scheduler
