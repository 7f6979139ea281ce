// History is bounded: a job's oldest events are folded into a count past
// --max-events-per-job, and finished jobs past --retain-jobs or
// --retain-days leave memory, the store and (through the launcher) the
// job root; a restarted daemon finds the same.
#include <gtest/gtest.h>

#include "tests/scheduler/core_fixture.h"
#include "tests/scheduler/tiny_job.h"

namespace meridian::scheduler {
namespace {

class RetentionTest : public CoreFixture {
 protected:
  void SetUp() override {
    cluster_ = DefaultCluster(2);
    options_.max_events_per_job = 20;
    options_.flush_interval_s = 0;
  }
  std::vector<v1::JobEvent> Events(const std::string& id) {
    bool done = false;
    return core_->WaitForEvents(id, 0, 0, &done).value();
  }
  v1::Job SubmitAndFinish() {
    v1::Job job = core_->SubmitJob(TinyJob(1, 1)).value();
    launcher_.Exit(job.id(), 0);
    return job;
  }
};

TEST_F(RetentionTest, AJobKeepsItsNewestEventsAndCountsTheRest) {
  StartCore();
  const v1::Job job = core_->SubmitJob(TinyJob(1, 1)).value();
  for (int step = 1; step <= 200; ++step) {
    v1::Progress p;
    p.set_step(step);
    ASSERT_TRUE(core_->ReportProgress(job.id(), p).ok());
    if (step % 10 == 0) core_->CheckLiveness(NowUnixSeconds());
  }
  core_->CheckLiveness(NowUnixSeconds());
  const std::vector<v1::JobEvent> events = Events(job.id());
  ASSERT_FALSE(events.empty());
  EXPECT_LE(events.size(), 20u + 2u + 10u);  // the cap, its batch, what came since the last fold
  EXPECT_EQ(events.back().progress().step(), 200);  // the newest are kept
  const v1::Job folded = core_->GetJob(job.id()).value();
  EXPECT_GT(folded.events_folded(), 150);
  EXPECT_EQ(events.front().sequence(), folded.events_folded() + 1);
  // A restarted daemon numbers on from where the job was.
  RestartCore();
  v1::Progress p;
  p.set_step(201);
  ASSERT_TRUE(core_->ReportProgress(job.id(), p).ok());
  core_->CheckLiveness(NowUnixSeconds());
  EXPECT_EQ(Events(job.id()).back().progress().step(), 201);
  EXPECT_GT(Events(job.id()).back().sequence(), events.back().sequence());
}

TEST_F(RetentionTest, FinishedJobsPastTheNewestNLeaveTheStoreAndTheirFiles) {
  options_.retain_jobs = 2;
  StartCore();
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(SubmitAndFinish().id());
  const v1::Job running = core_->SubmitJob(TinyJob(1, 1)).value();  // never removed
  core_->CheckLiveness(NowUnixSeconds());
  std::vector<std::string> kept;
  for (const v1::Job& j : core_->ListJobs({})) kept.push_back(j.id());
  EXPECT_EQ(kept, (std::vector<std::string>{ids[3], ids[4], running.id()}));
  EXPECT_EQ(launcher_.files_removed, (std::vector<std::string>{ids[2], ids[1], ids[0]}));
  EXPECT_EQ(core_->GetJob(ids[0]).status().code(), Status::Code::kNotFound);
  bool done = false;
  EXPECT_EQ(core_->WaitForEvents(ids[0], 0, 0, &done).status().code(), Status::Code::kNotFound);
  // Gone from the store: a restarted daemon does not bring them back.
  RestartCore();
  EXPECT_EQ(core_->ListJobs({}).size(), 3u);
  EXPECT_TRUE(store_->ListEvents(ids[0], 0).value().empty());
}

TEST_F(RetentionTest, FinishedJobsOlderThanTheirDaysLeave) {
  options_.retain_days = 1;
  StartCore();
  const v1::Job old = SubmitAndFinish();
  core_->CheckLiveness(NowUnixSeconds());
  EXPECT_TRUE(core_->GetJob(old.id()).ok());  // a day has not passed
  core_->CheckLiveness(NowUnixSeconds() + 2 * 86400.0);
  EXPECT_EQ(core_->GetJob(old.id()).status().code(), Status::Code::kNotFound);
}

}  // namespace
}  // namespace meridian::scheduler
