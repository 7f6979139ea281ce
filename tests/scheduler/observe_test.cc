// What operators watch the daemon through: the standard gRPC health
// service, every RPC counted by the interceptor, the metrics text built
// from the core, and the HTTP port's /healthz and /metrics with and
// without a token file.
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <fstream>

#include <grpcpp/generic/generic_stub.h>

#include "scheduler/observe/daemon_metrics.h"
#include "scheduler/observe/http_server.h"
#include "scheduler/observe/rpc_metrics_interceptor.h"
#include "scheduler/service/scheduler_service.h"
#include "tests/scheduler/core_fixture.h"
#include "tests/scheduler/tiny_job.h"

namespace meridian::scheduler {
namespace {

namespace fs = std::filesystem;

bool Contains(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }

class ObserveTest : public CoreFixture {
 protected:
  void SetUp() override {
    cluster_ = DefaultCluster(2);
    options_.on_placement = [this](double seconds, bool placed) { metrics_.RecordPlacement(seconds, placed); };
    StartCore();
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }
  void StartGrpc() {
    service_ = std::make_unique<SchedulerService>(core_.get());
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
    interceptors.push_back(RpcMetricsInterceptor(&metrics_));
    server_ = StartSchedulerServer("127.0.0.1:0", service_.get(), &port_, ServerTls(), std::move(interceptors));
    ASSERT_TRUE(server_ != nullptr);
    stub_ = v1::Scheduler::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(port_), grpc::InsecureChannelCredentials()));
  }

  DaemonMetrics metrics_;
  std::unique_ptr<SchedulerService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::Scheduler::Stub> stub_;
  int port_ = 0;
};

TEST_F(ObserveTest, TheGrpcHealthServiceSaysServing) {
  StartGrpc();
  // grpc.health.v1.Health/Check with an empty HealthCheckRequest (the
  // whole server); the answer is HealthCheckResponse{status: SERVING = 1}.
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port_), grpc::InsecureChannelCredentials());
  grpc::GenericStub generic(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::ByteBuffer request, response;
  grpc::Slice empty("", 0);
  request = grpc::ByteBuffer(&empty, 1);
  grpc::Status s;
  std::mutex mu;
  std::condition_variable done;
  bool finished = false;
  generic.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                    [&](grpc::Status status) {
                      std::lock_guard<std::mutex> lock(mu);
                      s = status;
                      finished = true;
                      done.notify_one();
                    });
  std::unique_lock<std::mutex> lock(mu);
  done.wait(lock, [&] { return finished; });
  ASSERT_TRUE(s.ok()) << s.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (const grpc::Slice& slice : slices) bytes.append((const char*)slice.begin(), slice.size());
  EXPECT_EQ(bytes, std::string("\x08\x01", 2));
}

TEST_F(ObserveTest, EveryRpcIsCountedByMethodAndCode) {
  StartGrpc();
  for (int i = 0; i < 2; ++i) {
    grpc::ClientContext ctx;
    v1::ListPoolsResponse r;
    ASSERT_TRUE(stub_->ListPools(&ctx, v1::ListPoolsRequest(), &r).ok());
  }
  grpc::ClientContext ctx;
  v1::GetJobRequest req;
  req.set_id("job-999999");
  v1::GetJobResponse r;
  EXPECT_EQ(stub_->GetJob(&ctx, req, &r).error_code(), grpc::StatusCode::NOT_FOUND);
  const std::string text = metrics_.Render(*core_);
  EXPECT_TRUE(Contains(text, "meridian_rpc_requests_total{code=\"OK\",method=\"ListPools\"} 2")) << text;
  EXPECT_TRUE(Contains(text, "meridian_rpc_requests_total{code=\"NOT_FOUND\",method=\"GetJob\"} 1")) << text;
  EXPECT_TRUE(Contains(text, "meridian_rpc_duration_seconds_count{method=\"ListPools\"} 2")) << text;
}

