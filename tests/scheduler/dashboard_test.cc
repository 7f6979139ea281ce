// The dashboard's JSON API as functions of the core (rows, filters, the
// placement and history of a job, metrics.jsonl read after a step, the
// log's tail, who sees what) and over the HTTP port (JSON errors naming
// the id, tokens as for /metrics, the embedded pages).
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <fstream>

#include "scheduler/observe/daemon_metrics.h"
#include "scheduler/observe/dashboard_api.h"
#include "scheduler/observe/http_server.h"
#include "tests/scheduler/core_fixture.h"
#include "tests/scheduler/tiny_job.h"

namespace meridian::scheduler {
namespace {

namespace fs = std::filesystem;

bool Contains(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }

// Jobs' files under `root`, as the real launcher lays them out.
class DirLauncher : public FakeLauncher {
 public:
  std::string LogPath(const std::string& job_id) const override {
    return (root / "jobs" / job_id / "output.log").string();
  }

  fs::path root;
};

class DashboardTest : public BasicCoreFixture<DirLauncher> {
 protected:
  void SetUp() override {
    launcher_.root = dir_;
    cluster_ = DefaultCluster(2);
    StartCore();
  }
  fs::path JobDir(const std::string& id) {
    fs::create_directories(dir_ / "jobs" / id);
    return dir_ / "jobs" / id;
  }

