// The trace and failure readers: what they accept, and errors that name the
// line and the field.
#include <gtest/gtest.h>

#include <map>

#include "scheduler/core/synthetic_cluster.h"
#include "sim/failures.h"
#include "sim/generators.h"
#include "sim/trace.h"

namespace meridian::sim {
namespace {

TEST(Trace, ReadsEveryFieldAndDefaultsTheRest) {
  Result<std::vector<TraceJob>> jobs = ParseTrace(
      "# a comment, then a blank line\n"
      "\n"
      R"({"submit_s": 5.5, "name": "a", "tenant": "lab", "dp": 2, "pp": 3, "model": "d24", "duration_s": 100, "priority": 7})"
      "\n"
      R"({"submit_s": 0, "gpus": 16, "tokens": 1e9, "batch": 4, "seq": 2048, "microbatches": 8})"
      "\n",
      "t.jsonl");
  ASSERT_TRUE(jobs.ok()) << jobs.status().ToString();
  ASSERT_EQ(jobs->size(), 2u);
  const TraceJob& a = (*jobs)[0];
  EXPECT_EQ(a.line, 3);
  EXPECT_EQ(a.submit_s, 5.5);
  EXPECT_EQ(a.name, "a");
  EXPECT_EQ(a.tenant, "lab");
  EXPECT_EQ(a.dp, 2);
  EXPECT_EQ(a.pp, 3);
  EXPECT_EQ(a.model, "d24");
  EXPECT_EQ(a.duration_s, 100);
  EXPECT_EQ(a.priority, 7);
  EXPECT_EQ(TraceJobGpus(a), 6);
  const TraceJob& b = (*jobs)[1];
  EXPECT_EQ(b.name, "line-4");
  EXPECT_EQ(b.gpus, 16);
  EXPECT_EQ(b.tokens, 1e9);
  EXPECT_EQ(b.model, "d12");
  EXPECT_EQ(b.batch, 4);
  EXPECT_EQ(b.seq, 2048);
  EXPECT_EQ(b.microbatches, 8);
  EXPECT_EQ(TraceJobGpus(b), 16);
  // dp alone means pp 1.
  Result<std::vector<TraceJob>> dp_only = ParseTrace(R"({"submit_s": 0, "dp": 4, "duration_s": 1})", "t");
  ASSERT_TRUE(dp_only.ok());
  EXPECT_EQ((*dp_only)[0].pp, 1);
}

TEST(Trace, ErrorsNameTheLineAndTheField) {
  const std::string ok = R"({"submit_s": 0, "dp": 1, "duration_s": 10})";
  struct Case {
    std::string line, error;
  };
  const std::vector<Case> cases = {
      {R"({"dp": 1, "duration_s": 10})", "t.jsonl: line 2: submit_s: required"},
      {R"({"submit_s": -1, "dp": 1, "duration_s": 10})", "t.jsonl: line 2: submit_s = -1: must be >= 0"},
      {R"({"submit_s": "soon", "dp": 1, "duration_s": 10})", "t.jsonl: line 2: submit_s = \"soon\": must be a number"},
      {R"({"submit_s": 0, "dp": 0, "duration_s": 10})", "t.jsonl: line 2: dp = 0: must be in [1, 65536]"},
      {R"({"submit_s": 0, "dp": 1.5, "duration_s": 10})", "t.jsonl: line 2: dp = 1.5: must be a whole number"},
      {R"({"submit_s": 0, "duration_s": 10})", "t.jsonl: line 2: dp: required (or gpus)"},
      {R"({"submit_s": 0, "dp": 2, "gpus": 2, "duration_s": 10})",
       "t.jsonl: line 2: gpus = 2: give either dp and pp or gpus, not both"},
      {R"({"submit_s": 0, "dp": 1})", "t.jsonl: line 2: duration_s: give exactly one of duration_s and tokens"},
      {R"({"submit_s": 0, "dp": 1, "duration_s": 1, "tokens": 5})",
       "t.jsonl: line 2: duration_s = 1: give exactly one of duration_s and tokens"},
      {R"({"submit_s": 0, "dp": 1, "duration_s": 0})", "t.jsonl: line 2: duration_s = 0: must be > 0"},
      {R"({"submit_s": 0, "dp": 1, "duration_s": 1, "model": 12})", "t.jsonl: line 2: model = 12: must be a string"},
      {R"({"submit_s": 0, "dp": 1, "duration_s": 1, "gpu": 3})", "t.jsonl: line 2: gpu: unknown field"},
      {R"({"submit_s": 0, "dp": 1, "duration_s": 1)", "t.jsonl: line 2: not valid JSON"},
      {R"([1, 2])", "t.jsonl: line 2: expected a JSON object"},
  };
  for (const Case& c : cases) {
    Result<std::vector<TraceJob>> jobs = ParseTrace(ok + "\n" + c.line + "\n", "t.jsonl");
    ASSERT_FALSE(jobs.ok()) << c.line;
    EXPECT_EQ(jobs.status().code(), Status::Code::kInvalidArgument);
    EXPECT_EQ(jobs.status().message().rfind(c.error, 0), 0u) << jobs.status().message() << "\n  expected: " << c.error;
  }
}

TEST(Trace, AMissingFileIsAnError) {
  Result<std::vector<TraceJob>> jobs = ReadTraceFile("/nonexistent/trace.jsonl");
  ASSERT_FALSE(jobs.ok());
  EXPECT_NE(jobs.status().message().find("/nonexistent/trace.jsonl"), std::string::npos);
}

TEST(Failures, ReadsAndNamesTheLineAndField) {
  Result<std::vector<NodeFailure>> f = ParseFailures(R"({"at_s": 50, "node": "n0", "down_s": 200})", "f");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ASSERT_EQ(f->size(), 1u);
  EXPECT_EQ((*f)[0].at_s, 50);
  EXPECT_EQ((*f)[0].node, "n0");
  EXPECT_EQ((*f)[0].down_s, 200);
  Result<std::vector<NodeFailure>> bad = ParseFailures("\n" R"({"at_s": 50, "node": "n0", "down_s": -1})", "f");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "f: line 2: down_s = -1: must be a number >= 0");
  bad = ParseFailures(R"({"at_s": 50, "down_s": 1})", "f");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "f: line 1: node: required, a node name");
}

}  // namespace
}  // namespace meridian::sim

