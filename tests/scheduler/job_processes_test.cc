// The supervisor under every launched job, with real processes: it records
// how its launcher ended, and a second JobProcesses (a restarted daemon)
// adopts a running attempt, reads the end of one that finished, and finds
// nothing of one whose supervisor was killed after killing what it left.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "scheduler/launcher/job_processes.h"

namespace meridian::scheduler {
namespace {

// Collects exit reports.
class Exits {
 public:
  void Attach(JobProcesses& p) {
    p.SetExitCallback([this](const std::string& id, int code) {
      std::lock_guard<std::mutex> lock(mu_);
      codes_[id] = code;
      cv_.notify_all();
    });
  }
  // The code reported for `id`, or -1000 after 20 s.
  int Wait(const std::string& id) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(20), [&] { return codes_.count(id) > 0; });
    return codes_.count(id) ? codes_[id] : -1000;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, int> codes_;
};

class JobProcessesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("procs_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    files_ = {(dir_ / "launch-1.lock").string(), (dir_ / "launch-1.exit").string()};
    first_exits_.Attach(first_);
    second_exits_.Attach(second_);
  }
  Result<int64_t> Run(const std::string& script) {
    return first_.Start("job", {"/bin/sh", "-c", script}, (dir_ / "log").string(), files_);
  }
  std::string ExitFile() {
    std::ifstream in(files_.exit_path);
    std::string s;
    in >> s;
    return s;
  }
  static bool GroupAlive(int64_t pgid) { return kill(-(pid_t)pgid, 0) == 0; }

  std::filesystem::path dir_;
  AttemptFiles files_;
  Exits first_exits_, second_exits_;  // outlive the JobProcesses that report to them
  JobProcesses first_{0.5};   // the daemon that launched
  JobProcesses second_{0.5};  // the one that restarted
};

TEST_F(JobProcessesTest, TheSupervisorRecordsTheLauncherStatus) {
  ASSERT_TRUE(Run("exit 7").ok());
  EXPECT_EQ(first_exits_.Wait("job"), 7);
  EXPECT_EQ(ExitFile(), "7");
  const Orphan later = second_.Adopt("job", files_);
  EXPECT_EQ(later.state, Orphan::State::kExited);
  EXPECT_EQ(later.exit_code, 7);
}

TEST_F(JobProcessesTest, ARunningAttemptIsAdoptedAndItsEndReported) {
  Result<int64_t> pgid = Run("sleep 1; exit 3");
  ASSERT_TRUE(pgid.ok());
  const Orphan found = second_.Adopt("job", files_);
  EXPECT_EQ(found.state, Orphan::State::kRunning);
  EXPECT_EQ(found.process_group, *pgid);
  EXPECT_EQ(second_exits_.Wait("job"), 3);
}

TEST_F(JobProcessesTest, AnAdoptedAttemptCanBeStopped) {
  Result<int64_t> pgid = Run("sleep 60");
  ASSERT_TRUE(pgid.ok());
  ASSERT_EQ(second_.Adopt("job", files_).state, Orphan::State::kRunning);
  ASSERT_TRUE(second_.Stop("job").ok());
  // The shell's status, recorded by its supervisor: SIGTERM's, or SIGKILL's
  // when a loaded machine let the 0.5 s grace run out first. Both daemons
  // see the same one.
  const int code = second_exits_.Wait("job");
  EXPECT_TRUE(code == 128 + SIGTERM || code == 128 + SIGKILL) << code;
  EXPECT_EQ(first_exits_.Wait("job"), code);
}

TEST_F(JobProcessesTest, NoLockFileMeansTheAttemptNeverStarted) {
  EXPECT_EQ(second_.Adopt("job", files_).state, Orphan::State::kGone);
}

TEST_F(JobProcessesTest, WhatAKilledSupervisorLeftIsKilledBeforeItCountsAsGone) {
  Result<int64_t> pgid = Run("sleep 60");
  ASSERT_TRUE(pgid.ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  kill((pid_t)*pgid, SIGKILL);  // the supervisor alone; its shell runs on
  EXPECT_EQ(first_exits_.Wait("job"), 128 + SIGKILL);
  ASSERT_TRUE(GroupAlive(*pgid));
  EXPECT_EQ(second_.Adopt("job", files_).state, Orphan::State::kGone);
  EXPECT_FALSE(GroupAlive(*pgid));
}

TEST_F(JobProcessesTest, AnAttemptRunsOnlyOnce) {
  ASSERT_TRUE(Run("sleep 60").ok());
  Result<int64_t> again = second_.Start("job", {"/bin/true"}, (dir_ / "log").string(), files_);
  EXPECT_FALSE(again.ok());
  ASSERT_TRUE(first_.Stop("job").ok());
  first_exits_.Wait("job");
}

}  // namespace
}  // namespace meridian::scheduler