TEST_F(ObserveTest, TheMetricsShowJobsQueueNodesAndRunningJobs) {
  // Two one-GPU-per-DC slots per data center: a 4-rank job runs, a second waits.
  ASSERT_TRUE(core_->SubmitJob(TinyJob(2, 2)).ok());
  ASSERT_TRUE(core_->SubmitJob(TinyJob(2, 2)).ok());
  v1::Progress p;
  p.set_step(7);
  p.set_loss(2.5);
  p.set_tokens_per_s(1000);
  p.set_mfu(0.42);
  p.set_bytes_inter_dc(1.5e6);
  ASSERT_TRUE(core_->ReportProgress("job-000001", p).ok());
  // A plan of a third such job searches the cluster now (no room) and the
  // empty one (room).
  ASSERT_TRUE(core_->Plan(TinyJob(2, 2)).ok());
  const std::string text = metrics_.Render(*core_);
  // Searches that placed: the first submit's check that the job fits an
  // empty cluster (the second submit, of the same shape, reuses it), the
  // first job's placement, and the plan's empty cluster. The second job is
  // not searched while fewer GPUs are free than it needs; the plan's
  // search now finds no room.
  EXPECT_TRUE(Contains(text, "meridian_placement_duration_seconds_count{result=\"placed\"} 3")) << text;
  EXPECT_TRUE(Contains(text, "meridian_placement_duration_seconds_count{result=\"no_fit\"} 1")) << text;
  EXPECT_TRUE(Contains(text, "meridian_job_mfu{job=\"job-000001\"")) << text;
  EXPECT_TRUE(Contains(text, "} 0.42\n")) << text;
  EXPECT_TRUE(Contains(text, "meridian_job_step_bytes{job=\"job-000001\",link=\"wan\"")) << text;
  EXPECT_TRUE(Contains(text, "} 1500000\n")) << text;
  EXPECT_TRUE(Contains(text, "meridian_jobs{state=\"RUNNING\"} 1")) << text;
  EXPECT_TRUE(Contains(text, "meridian_jobs{state=\"QUEUED\"} 1")) << text;
  EXPECT_TRUE(Contains(text, "meridian_jobs{state=\"FAILED\"} 0")) << text;
  EXPECT_TRUE(Contains(text, "meridian_queue_length 1")) << text;
  EXPECT_TRUE(Contains(text, "meridian_nodes{state=\"alive\"} 2")) << text;
  EXPECT_TRUE(Contains(text, "meridian_job_step{job=\"job-000001\"")) << text;
  EXPECT_TRUE(Contains(text, "} 7\n")) << text;
  EXPECT_TRUE(Contains(text, "meridian_gpus{data_center=\"dc-east\",use=\"used\"} 2")) << text;
  // Per-job series only for those who may read the job: a submit token
  // sees its own jobs' (this one has no owner), read and admin tokens all.
  const Principal alice{"alice", Role::kSubmit, "", 0, {}};
  const Principal grafana{"grafana", Role::kRead, "", 0, {}};
  EXPECT_FALSE(Contains(metrics_.Render(*core_, &alice), "job=\"job-000001\""));
  EXPECT_TRUE(Contains(metrics_.Render(*core_, &alice), "meridian_jobs{state=\"RUNNING\"} 1"));
  EXPECT_TRUE(Contains(metrics_.Render(*core_, &grafana), "job=\"job-000001\""));
  // A job that ended leaves the per-job series.
  launcher_.Exit("job-000001", 0);
  EXPECT_FALSE(Contains(metrics_.Render(*core_), "job=\"job-000001\""));
}

TEST_F(ObserveTest, ASubmitTokenSeesTheSeriesOfItsOwnJobsOnly) {
  ASSERT_TRUE(core_->SubmitJob(TinyJob(1, 1), "alice").ok());
  ASSERT_TRUE(core_->SubmitJob(TinyJob(1, 1), "bob").ok());
  const Principal alice{"alice", Role::kSubmit, "", 0, {}};
  const std::string text = metrics_.Render(*core_, &alice);
  EXPECT_TRUE(Contains(text, "meridian_job_restarts{job=\"job-000001\"")) << text;
  EXPECT_FALSE(Contains(text, "job-000002")) << text;
}

