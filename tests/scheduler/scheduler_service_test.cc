// The service in process, over a real gRPC channel on loopback: every RPC,
// and every INVALID_ARGUMENT / NOT_FOUND path.
#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>

#include <thread>

#include "meridian/v1/scheduler.grpc.pb.h"
#include "scheduler/service/scheduler_service.h"
#include "tests/scheduler/core_fixture.h"

// Some requests here stand for an older client, which writes the
// deprecated legacy_ fields.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace meridian::scheduler {
namespace {

v1::JobSpec SmallJob(int dp, int pp) {
  v1::JobSpec spec;
  spec.set_name("t");
  spec.mutable_model()->set_preset("d4");
  spec.mutable_model()->set_n_layer(4);
  spec.mutable_model()->set_n_embd(64);
  spec.mutable_model()->set_n_head(2);
  spec.mutable_model()->set_vocab_size(256);
  spec.mutable_training()->set_batch(2);
  spec.mutable_training()->set_seq(32);
  spec.mutable_training()->set_microbatches(2);
  spec.mutable_training()->set_steps(10);
  spec.mutable_training()->set_data("data/*.bin");
  spec.mutable_layout()->set_dp(dp);
  spec.mutable_layout()->set_pp(pp);
  return spec;
}

class ServiceTest : public CoreFixture {
 protected:
  void SetUp() override { Start(); }
  // The core and the gRPC server over it, as the daemon starts.
  void Start() {
    ASSERT_NO_FATAL_FAILURE(StartCore());
    service_ = std::make_unique<SchedulerService>(core_.get());
    int port = 0;
    server_ = StartSchedulerServer("127.0.0.1:0", service_.get(), &port);
    ASSERT_GT(port, 0);
    stub_ = v1::Scheduler::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  }
  void Stop() {
    service_->Stop();
    server_->Shutdown();
    server_.reset();
    service_.reset();
    StopCore();
  }
  void TearDown() override { Stop(); }

  grpc::Status Submit(const v1::JobSpec& spec, v1::Job* job) {
    grpc::ClientContext ctx;
    v1::SubmitJobRequest req;
    *req.mutable_spec() = spec;
    v1::SubmitJobResponse resp;
    grpc::Status s = stub_->SubmitJob(&ctx, req, &resp);
    if (job) *job = resp.job();
    return s;
  }

