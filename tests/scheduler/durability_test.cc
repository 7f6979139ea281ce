// What the daemon remembers and how it picks up its jobs again: a failing
// state store never leaves a job's recorded state contradicting its
// processes, progress is written in batches, and a restarted daemon adopts
// a running attempt, closes one that ended while it was down, and relaunches
// one that left nothing behind.
#include <gtest/gtest.h>

#include "tests/scheduler/core_fixture.h"
#include "tests/scheduler/tiny_job.h"

namespace meridian::scheduler {
namespace {

// The SQLite store, with job writes that fail on demand and are counted.
class FlakyStore : public StateStore {
 public:
  explicit FlakyStore(std::unique_ptr<StateStore> real) : real_(std::move(real)) {}
  Status PutNode(const v1::Node& node) override { return real_->PutNode(node); }
  Status DeleteNode(const std::string& name) override { return real_->DeleteNode(name); }
  Result<std::vector<v1::Node>> ListNodes() override { return real_->ListNodes(); }
  Status PutJob(const v1::Job& job, const std::vector<v1::JobEvent>& events) override {
    if (++job_writes >= fail_from_write) return Status::IOError("state.db: disk full (test)");
    return real_->PutJob(job, events);
  }
  Result<std::vector<v1::Job>> ListJobs() override { return real_->ListJobs(); }
  Result<std::vector<v1::JobEvent>> ListEvents(const std::string& id, int64_t after) override {
    return real_->ListEvents(id, after);
  }
  Status FoldEvents(const v1::Job& job, int64_t sequence) override { return real_->FoldEvents(job, sequence); }
  Status DeleteJob(const std::string& id) override { return real_->DeleteJob(id); }
  Result<int64_t> NextJobNumber() override { return real_->NextJobNumber(); }

  int fail_from_write = 1 << 30;  // job writes numbered from 1; this one and later fail
  int job_writes = 0;

 private:
  std::unique_ptr<StateStore> real_;
};

class DurabilityTest : public CoreFixture {
 protected:
  void SetUp() override {
    options_.flush_interval_s = 0;
    StartCore();
  }
  std::unique_ptr<StateStore> WrapStore(std::unique_ptr<StateStore> sqlite) override {
    auto flaky = std::make_unique<FlakyStore>(std::move(sqlite));
    flaky_store_ = flaky.get();
    return flaky;
  }
  v1::Job Get(const std::string& id) { return core_->GetJob(id).value(); }
  v1::Job Stored(const std::string& id) {
    Result<std::vector<v1::Job>> jobs = store_->ListJobs();
    EXPECT_TRUE(jobs.ok()) << jobs.status().ToString();
    if (!jobs.ok()) return v1::Job();
    for (const v1::Job& j : *jobs)
      if (j.id() == id) return j;
    return v1::Job();
  }
  v1::Progress Step(int step, int attempt) {
    v1::Progress p;
    p.set_step(step);
    p.set_loss(5.0 - 0.01 * step);
    p.set_attempt(attempt);
    return p;
  }