TEST(HttpHost, TheHostPartOfAHostHeader) {
  EXPECT_EQ(HostOfHostHeader("Example.ORG:8080"), "example.org");
  EXPECT_EQ(HostOfHostHeader("[::1]:8080"), "::1");
  EXPECT_EQ(HostOfHostHeader("127.0.0.1"), "127.0.0.1");
  EXPECT_EQ(HostOfHostHeader(""), "");
}

TEST_F(ObserveTest, TheHttpPortRefusesForeignHostsBigBodiesAndSendsSecurityHeaders) {
  HttpOptions options{"127.0.0.1:0", "", "", {"meridian.example"}};
  auto server = DaemonHttpServer::Start(options, core_.get(), &metrics_, nullptr);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  httplib::Client client("127.0.0.1", (*server)->port());
  auto ok = client.Get("/healthz");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->get_header_value("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(ok->get_header_value("X-Frame-Options"), "DENY");
  EXPECT_NE(ok->get_header_value("Content-Security-Policy").find("frame-ancestors 'none'"), std::string::npos);
  // DNS rebinding: a page of another site reaching this port by a name of its own.
  auto rebound = client.Get("/api/jobs", {{"Host", "attacker.example"}});
  ASSERT_TRUE(rebound);
  EXPECT_EQ(rebound->status, 403);
  EXPECT_NE(rebound->body.find("attacker.example"), std::string::npos);
  auto named = client.Get("/healthz", {{"Host", "MERIDIAN.example:8080"}});
  ASSERT_TRUE(named);
  EXPECT_EQ(named->status, 200);
  auto big = client.Post("/api/jobs", std::string(1 << 20, 'x'), "text/plain");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
}

TEST_F(ObserveTest, TheHttpPortServesHealthAndMetricsAndChecksTokens) {
  auto plain = DaemonHttpServer::Start(HttpOptions{"127.0.0.1:0", "", "", {}}, core_.get(), &metrics_, nullptr);
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  httplib::Client client("127.0.0.1", (*plain)->port());
  auto health = client.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto text = client.Get("/metrics");
  ASSERT_TRUE(text);
  EXPECT_EQ(text->status, 200);
  EXPECT_TRUE(Contains(text->body, "# TYPE meridian_jobs gauge"));
  EXPECT_TRUE(Contains(text->get_header_value("Content-Type"), "text/plain; version=0.0.4"));

  std::ofstream(dir_ / "tokens.yaml") << "tokens:\n"
                                         "  - {name: viewer, role: read, token: \"read-token-0123456789\"}\n"
                                         "  - {name: n1, role: agent, token: \"agent-token-0123456789\"}\n";
  auto authorizer = Authorizer::Create((dir_ / "tokens.yaml").string(), (dir_ / "job.key").string());
  ASSERT_TRUE(authorizer.ok());
  auto secured = DaemonHttpServer::Start(HttpOptions{"127.0.0.1:0", "", "", {}}, core_.get(), &metrics_,
                                         authorizer->get());
  ASSERT_TRUE(secured.ok());
  httplib::Client c("127.0.0.1", (*secured)->port());
  EXPECT_EQ(c.Get("/healthz")->status, 200);  // says nothing about what runs
  EXPECT_EQ(c.Get("/metrics")->status, 401);
  EXPECT_EQ(c.Get("/metrics", {{"Authorization", "Bearer agent-token-0123456789"}})->status, 403);
  EXPECT_EQ(c.Get("/metrics", {{"Authorization", "Bearer read-token-0123456789"}})->status, 200);
}

TEST_F(ObserveTest, AnAddressInUseIsAnErrorNamingIt) {
  auto first = DaemonHttpServer::Start(HttpOptions{"127.0.0.1:0", "", "", {}}, core_.get(), &metrics_, nullptr);
  ASSERT_TRUE(first.ok());
  const std::string taken = "127.0.0.1:" + std::to_string((*first)->port());
  auto second = DaemonHttpServer::Start(HttpOptions{taken, "", "", {}}, core_.get(), &metrics_, nullptr);
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(Contains(second.status().message(), taken)) << second.status().message();
}

}  // namespace
}  // namespace meridian::scheduler