  std::unique_ptr<SchedulerService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::Scheduler::Stub> stub_;
};

TEST_F(ServiceTest, ListPoolsShowsTheDefaultTwoDataCenters) {
  grpc::ClientContext ctx;
  v1::ListPoolsResponse r;
  ASSERT_TRUE(stub_->ListPools(&ctx, v1::ListPoolsRequest(), &r).ok());
  ASSERT_EQ(r.pools_size(), 2);
  EXPECT_EQ(r.pools(0).total_gpus() + r.pools(1).total_gpus(), 8);
  EXPECT_EQ(r.links_size(), 1);
}

TEST_F(ServiceTest, SubmitPlacesLaunchesAndFinishesAJob) {
  v1::Job job;
  ASSERT_TRUE(Submit(SmallJob(2, 2), &job).ok());
  EXPECT_EQ(job.state(), v1::RUNNING);
  EXPECT_EQ(job.placement().ranks_size(), 4);
  ASSERT_EQ(launcher_.launched, std::vector<std::string>{job.id()});
  // A rank asks for its assignment; rank 0 reports progress.
  grpc::ClientContext c1;
  v1::GetAssignmentRequest ga;
  ga.set_job_id(job.id());
  ga.set_rank(3);
  v1::GetAssignmentResponse gr;
  ASSERT_TRUE(stub_->GetAssignment(&c1, ga, &gr).ok());
  EXPECT_EQ(gr.assignment().rank(), 3);
  EXPECT_EQ(gr.placement().dp() * gr.placement().pp(), 4);
  grpc::ClientContext c2;
  v1::ReportProgressRequest rp;
  rp.set_job_id(job.id());
  rp.mutable_progress()->set_step(5);
  rp.mutable_progress()->set_loss(2.5);
  v1::ReportProgressResponse rr;
  ASSERT_TRUE(stub_->ReportProgress(&c2, rp, &rr).ok());
  EXPECT_EQ(rr.state(), v1::RUNNING);
  launcher_.Exit(job.id(), 0);
  grpc::ClientContext c3;
  v1::GetJobRequest gj;
  gj.set_id(job.id());
  v1::GetJobResponse gjr;
  ASSERT_TRUE(stub_->GetJob(&c3, gj, &gjr).ok());
  EXPECT_EQ(gjr.job().state(), v1::SUCCEEDED);
  EXPECT_EQ(gjr.job().last_progress().step(), 5);
  // The watch stream replays every event and ends with the job.
  grpc::ClientContext c4;
  v1::WatchJobRequest w;
  w.set_id(job.id());
  auto reader = stub_->WatchJob(&c4, w);
  std::vector<v1::JobState> states;
  v1::JobEvent e;
  while (reader->Read(&e)) states.push_back(e.state());
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(states.front(), v1::QUEUED);
  EXPECT_EQ(states.back(), v1::SUCCEEDED);
  EXPECT_NE(std::find(states.begin(), states.end(), v1::PLACED), states.end());
}

TEST_F(ServiceTest, QueuesWhatDoesNotFitAndBackfillsSmallerJobs) {
  v1::Job big1, big2, small;
  ASSERT_TRUE(Submit(SmallJob(2, 3), &big1).ok());  // 6 of 8 slots
  ASSERT_TRUE(Submit(SmallJob(2, 2), &big2).ok());  // 4: does not fit now
  ASSERT_TRUE(Submit(SmallJob(1, 2), &small).ok()); // 2: backfills
  EXPECT_EQ(big1.state(), v1::RUNNING);
  EXPECT_EQ(big2.state(), v1::QUEUED);
  EXPECT_EQ(small.state(), v1::RUNNING);
  launcher_.Exit(big1.id(), 0);  // frees 6: the queued job goes
  EXPECT_EQ(core_->GetJob(big2.id())->state(), v1::RUNNING);
}

TEST_F(ServiceTest, AWaitingJobOfHigherPriorityGoesFirst) {
  v1::Job running, low, high, out_of_range;
  ASSERT_TRUE(Submit(SmallJob(2, 4), &running).ok());  // all 8 slots
  ASSERT_TRUE(Submit(SmallJob(2, 4), &low).ok());
  v1::JobSpec urgent = SmallJob(2, 4);
  urgent.set_priority(10);
  ASSERT_TRUE(Submit(urgent, &high).ok());  // submitted later, placed first
  EXPECT_EQ(low.state(), v1::QUEUED);
  EXPECT_EQ(high.state(), v1::QUEUED);
  launcher_.Exit(running.id(), 0);
  EXPECT_EQ(core_->GetJob(high.id())->state(), v1::RUNNING);
  EXPECT_EQ(core_->GetJob(low.id())->state(), v1::QUEUED);
  urgent.set_priority(1001);
  grpc::Status refused = Submit(urgent, &out_of_range);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(refused.error_message().find("spec.priority"), std::string::npos) << refused.error_message();
}

TEST_F(ServiceTest, AJobHeldByItsTenantsQuotaSaysSoOnceWhileItWaits) {
  Stop();
  options_.quotas.has_default = true;
  options_.quotas.default_quota = TenantQuota{2, 2};  // at most 4 GPUs
  Start();
  v1::Job first, held, also_held;
  ASSERT_TRUE(Submit(SmallJob(1, 4), &first).ok());
  ASSERT_TRUE(Submit(SmallJob(1, 4), &held).ok());  // 4 slots free, but 8 would pass the limit
  EXPECT_EQ(core_->GetJob(first.id())->state(), v1::RUNNING);
  const v1::Job waiting = *core_->GetJob(held.id());
  EXPECT_EQ(waiting.state(), v1::QUEUED);
  EXPECT_NE(waiting.message().find("waits for its tenant's quota"), std::string::npos) << waiting.message();
  EXPECT_NE(waiting.message().find("hold 4 GPUs, and 4 more would pass its limit of 4 (2 guaranteed + 2 to borrow)"),
            std::string::npos)
      << waiting.message();
  auto events = [&](const std::string& id) {
    bool done = false;
    return core_->WaitForEvents(id, 0, 0.0, &done)->size();
  };
  const size_t noted = events(held.id());
  // Another pass (a later submit) finds it still held: nothing new is said.
  ASSERT_TRUE(Submit(SmallJob(1, 4), &also_held).ok());
  EXPECT_EQ(events(held.id()), noted);
  // Its tenant's job ends: it runs.
  launcher_.Exit(first.id(), 0);
  EXPECT_EQ(core_->GetJob(held.id())->state(), v1::RUNNING);
}

TEST_F(ServiceTest, NewQuotasTryTheWaitingJobsAgain) {
  Stop();
  options_.quotas.has_default = true;
  options_.quotas.default_quota = TenantQuota{2, 2};  // at most 4 GPUs
  Start();
  v1::Job first, held;
  ASSERT_TRUE(Submit(SmallJob(1, 4), &first).ok());
  ASSERT_TRUE(Submit(SmallJob(1, 4), &held).ok());
  ASSERT_EQ(core_->GetJob(held.id())->state(), v1::QUEUED);
  // The quota file read again with a larger limit: the held job starts
  // at once, its tenant's running job untouched.
  Quotas larger;
  larger.has_default = true;
  larger.default_quota = TenantQuota{4, 4};
  core_->SetQuotas(larger);
  EXPECT_EQ(core_->GetJob(held.id())->state(), v1::RUNNING);
  EXPECT_EQ(core_->GetJob(first.id())->state(), v1::RUNNING);
  EXPECT_TRUE(launcher_.killed.empty());
}

TEST_F(ServiceTest, AJobOfHigherPriorityPreemptsLowerOnesThatGoBackToTheQueue) {
  v1::Job low, lower, equal, high;
  v1::JobSpec spec = SmallJob(1, 4);  // 4 of the 8 slots
  spec.set_priority(1);
  ASSERT_TRUE(Submit(spec, &low).ok());
  spec.set_priority(-1);
  ASSERT_TRUE(Submit(spec, &lower).ok());
  // Higher than both: the lowest-priority job makes room (one is enough).
  spec.set_priority(5);
  ASSERT_TRUE(Submit(spec, &high).ok());
  EXPECT_EQ(high.state(), v1::QUEUED);
  EXPECT_EQ(launcher_.killed, std::vector<std::string>{lower.id()});
  launcher_.Exit(lower.id(), 143);
  const v1::Job requeued = *core_->GetJob(lower.id());
  EXPECT_EQ(requeued.state(), v1::QUEUED);
  EXPECT_EQ(requeued.restarts(), 0);  // not a failure
  EXPECT_NE(requeued.message().find("preempted by " + high.id()), std::string::npos) << requeued.message();
  EXPECT_EQ(core_->GetJob(high.id())->state(), v1::RUNNING);
  EXPECT_EQ(core_->GetJob(low.id())->state(), v1::RUNNING);
  // Of equal priority to the lowest running job: waits, stops nothing.
  spec.set_priority(1);
  ASSERT_TRUE(Submit(spec, &equal).ok());
  EXPECT_EQ(equal.state(), v1::QUEUED);
  EXPECT_EQ(launcher_.killed.size(), 1u);
  // Room that frees goes by priority: to `equal` (1) before the preempted
  // `lower` (-1), submitted before it.
  launcher_.Exit(high.id(), 0);
  EXPECT_EQ(core_->GetJob(equal.id())->state(), v1::RUNNING);
  EXPECT_EQ(core_->GetJob(lower.id())->state(), v1::QUEUED);
  launcher_.Exit(low.id(), 0);
  EXPECT_EQ(core_->GetJob(lower.id())->state(), v1::RUNNING);
}

TEST_F(ServiceTest, CancelStopsQueuedAndRunningJobs) {
  v1::Job running, queued;
  ASSERT_TRUE(Submit(SmallJob(2, 4), &running).ok());
  ASSERT_TRUE(Submit(SmallJob(2, 4), &queued).ok());
  grpc::ClientContext c1, c2;
  v1::CancelJobRequest req;
  v1::CancelJobResponse resp;
  req.set_id(queued.id());
  ASSERT_TRUE(stub_->CancelJob(&c1, req, &resp).ok());
  EXPECT_EQ(resp.job().state(), v1::CANCELLED);
  req.set_id(running.id());
  ASSERT_TRUE(stub_->CancelJob(&c2, req, &resp).ok());
  EXPECT_EQ(launcher_.killed, std::vector<std::string>{running.id()});
  launcher_.Exit(running.id(), 143);
  EXPECT_EQ(core_->GetJob(running.id())->state(), v1::CANCELLED);
}

TEST_F(ServiceTest, PlanIsADryRun) {
  grpc::ClientContext ctx;
  v1::PlanRequest req;
  *req.mutable_spec() = SmallJob(2, 2);
  v1::PlanResponse resp;
  ASSERT_TRUE(stub_->Plan(&ctx, req, &resp).ok());
  EXPECT_TRUE(resp.fits_now());
  EXPECT_EQ(resp.placement().ranks_size(), 4);
  EXPECT_GT(resp.placement().predicted_step_s(), 0);
  EXPECT_TRUE(launcher_.launched.empty());
}

TEST_F(ServiceTest, NodesRegisterHeartbeatAndDie) {
  grpc::ClientContext c1;
  v1::RegisterNodeRequest req;
  req.mutable_node()->set_name("east-1");
  req.mutable_node()->set_data_center("dc-east");
  req.mutable_node()->add_gpus()->set_model("cpu");
  v1::RegisterNodeResponse resp;
  ASSERT_TRUE(stub_->RegisterNode(&c1, req, &resp).ok());
  EXPECT_TRUE(resp.node().alive());
  grpc::ClientContext c2;
  v1::HeartbeatRequest hb;
  hb.set_node("east-1");
  v1::HeartbeatResponse hr;
  ASSERT_TRUE(stub_->Heartbeat(&c2, hb, &hr).ok());
  core_->CheckLiveness(NowUnixSeconds() + 3600);  // an hour of silence
  auto pools = core_->ListPools();
  bool found_dead = false;
  for (const auto& p : pools.pools())
    for (const auto& n : p.nodes()) found_dead |= n.name() == "east-1" && !n.alive();
  EXPECT_TRUE(found_dead);
}

// Pipeline stages on GPUs are a layout like any other: each stage is one
// rank on its own GPU.
TEST_F(ServiceTest, AcceptsPipelineStagesOnGpus) {
  v1::JobSpec spec = SmallJob(1, 2);
  spec.mutable_training()->set_device(v1::DEVICE_CUDA);
  v1::Job job;
  grpc::Status s = Submit(spec, &job);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

// A client from before the closed sets were enums sends words in the
// legacy_ fields; the daemon reads them as the enums they name.
TEST_F(ServiceTest, AnOlderClientsWordsBecomeEnums) {
  v1::JobSpec spec = SmallJob(2, 1);
  spec.mutable_training()->set_legacy_device("cuda");
  spec.mutable_layout()->set_legacy_dp_sync("hierarchical");
  v1::Job job;
  grpc::Status s = Submit(spec, &job);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(job.spec().training().device(), v1::DEVICE_CUDA);
  EXPECT_EQ(job.spec().layout().dp_sync(), v1::DP_SYNC_HIERARCHICAL);
  EXPECT_TRUE(job.spec().training().legacy_device().empty());
  EXPECT_TRUE(job.spec().layout().legacy_dp_sync().empty());
}

// Every malformed request gets INVALID_ARGUMENT naming the field, every
// unknown id NOT_FOUND; nothing crashes.
TEST_F(ServiceTest, BadRequestsGetInvalidArgumentOrNotFound) {
  auto expect_code = [](grpc::Status s, grpc::StatusCode code, const std::string& mention) {
    EXPECT_EQ(s.error_code(), code) << s.error_message();
    EXPECT_NE(s.error_message().find(mention), std::string::npos) << s.error_message();
  };
  auto bad = [&](std::function<void(v1::JobSpec&)> edit, const std::string& field) {
    v1::JobSpec spec = SmallJob(1, 1);
    edit(spec);
    expect_code(Submit(spec, nullptr), grpc::StatusCode::INVALID_ARGUMENT, field);
  };
  bad([](v1::JobSpec& s) { s.mutable_layout()->set_dp(-1); }, "spec.layout.dp");
  bad([](v1::JobSpec& s) { s.mutable_layout()->set_pp(0); }, "spec.layout.pp");
  bad([](v1::JobSpec& s) { s.mutable_layout()->set_pp(9); }, "spec.layout.pp");
  bad([](v1::JobSpec& s) { s.mutable_layout()->set_auto_layout(true); s.mutable_layout()->set_gpus(0); }, "spec.layout.gpus");
  bad([](v1::JobSpec& s) { s.mutable_training()->set_batch(0); }, "spec.training.batch");
  bad([](v1::JobSpec& s) { s.mutable_training()->set_steps(0); }, "spec.training.steps");
  bad([](v1::JobSpec& s) { s.mutable_training()->set_data(""); }, "spec.training.data");
  bad([](v1::JobSpec& s) { s.mutable_model()->set_preset("d7"); }, "spec.model.preset");
  bad([](v1::JobSpec& s) { s.mutable_model()->set_n_head(3); }, "spec.model");
  bad([](v1::JobSpec& s) { s.set_name(std::string(300, 'x')); }, "spec.name");
  bad([](v1::JobSpec& s) { s.mutable_layout()->set_legacy_dp_sync("fast"); }, "spec.layout.dp_sync: 'fast'");
  bad([](v1::JobSpec& s) { s.mutable_layout()->set_dp_sync(static_cast<v1::DpSync>(9)); }, "spec.layout.dp_sync = 9");
  bad([](v1::JobSpec& s) { s.mutable_layout()->set_dp(64); }, "does not fit");
  bad([](v1::JobSpec& s) { s.mutable_training()->set_legacy_device("tpu"); }, "spec.training.device: 'tpu'");
  bad([](v1::JobSpec& s) { s.mutable_training()->set_device(static_cast<v1::Device>(7)); }, "spec.training.device = 7");
  bad([](v1::JobSpec& s) { s.mutable_training()->set_legacy_dtype("fp8"); }, "spec.training.dtype: 'fp8'");
  bad([](v1::JobSpec& s) { s.mutable_training()->set_dtype(v1::DTYPE_BF16); }, "spec.training.dtype");  // bf16 on cpu
  // Every string has a bound, named in the refusal.
  const std::string huge(1 << 20, 'x');
  bad([&](v1::JobSpec& s) { s.mutable_training()->set_sample_prompt(huge); }, "spec.training.sample_prompt");
  bad([&](v1::JobSpec& s) { s.mutable_training()->set_legacy_device(huge); }, "spec.training.device = (1048576 characters)");
  bad([&](v1::JobSpec& s) { s.mutable_model()->set_preset(huge); }, "spec.model.preset");
  bad([&](v1::JobSpec& s) { s.mutable_layout()->set_legacy_dp_sync(huge); }, "spec.layout.dp_sync");
  bad([&](v1::JobSpec& s) { s.mutable_training()->add_extra_args(huge); }, "spec.training.extra_args[0]");
  {
    grpc::ClientContext ctx;
    v1::SubmitJobResponse r;
    expect_code(stub_->SubmitJob(&ctx, v1::SubmitJobRequest(), &r), grpc::StatusCode::INVALID_ARGUMENT, "spec");
  }
  {
    grpc::ClientContext ctx;
    v1::GetJobRequest req;
    req.set_id("job-999999");
    v1::GetJobResponse r;
    expect_code(stub_->GetJob(&ctx, req, &r), grpc::StatusCode::NOT_FOUND, "job-999999");
  }
  {
    grpc::ClientContext ctx;
    v1::GetJobResponse r;
    expect_code(stub_->GetJob(&ctx, v1::GetJobRequest(), &r), grpc::StatusCode::INVALID_ARGUMENT, "id");
  }
  {
    grpc::ClientContext ctx;
    v1::CancelJobRequest req;
    req.set_id("nope");
    v1::CancelJobResponse r;
    expect_code(stub_->CancelJob(&ctx, req, &r), grpc::StatusCode::NOT_FOUND, "nope");
  }
  {
    grpc::ClientContext ctx;
    v1::WatchJobRequest req;
    req.set_id("nope");
    auto reader = stub_->WatchJob(&ctx, req);
    v1::JobEvent e;
    EXPECT_FALSE(reader->Read(&e));
    expect_code(reader->Finish(), grpc::StatusCode::NOT_FOUND, "nope");
  }
  {
    grpc::ClientContext ctx;
    v1::HeartbeatRequest req;
    req.set_node("ghost");
    v1::HeartbeatResponse r;
    expect_code(stub_->Heartbeat(&ctx, req, &r), grpc::StatusCode::NOT_FOUND, "ghost");
  }
  {
    grpc::ClientContext ctx;
    v1::RegisterNodeRequest req;
    req.mutable_node()->set_name("x");
    req.mutable_node()->set_data_center("mars");
    req.mutable_node()->add_gpus();
    v1::RegisterNodeResponse r;
    expect_code(stub_->RegisterNode(&ctx, req, &r), grpc::StatusCode::INVALID_ARGUMENT, "node.data_center");
  }
  {
    grpc::ClientContext ctx;
    v1::RegisterNodeRequest req;
    req.mutable_node()->set_name("x");
    req.mutable_node()->set_data_center("dc-east");
    v1::RegisterNodeResponse r;
    expect_code(stub_->RegisterNode(&ctx, req, &r), grpc::StatusCode::INVALID_ARGUMENT, "node.gpus");
  }
  {
    v1::Job job;
    ASSERT_TRUE(Submit(SmallJob(1, 1), &job).ok());
    grpc::ClientContext ctx;
    v1::GetAssignmentRequest req;
    req.set_job_id(job.id());
    req.set_rank(5);
    v1::GetAssignmentResponse r;
    expect_code(stub_->GetAssignment(&ctx, req, &r), grpc::StatusCode::INVALID_ARGUMENT, "rank");
  }
  {
    grpc::ClientContext ctx;
    v1::ReportProgressRequest req;
    req.set_job_id("nope");
    v1::ReportProgressResponse r;
    expect_code(stub_->ReportProgress(&ctx, req, &r), grpc::StatusCode::NOT_FOUND, "nope");
  }
  {
    grpc::ClientContext ctx;
    v1::ListJobsRequest req;
    req.add_states(static_cast<v1::JobState>(42));
    v1::ListJobsResponse r;
    expect_code(stub_->ListJobs(&ctx, req, &r), grpc::StatusCode::INVALID_ARGUMENT, "states");
  }
  {
    // An oversize message is refused by the transport, not by a crash.
    grpc::ClientContext ctx;
    v1::SubmitJobRequest req;
    *req.mutable_spec() = SmallJob(1, 1);
    req.mutable_spec()->mutable_training()->add_extra_args(std::string(5 << 20, 'a'));
    v1::SubmitJobResponse r;
    EXPECT_FALSE(stub_->SubmitJob(&ctx, req, &r).ok());
  }
}

TEST_F(ServiceTest, RestartRecoversJobsAndRelaunchesOnesWhoseProcessesAreGone) {
  v1::Job running, queued;
  ASSERT_TRUE(Submit(SmallJob(2, 4), &running).ok());
  ASSERT_TRUE(Submit(SmallJob(2, 4), &queued).ok());
  Stop();
  Start();
  // The launcher found nothing of the running job (the fake's default):
  // it is placed and launched again from its checkpoint, without using up
  // a restart; the queued one waits behind it.
  EXPECT_EQ(launcher_.reattached, std::vector<std::string>{running.id()});
  auto jobs = core_->ListJobs({});
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0].id(), running.id());
  EXPECT_EQ(jobs[0].state(), v1::RUNNING);
  EXPECT_EQ(jobs[0].launches(), 2);
  EXPECT_EQ(jobs[0].restarts(), 0);
  EXPECT_EQ(jobs[1].state(), v1::QUEUED);
}

}  // namespace
}  // namespace meridian::scheduler