  FlakyStore* flaky_store_ = nullptr;  // store_, with its failure switch and write count
};

TEST_F(DurabilityTest, AJobThatEndsWhileTheStoreFailsEndsAndIsWrittenLater) {
  const v1::Job job = core_->SubmitJob(TinyJob(2, 1)).value();
  ASSERT_EQ(Get(job.id()).state(), v1::RUNNING);
  flaky_store_->fail_from_write = 0;
  launcher_.Exit(job.id(), 0);
  // Memory follows the processes: SUCCEEDED and its GPUs free, not RUNNING
  // for ever.
  EXPECT_EQ(Get(job.id()).state(), v1::SUCCEEDED);
  EXPECT_EQ(Stored(job.id()).state(), v1::RUNNING);
  const v1::ListPoolsResponse pools = core_->ListPools();
  for (const v1::Pool& pool : pools.pools()) EXPECT_EQ(pool.free_gpus(), pool.total_gpus());
  flaky_store_->fail_from_write = 1 << 30;
  core_->CheckLiveness(NowUnixSeconds());
  EXPECT_EQ(Stored(job.id()).state(), v1::SUCCEEDED);
  bool done = false;
  const auto events = core_->WaitForEvents(job.id(), 0, 0, &done).value();
  EXPECT_TRUE(done);
  EXPECT_EQ(events.back().state(), v1::SUCCEEDED);
}

TEST_F(DurabilityTest, ALaunchWhoseRunningWriteFailsKeepsRunning) {
  flaky_store_->fail_from_write = 3;  // 1: QUEUED, 2: PLACED, 3: RUNNING
  const v1::Job job = core_->SubmitJob(TinyJob(2, 1)).value();
  // The launch went ahead: RUNNING, not FAILED with its processes alive.
  EXPECT_EQ(Get(job.id()).state(), v1::RUNNING);
  EXPECT_EQ(launcher_.launched.size(), 1u);
  EXPECT_TRUE(launcher_.killed.empty());
  EXPECT_EQ(Stored(job.id()).state(), v1::PLACED);
  flaky_store_->fail_from_write = 1 << 30;
  core_->CheckLiveness(NowUnixSeconds());
  EXPECT_EQ(Stored(job.id()).state(), v1::RUNNING);
}

TEST_F(DurabilityTest, NoLaunchWithoutADurablePlacement) {
  const v1::Job job = core_->SubmitJob(TinyJob(2, 1)).value();
  flaky_store_->fail_from_write = 0;
  launcher_.Exit(job.id(), 137);  // to be restarted, but the store cannot take its placement
  EXPECT_EQ(Get(job.id()).state(), v1::RESTARTING);
  EXPECT_EQ(launcher_.launched.size(), 1u);
  flaky_store_->fail_from_write = 1 << 30;
  core_->CheckLiveness(NowUnixSeconds());  // written, then placed and launched
  EXPECT_EQ(Get(job.id()).state(), v1::RUNNING);
  EXPECT_EQ(launcher_.launched.size(), 2u);
  EXPECT_EQ(Stored(job.id()).state(), v1::RUNNING);
  EXPECT_EQ(Stored(job.id()).launches(), 2);
}

TEST_F(DurabilityTest, ASubmitTheStoreRefusesIsRefused) {
  flaky_store_->fail_from_write = 0;
  Result<v1::Job> job = core_->SubmitJob(TinyJob(1, 1));
  ASSERT_FALSE(job.ok());
  EXPECT_NE(job.status().message().find("disk full"), std::string::npos);
  EXPECT_TRUE(core_->ListJobs({}).empty());
}

TEST_F(DurabilityTest, ProgressIsWrittenInBatches) {
  const v1::Job job = core_->SubmitJob(TinyJob(2, 1)).value();
  const int writes = flaky_store_->job_writes;
  for (int step = 1; step <= 50; ++step) ASSERT_TRUE(core_->ReportProgress(job.id(), Step(step, 1)).ok());
  EXPECT_EQ(flaky_store_->job_writes, writes);  // nothing written per report
  EXPECT_EQ(Get(job.id()).last_progress().step(), 50);
  bool done = false;
  EXPECT_EQ(core_->WaitForEvents(job.id(), 0, 0, &done).value().back().progress().step(), 50);
  core_->CheckLiveness(NowUnixSeconds());
  EXPECT_EQ(flaky_store_->job_writes, writes + 1);  // one write for all fifty
  EXPECT_EQ(Stored(job.id()).last_progress().step(), 50);
}

TEST_F(DurabilityTest, ProgressFromAnEndedAttemptIsIgnored) {
  const v1::Job job = core_->SubmitJob(TinyJob(2, 1)).value();
  launcher_.Exit(job.id(), 137);  // attempt 2 now runs
  ASSERT_EQ(Get(job.id()).launches(), 2);
  ASSERT_TRUE(core_->ReportProgress(job.id(), Step(7, 2)).ok());
  ASSERT_TRUE(core_->ReportProgress(job.id(), Step(99, 1)).ok());  // a straggler of attempt 1
  EXPECT_EQ(Get(job.id()).last_progress().step(), 7);
  EXPECT_EQ(core_->GetAssignment(job.id(), 0).value().attempt(), 2);
}

TEST_F(DurabilityTest, ARestartedDaemonAdoptsARunningAttempt) {
  const v1::Job job = core_->SubmitJob(TinyJob(2, 1)).value();
  launcher_.orphan = {Orphan::State::kRunning, 0, 4242};
  RestartCore();
  const v1::Job adopted = Get(job.id());
  EXPECT_EQ(adopted.state(), v1::RUNNING);
  EXPECT_EQ(adopted.launches(), 1);  // not started twice
  EXPECT_EQ(adopted.launcher_pid(), 4242);
  EXPECT_EQ(launcher_.launched.size(), 1u);
  // It holds its GPUs: a job that needs them all waits.
  const v1::Job big = core_->SubmitJob(TinyJob(8, 1)).value();
  EXPECT_EQ(Get(big.id()).state(), v1::QUEUED);
  launcher_.Exit(job.id(), 0);  // its end reaches the new daemon
  EXPECT_EQ(Get(job.id()).state(), v1::SUCCEEDED);
  EXPECT_EQ(Get(big.id()).state(), v1::RUNNING);
}

TEST_F(DurabilityTest, AnAttemptThatEndedWhileTheDaemonWasDownIsClosed) {
  const v1::Job ok = core_->SubmitJob(TinyJob(2, 1)).value();
  launcher_.orphan = {Orphan::State::kExited, 0, 0};
  RestartCore();
  EXPECT_EQ(Get(ok.id()).state(), v1::SUCCEEDED);
  EXPECT_NE(Get(ok.id()).message().find("ended while the scheduler was down"), std::string::npos);
}

TEST_F(DurabilityTest, AnAttemptThatLeftNothingIsRelaunchedWithoutUsingARestart) {
  const v1::Job job = core_->SubmitJob(TinyJob(2, 1)).value();
  launcher_.orphan = {Orphan::State::kGone, 0, 0};
  RestartCore();
  const v1::Job again = Get(job.id());
  EXPECT_EQ(again.state(), v1::RUNNING);
  EXPECT_EQ(again.launches(), 2);
  EXPECT_EQ(again.restarts(), 0);
}

}  // namespace
}  // namespace meridian::scheduler
