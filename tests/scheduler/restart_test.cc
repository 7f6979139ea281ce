// Jobs survive failures: a failed launch (a rank died, the watchdog fired)
// or a lost node makes the job RESTARTING, re-placed and relaunched from
// its checkpoint, up to max_restarts; a node that failed and came back
// gets no new job until its probation ends.
#include <gtest/gtest.h>

#include <optional>

#include "tests/scheduler/core_fixture.h"
#include "tests/scheduler/tiny_job.h"

namespace meridian::scheduler {
namespace {

v1::JobSpec Dp2(std::optional<int> max_restarts = std::nullopt) {
  v1::JobSpec spec = TinyJob(2, 1);
  if (max_restarts) spec.set_max_restarts(*max_restarts);
  return spec;
}

class RestartTest : public CoreFixture {
 protected:
  void SetUp() override {
    // One data center whose only node comes from an agent.
    const char* cluster = "data_centers: [{name: dc}]\nagents: [{name: \"n*\", data_center: dc}]";
    cluster_ = ParseClusterYaml(cluster, "cluster.yaml").value();
    options_.node_timeout_s = 100;
    options_.node_probation_s = 10;
    ASSERT_NO_FATAL_FAILURE(StartCore());
    v1::Node n;
    n.set_name("n1");
    n.set_data_center("dc");
    n.set_host("10.0.0.2");
    n.add_gpus()->set_model("cpu");
    n.add_gpus()->set_model("cpu");
    ASSERT_TRUE(core_->RegisterNode(n).ok());
  }