  const Principal admin_{"anyone", Role::kAdmin, "", 0, {}};
};

TEST_F(DashboardTest, JobRowsCarryLayoutPlacementAndProgressAndFilterByState) {
  ASSERT_TRUE(core_->SubmitJob(TinyJob(2, 1)).ok());
  ASSERT_TRUE(core_->SubmitJob(TinyJob(4, 1)).ok());  // waits: two of four slots are taken
  v1::Progress p;
  p.set_step(7);
  p.set_loss(2.5);
  p.set_tokens_per_s(1000);
  ASSERT_TRUE(core_->ReportProgress("job-000001", p).ok());

  auto all = JobsJson(*core_, admin_, "");
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ((*all)["jobs"].size(), 2u);
  const ApiJson& row = (*all)["jobs"][0];
  EXPECT_EQ(row["id"], "job-000001");
  EXPECT_EQ(row["state"], "RUNNING");
  EXPECT_EQ(row["layout"], "2x1");
  EXPECT_EQ(row["ranks"], 2);
  EXPECT_TRUE(Contains(row["placement"].get<std::string>(), "2 GPUs on 1 node")) << row.dump();
  EXPECT_EQ(row["step"], 7);
  EXPECT_EQ(row["loss"], 2.5);
  EXPECT_EQ(row["tokens_per_s"], 1000.0);
  EXPECT_EQ((*all)["jobs"][1]["state"], "QUEUED");
  EXPECT_EQ((*all)["jobs"][1]["placement"], "");

  auto queued = JobsJson(*core_, admin_, "queued,Placed");
  ASSERT_TRUE(queued.ok());
  ASSERT_EQ((*queued)["jobs"].size(), 1u);
  EXPECT_EQ((*queued)["jobs"][0]["id"], "job-000002");

  auto bad = JobsJson(*core_, admin_, "RUNNING,SLEEPING");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(HttpStatusFor(bad.status()), 400);
  EXPECT_TRUE(Contains(bad.status().message(), "SLEEPING")) << bad.status().message();
}

TEST_F(DashboardTest, AJobShowsItsRanksAndStateChangesAndAnUnknownIdIsNamed) {
  ASSERT_TRUE(core_->SubmitJob(TinyJob(2, 1)).ok());
  for (int step = 1; step <= 3; ++step) {
    v1::Progress p;
    p.set_step(step);
    p.set_loss(3.0);
    ASSERT_TRUE(core_->ReportProgress("job-000001", p).ok());
  }
  launcher_.Exit("job-000001", 0);
  auto job = JobJson(*core_, admin_, "job-000001");
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  EXPECT_EQ((*job)["job"]["state"], "SUCCEEDED");
  ASSERT_EQ((*job)["ranks"].size(), 2u);
  EXPECT_EQ((*job)["ranks"][1]["rank"], 1);
  EXPECT_FALSE((*job)["ranks"][0]["data_center"].get<std::string>().empty());
  std::vector<std::string> states;
  for (const auto& e : (*job)["events"]) states.push_back(e["state"].get<std::string>());
  EXPECT_EQ(states, (std::vector<std::string>{"QUEUED", "PLACED", "RUNNING", "SUCCEEDED"}));
  EXPECT_EQ((*job)["progress_events"], 3);
  EXPECT_EQ((*job)["metrics_path"], (dir_ / "jobs" / "job-000001" / "metrics.jsonl").string());

  auto missing = JobJson(*core_, admin_, "job-999999");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(HttpStatusFor(missing.status()), 404);
  EXPECT_TRUE(Contains(missing.status().message(), "job-999999"));
  EXPECT_EQ(HttpStatusFor(JobMetricsJson(*core_, admin_, "job-999999", -1).status()), 404);
  EXPECT_EQ(HttpStatusFor(JobLogJson(*core_, admin_, "job-999999", 10).status()), 404);
}

TEST_F(DashboardTest, MetricsAreReadAfterAStepSkippingWhatIsNotAWholeJsonLine) {
  const fs::path path = dir_ / "metrics.jsonl";
  std::ofstream(path) << R"({"loss":4.0,"lr":0.001,"step":1,"tokens_per_s":10.0})" "\n"
                      << R"({"loss":3.5,"lr":0.001,"step":2,"tokens_per_s":11.0})" "\n"
                      << "not json\n"
                      << R"({"eval_loss":3.6,"step":2})" "\n"
                      << R"({"loss":3.0,"lr":0.001,"step":3,"tokens_per_s":12.0})" "\n"
                      << R"({"loss":2.9,"lr":0.0)";  // the trainer is writing this one
  const ApiJson all = ReadMetricsSince(path.string(), -1, 0, DashboardLimits{});
  ASSERT_EQ(all["records"].size(), 4u) << all.dump();
  EXPECT_EQ(all["records"][2]["eval_loss"], 3.6);
  EXPECT_EQ(all["next_since"], 3);
  EXPECT_EQ(all["more"], false);

  const ApiJson after = ReadMetricsSince(path.string(), 1, 0, DashboardLimits{});
  ASSERT_EQ(after["records"].size(), 3u);
  EXPECT_EQ(after["records"][0]["step"], 2);

  // A cap of one record still returns step 2's loss and eval together.
  DashboardLimits one;
  one.max_metric_records = 1;
  const ApiJson page = ReadMetricsSince(path.string(), 1, 0, one);
  ASSERT_EQ(page["records"].size(), 2u) << page.dump();
  EXPECT_EQ(page["next_since"], 2);
  EXPECT_EQ(page["more"], true);
  EXPECT_EQ(ReadMetricsSince(path.string(), 2, 0, one)["records"][0]["step"], 3);

  // The line is finished: it counts from now on, read from where the last
  // answer stopped (the start of that line).
  const int64_t offset = all["next_offset"];
  EXPECT_EQ(offset, (int64_t)fs::file_size(path) - 20);
  std::ofstream(path, std::ios::app) << R"(01,"step":4})" "\n";
  const ApiJson resumed = ReadMetricsSince(path.string(), 3, offset, DashboardLimits{});
  ASSERT_EQ(resumed["records"].size(), 1u) << resumed.dump();
  EXPECT_EQ(resumed["records"][0]["loss"], 2.9);
  EXPECT_EQ(resumed["next_offset"], (int64_t)fs::file_size(path));
  // An offset that is not a line's start reads the file from the beginning.
  EXPECT_EQ(ReadMetricsSince(path.string(), 1, offset + 3, DashboardLimits{})["records"].size(), 4u);
  // Not started yet: no file, no records.
  EXPECT_TRUE(ReadMetricsSince((dir_ / "none.jsonl").string(), -1, 0, DashboardLimits{})["records"].empty());
}

TEST_F(DashboardTest, TheLogTailIsTheLastLinesWithinTheByteCap) {
  ASSERT_TRUE(core_->SubmitJob(TinyJob(2, 1)).ok());
  {
    std::ofstream log(JobDir("job-000001") / "output.log");
    for (int i = 1; i <= 10; ++i) log << "line " << i << "\n";
  }
  auto tail = JobLogJson(*core_, admin_, "job-000001", 3);
  ASSERT_TRUE(tail.ok()) << tail.status().ToString();
  EXPECT_EQ((*tail)["text"], "line 8\nline 9\nline 10\n");
  EXPECT_EQ((*tail)["lines"], 3);
  EXPECT_EQ((*tail)["truncated"], true);
  EXPECT_EQ((*JobLogJson(*core_, admin_, "job-000001", 100))["text"].get<std::string>().substr(0, 7), "line 1\n");

  DashboardLimits small;
  small.max_log_bytes = 12;  // "e 9\nline 10\n": the cut line is dropped
  auto capped = JobLogJson(*core_, admin_, "job-000001", 100, small);
  ASSERT_TRUE(capped.ok());
  EXPECT_EQ((*capped)["text"], "line 10\n");
  EXPECT_EQ(HttpStatusFor(JobLogJson(*core_, admin_, "job-000001", -1).status()), 400);
}

TEST_F(DashboardTest, ASubmitTokenSeesOnlyItsOwnJobs) {
  ASSERT_TRUE(core_->SubmitJob(TinyJob(1, 1), "alice").ok());
  ASSERT_TRUE(core_->SubmitJob(TinyJob(1, 1), "bob").ok());
  const Principal alice{"alice", Role::kSubmit, "", 0, {}};
  auto jobs = JobsJson(*core_, alice, "");
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ((*jobs)["jobs"].size(), 1u);
  EXPECT_EQ((*jobs)["jobs"][0]["owner"], "alice");
  EXPECT_TRUE(JobJson(*core_, alice, "job-000001").ok());
  EXPECT_EQ(HttpStatusFor(JobJson(*core_, alice, "job-000002").status()), 403);
  EXPECT_EQ(HttpStatusFor(JobMetricsJson(*core_, alice, "job-000002", -1).status()), 403);
  const Principal agent{"n1", Role::kAgent, "", 0, {}};
  EXPECT_EQ(HttpStatusFor(JobsJson(*core_, agent, "").status()), 403);
}

TEST_F(DashboardTest, TheHttpPortServesThePagesAndTheApiWithJsonErrors) {
  DaemonMetrics metrics;
  auto server = DaemonHttpServer::Start(HttpOptions{"127.0.0.1:0", "", "", {}}, core_.get(), &metrics, nullptr);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  ASSERT_TRUE(core_->SubmitJob(TinyJob(2, 1)).ok());
  httplib::Client c("127.0.0.1", (*server)->port());
  for (const char* page : {"/", "/job/job-000001", "/compare?ids=job-000001"}) {
    auto r = c.Get(page);
    ASSERT_TRUE(r) << page;
    EXPECT_EQ(r->status, 200) << page;
    EXPECT_TRUE(Contains(r->get_header_value("Content-Type"), "text/html")) << page;
    EXPECT_TRUE(Contains(r->body, "/dashboard/dashboard.js")) << page;
  }
  auto js = c.Get("/dashboard/dashboard.js");
  ASSERT_TRUE(js);
  EXPECT_EQ(js->status, 200);
  EXPECT_TRUE(Contains(js->get_header_value("Content-Type"), "javascript"));
  EXPECT_TRUE(Contains(js->body, "data-points"));
  EXPECT_EQ(c.Get("/dashboard/nothing.js")->status, 404);

  auto jobs = c.Get("/api/jobs?state=RUNNING");
  ASSERT_TRUE(jobs);
  EXPECT_EQ(jobs->status, 200);
  EXPECT_EQ(jobs->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(ApiJson::parse(jobs->body)["jobs"][0]["id"], "job-000001");
  auto cluster = ApiJson::parse(c.Get("/api/cluster")->body);
  EXPECT_EQ(cluster["data_centers"].size(), 2u);
  EXPECT_EQ(cluster["links"].size(), 1u);
  EXPECT_EQ(ApiJson::parse(c.Get("/api/jobs/job-000001/metrics?since=0")->body)["records"].size(), 0u);

  for (const char* path : {"/api/jobs/job-999999", "/api/jobs/job-999999/metrics", "/api/jobs/job-999999/log"}) {
    auto r = c.Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 404) << path;
    EXPECT_TRUE(Contains(ApiJson::parse(r->body)["error"].get<std::string>(), "job-999999")) << r->body;
  }
  EXPECT_EQ(c.Get("/api/jobs?state=nope")->status, 400);
  EXPECT_EQ(c.Get("/api/jobs/job-000001/metrics?since=x")->status, 400);
  EXPECT_EQ(c.Get("/api/nothing")->status, 404);
}

TEST_F(DashboardTest, TheApiWantsATokenAsMetricsDoesButThePageLoadsWithout) {
  std::ofstream(dir_ / "tokens.yaml") << "tokens:\n"
                                         "  - {name: viewer, role: read, token: \"read-token-0123456789\"}\n"
                                         "  - {name: n1, role: agent, token: \"agent-token-0123456789\"}\n";
  auto authorizer = Authorizer::Create((dir_ / "tokens.yaml").string(), (dir_ / "job.key").string());
  ASSERT_TRUE(authorizer.ok());
  DaemonMetrics metrics;
  auto server = DaemonHttpServer::Start(HttpOptions{"127.0.0.1:0", "", "", {}}, core_.get(), &metrics,
                                        authorizer->get());
  ASSERT_TRUE(server.ok());
  httplib::Client c("127.0.0.1", (*server)->port());
  EXPECT_EQ(c.Get("/")->status, 200);
  auto refused = c.Get("/api/jobs");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 401);
  EXPECT_EQ(refused->get_header_value("WWW-Authenticate"), "Bearer");
  EXPECT_TRUE(ApiJson::parse(refused->body).contains("error"));
  EXPECT_EQ(c.Get("/api/jobs/job-999999")->status, 401);  // nothing said about what exists
  EXPECT_EQ(c.Get("/api/cluster", {{"Authorization", "Bearer agent-token-0123456789"}})->status, 403);
  EXPECT_EQ(c.Get("/api/cluster", {{"Authorization", "Bearer read-token-0123456789"}})->status, 200);
}

}  // namespace
}  // namespace meridian::scheduler