namespace meridian::sim {
namespace {

// Drawn failures: about rate x GPUs x hours of them, never on a node that
// is down, a data-center outage takes every node of one data center at
// once, and the same seed draws the same stream.
TEST(Failures, DrawnAtTheGivenRateWithWholeDataCenterOutages) {
  scheduler::SyntheticClusterSpec c;
  c.data_centers = 4;
  c.nodes_per_dc = 25;  // 100 nodes of 8 GPUs
  const scheduler::Topology cluster = scheduler::SyntheticCluster(c);
  FailureStreamSpec spec;
  spec.per_gpu_hour = 1e-3;  // 8e-3 a node-hour
  spec.down_s = 60;
  spec.horizon_s = 100 * 3600.0;
  const std::vector<NodeFailure> drawn = GenerateFailures(cluster, spec);
  // 100 nodes x 100 h x 8e-3 = 80 on average (a Poisson count: sd 9).
  const double expected = 100 * 100 * 8e-3;
  EXPECT_GT(drawn.size(), expected * 0.65);
  EXPECT_LT(drawn.size(), expected * 1.35);
  std::map<std::string, double> up_at;
  for (size_t i = 0; i < drawn.size(); ++i) {
    if (i > 0) EXPECT_LE(drawn[i - 1].at_s, drawn[i].at_s);
    EXPECT_GE(drawn[i].at_s, up_at[drawn[i].node]) << drawn[i].node;
    up_at[drawn[i].node] = drawn[i].at_s + drawn[i].down_s;
  }
  EXPECT_EQ(GenerateFailures(cluster, spec).size(), drawn.size());

  FailureStreamSpec outage;
  outage.dc_outages = 1;
  outage.dc_outage_s = 600;
  outage.horizon_s = 3600;
  const std::vector<NodeFailure> dc = GenerateFailures(cluster, outage);
  ASSERT_EQ(dc.size(), 25u);
  for (const NodeFailure& f : dc) {
    EXPECT_EQ(f.at_s, dc[0].at_s);
    EXPECT_EQ(f.down_s, 600);
    EXPECT_EQ(f.node.substr(0, 6), dc[0].node.substr(0, 6));
  }
  EXPECT_TRUE(GenerateFailures(cluster, FailureStreamSpec{}).empty());
}

}  // namespace
}  // namespace meridian::sim

namespace meridian::sim {
namespace {

// Tenants' shares of a generated stream are dealt, not drawn: 3:1 gives
// exactly three of every four jobs to the first; equal ones a round robin.
TEST(Generator, DealsJobsToTenantsByTheirShares) {
  JobStreamSpec spec;
  spec.jobs = 400;
  ASSERT_TRUE(ParseTenantWeights("big:3,small", &spec).ok());
  std::map<std::string, int> count;
  for (const TraceJob& j : GenerateJobs(spec)) ++count[j.tenant];
  EXPECT_EQ(count["big"], 300);
  EXPECT_EQ(count["small"], 100);
  JobStreamSpec equal;
  equal.jobs = 6;
  const std::vector<TraceJob> jobs = GenerateJobs(equal);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(jobs[i].tenant, equal.tenants[i % 3]) << i;
  for (const char* bad : {"a:0", "a:x", ":2", ""}) EXPECT_FALSE(ParseTenantWeights(bad, &spec).ok()) << bad;
}

}  // namespace
}  // namespace meridian::sim