  v1::Job Get(const std::string& id) { return core_->GetJob(id).value(); }
  std::vector<std::string> Messages(const std::string& id, v1::JobState state) {
    bool done = false;
    std::vector<std::string> out;
    const std::vector<v1::JobEvent> events = core_->WaitForEvents(id, 0, 0, &done).value();
    for (const v1::JobEvent& e : events)
      if (e.state() == state) out.push_back(e.message());
    return out;
  }
};

TEST_F(RestartTest, AFailedLaunchRestartsTheJobFromItsCheckpoint) {
  const v1::Job job = core_->SubmitJob(Dp2()).value();
  ASSERT_EQ(Get(job.id()).state(), v1::RUNNING);
  launcher_.Exit(job.id(), 137);  // a rank was killed
  const v1::Job after = Get(job.id());
  EXPECT_EQ(after.state(), v1::RUNNING);  // placed and launched again at once
  EXPECT_EQ(after.restarts(), 1);
  EXPECT_EQ(after.launches(), 2);
  EXPECT_EQ(launcher_.launched.size(), 2u);
  const auto why = Messages(job.id(), v1::RESTARTING);
  ASSERT_EQ(why.size(), 1u);
  EXPECT_NE(why[0].find("a rank failed: the launcher exited with status 137 (signal 9); restart 1 of 3"),
            std::string::npos)
      << why[0];
  launcher_.Exit(job.id(), 0);
  EXPECT_EQ(Get(job.id()).state(), v1::SUCCEEDED);
}

TEST_F(RestartTest, AJobOutOfRestartsFails) {
  const v1::Job job = core_->SubmitJob(Dp2(/*max_restarts=*/1)).value();
  launcher_.Exit(job.id(), 1);
  ASSERT_EQ(Get(job.id()).state(), v1::RUNNING);
  launcher_.Exit(job.id(), 3);  // the watchdog's exit status
  const v1::Job failed = Get(job.id());
  EXPECT_EQ(failed.state(), v1::FAILED);
  EXPECT_EQ(failed.restarts(), 1);
  EXPECT_NE(failed.message().find("no restart left (max_restarts 1"), std::string::npos) << failed.message();

  const v1::Job once = core_->SubmitJob(Dp2(/*max_restarts=*/0)).value();
  launcher_.Exit(once.id(), 1);
  EXPECT_EQ(Get(once.id()).state(), v1::FAILED);
}

TEST_F(RestartTest, MaxRestartsIsValidated) {
  Result<v1::Job> job = core_->SubmitJob(Dp2(-1));
  ASSERT_FALSE(job.ok());
  EXPECT_NE(job.status().message().find("spec.max_restarts"), std::string::npos) << job.status().message();
}

TEST_F(RestartTest, ANodeThatFailedWaitsOutItsProbation) {
  const v1::Job job = core_->SubmitJob(Dp2()).value();
  const double now = NowUnixSeconds();
  core_->CheckLiveness(now + 101);  // n1 missed its heartbeats: the job is stopped
  ASSERT_EQ(launcher_.killed.size(), 1u);
  launcher_.Exit(job.id(), 143);
  EXPECT_EQ(Get(job.id()).state(), v1::RESTARTING);
  const auto why = Messages(job.id(), v1::RESTARTING);
  ASSERT_EQ(why.size(), 1u);
  EXPECT_NE(why[0].find("node n1 stopped heartbeating"), std::string::npos) << why[0];
  // Back, but on probation: the job waits.
  ASSERT_TRUE(core_->Heartbeat("n1").ok());
  EXPECT_EQ(Get(job.id()).state(), v1::RESTARTING);
  core_->CheckLiveness(NowUnixSeconds() + 11);  // alive through the probation
  EXPECT_EQ(Get(job.id()).state(), v1::RUNNING);
  EXPECT_EQ(Get(job.id()).restarts(), 1);
}

TEST_F(RestartTest, AJobThatNoLongerFitsShrinksItsDataParallelDegree) {
  v1::Node n2;
  n2.set_name("n2");
  n2.set_data_center("dc");
  n2.set_host("10.0.0.3");
  n2.add_gpus()->set_model("cpu");
  n2.add_gpus()->set_model("cpu");
  ASSERT_TRUE(core_->RegisterNode(n2).ok());
  const v1::Job job = core_->SubmitJob(TinyJob(4, 1)).value();
  ASSERT_EQ(Get(job.id()).state(), v1::RUNNING);
  ASSERT_TRUE(core_->DeregisterNode("n2").ok());
  launcher_.Exit(job.id(), 143);
  // Two slots are left: dp 2 with twice the micro-batches, the same global batch.
  const v1::Job after = Get(job.id());
  ASSERT_EQ(after.state(), v1::RUNNING);
  EXPECT_EQ(after.spec().layout().dp(), 2);
  EXPECT_EQ(after.spec().training().microbatches(), 2);
  EXPECT_EQ(after.placement().ranks_size(), 2);
  const auto placed = Messages(job.id(), v1::PLACED);
  ASSERT_EQ(placed.size(), 2u);
  EXPECT_NE(placed[1].find("shrunk from dp 4 to dp 2 with 2 micro-batches"), std::string::npos) << placed[1];
}

TEST_F(RestartTest, AJobThatFitsKeepsItsSize) {
  const v1::Job job = core_->SubmitJob(TinyJob(2, 1)).value();
  launcher_.Exit(job.id(), 137);
  const v1::Job after = Get(job.id());
  EXPECT_EQ(after.state(), v1::RUNNING);
  EXPECT_EQ(after.spec().layout().dp(), 2);
  EXPECT_EQ(after.spec().training().microbatches(), 0);
}

TEST_F(RestartTest, CancelStopsARestartingJob) {
  const v1::Job job = core_->SubmitJob(Dp2()).value();
  core_->CheckLiveness(NowUnixSeconds() + 101);
  launcher_.Exit(job.id(), 143);
  ASSERT_EQ(Get(job.id()).state(), v1::RESTARTING);
  ASSERT_TRUE(core_->CancelJob(job.id()).ok());
  EXPECT_EQ(Get(job.id()).state(), v1::CANCELLED);
}

}  // namespace
}  // namespace meridian::scheduler
