// A small simulation whose every number is worked out by hand, checked
// exactly against the summary JSON meridian-sim writes.
#include <gtest/gtest.h>

#include "sim/plot.h"
#include "sim/policies.h"
#include "sim/report.h"
#include "sim/simulation.h"
#include "sim/trace.h"

namespace meridian::sim {
namespace {

// One data center, one node of 4 GPUs.
scheduler::Topology FourGpus() {
  Result<scheduler::Topology> t = scheduler::ParseClusterYaml(R"(
data_centers:
  - name: dc
    nodes:
      - {name: n0, gpus: 4, gpu_model: H100, gpu_memory_gb: 80, gpu_tflops: 989}
)",
                                                              "four.yaml");
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return *t;
}

// A needs all 4 GPUs for 100 s from t=0. B (2 GPUs, 50 s, t=10) and C (2
// GPUs, 30 s, t=20) wait for A and start together at 100; D (1 GPU, 10 s,
// t=30) finds no room until C ends at 130.
//   waits: A 0, B 90, C 80, D 100
//   busy GPUs: 4 over [0,130) (A, then B+C), 3 over [130,140) (B+D),
//   2 over [140,150) (B): 400 + 120 + 30 + 20 = 570 GPU-s of 4 x 150.
const char* kTrace = R"(
{"submit_s": 0,  "name": "A", "dp": 4, "model": "d4", "duration_s": 100}
{"submit_s": 10, "name": "B", "dp": 2, "model": "d4", "duration_s": 50}
{"submit_s": 20, "name": "C", "dp": 1, "pp": 2, "model": "d4", "duration_s": 30}
{"submit_s": 30, "name": "D", "dp": 1, "model": "d4", "duration_s": 10, "tenant": "other"}
)";

TEST(Simulation, WaitsAndUtilisationMatchTheHandComputedOnes) {
  for (const char* store : {"sqlite", "memory"}) {
    SCOPED_TRACE(store);
    SimulationOptions options;
    options.cluster = FourGpus();
    options.store = store;
    Result<std::vector<TraceJob>> jobs = ParseTrace(kTrace, "trace");
    ASSERT_TRUE(jobs.ok()) << jobs.status().ToString();
    options.jobs = *jobs;
    Result<SimulationResult> result = RunSimulation(options);
    ASSERT_TRUE(result.ok()) << result.status().ToString();

    ASSERT_EQ(result->jobs.size(), 4u);
    const double starts[] = {0, 100, 100, 130}, ends[] = {100, 150, 130, 140};
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(result->jobs[i].state, "SUCCEEDED") << i;
      EXPECT_EQ(result->jobs[i].start_s, starts[i]) << i;
      EXPECT_EQ(result->jobs[i].end_s, ends[i]) << i;
    }

    const nlohmann::json j = SummaryJson(Summarise(*result));
    EXPECT_EQ(j["jobs"]["submitted"], 4);
    EXPECT_EQ(j["jobs"]["succeeded"], 4);
    EXPECT_EQ(j["jobs"]["refused"], 0);
    EXPECT_EQ(j["jobs"]["restarts"], 0);
    EXPECT_EQ(j["total_gpus"], 4);
    EXPECT_EQ(j["makespan_s"].get<double>(), 150.0);
    EXPECT_EQ(j["busy_gpu_s"].get<double>(), 570.0);
    EXPECT_EQ(j["utilisation"].get<double>(), 570.0 / 600.0);
    // Nearest rank over {0, 80, 90, 100}: p50 the 2nd, p99 the 4th.
    const nlohmann::json& all = j["queueing_delay"]["all"];
    EXPECT_EQ(all["jobs"], 4);
    EXPECT_EQ(all["p50_s"].get<double>(), 80.0);
    EXPECT_EQ(all["p99_s"].get<double>(), 100.0);
    EXPECT_EQ(all["mean_s"].get<double>(), 67.5);
    EXPECT_EQ(all["max_s"].get<double>(), 100.0);
    const nlohmann::json& one = j["queueing_delay"]["1"];
    EXPECT_EQ(one["jobs"], 1);
    EXPECT_EQ(one["p50_s"].get<double>(), 100.0);
    const nlohmann::json& small = j["queueing_delay"]["2-8"];
    EXPECT_EQ(small["jobs"], 3);
    EXPECT_EQ(small["p50_s"].get<double>(), 80.0);
    EXPECT_EQ(small["p99_s"].get<double>(), 90.0);
    EXPECT_FALSE(j["queueing_delay"].contains("9-64"));
    // Every placement search is timed (wall clock), at least one per job.
    EXPECT_GE(j["placement"]["searches"].get<int>(), 4);

    // The timeline: a point at each change of busy GPUs.
    const std::string csv = TimelineCsv(*result);
    EXPECT_EQ(csv,
              "t_s,busy_gpus,total_gpus,utilisation,running_jobs\n"
              "0,4,4,1,1\n"
              "100,4,4,1,2\n"
              "130,3,4,0.75,2\n"
              "140,2,4,0.5,1\n"
              "150,0,4,0,0\n");
  }
}

// `trace` run on FourGpus() with the in-memory store, under `policy`
// (the daemon's by default).
Result<SimulationResult> RunOnFourGpus(const char* trace, const std::string& policy = "backfill-topology-preempt") {
  Result<std::vector<TraceJob>> jobs = ParseTrace(trace, "trace");
  if (!jobs.ok()) return jobs.status();
  SimulationOptions options;
  options.cluster = FourGpus();
  options.store = "memory";
  options.jobs = *jobs;
  Result<scheduler::SchedulerCoreOptions::Policy> named = PolicyNamed(policy);
  if (!named.ok()) return named.status();
  options.policy = *named;
  return RunSimulation(options);
}

// Backfill against strict order: A (2 GPUs, 100 s) runs from 0; B (4
// GPUs, 10 s, t=1) must wait for it; C (2 GPUs, 50 s, t=2) fits beside A.
//   backfill: C runs 2-52 and B 100-110 (waits A 0, B 99, C 0);
//   strict order: C waits behind B and runs 110-160 (C waits 108).
TEST(Simulation, BackfillStartsAJobThatFitsWhereStrictOrderMakesItWait) {
  const char* trace = R"(
{"submit_s": 0, "name": "A", "dp": 2, "model": "d4", "duration_s": 100}
{"submit_s": 1, "name": "B", "dp": 4, "model": "d4", "duration_s": 10}
{"submit_s": 2, "name": "C", "dp": 2, "model": "d4", "duration_s": 50}
)";
  Result<SimulationResult> backfill = RunOnFourGpus(trace, "backfill-topology");
  Result<SimulationResult> fifo = RunOnFourGpus(trace, "fifo-first-fit");
  ASSERT_TRUE(backfill.ok()) << backfill.status().ToString();
  ASSERT_TRUE(fifo.ok()) << fifo.status().ToString();
  const double backfill_starts[] = {0, 100, 2}, fifo_starts[] = {0, 100, 110};
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(backfill->jobs[i].start_s, backfill_starts[i]) << i;
    EXPECT_EQ(fifo->jobs[i].start_s, fifo_starts[i]) << i;
  }
  EXPECT_EQ(Summarise(*backfill).makespan_s, 110.0);
  EXPECT_EQ(Summarise(*fifo).makespan_s, 160.0);
}

// Without preemption the job of higher priority waits for the one running.
TEST(Simulation, WithoutPreemptionAHigherPriorityWaits) {
  Result<SimulationResult> result = RunOnFourGpus(R"(
{"submit_s": 0,  "name": "A", "dp": 4, "model": "d4", "duration_s": 100}
{"submit_s": 30, "name": "B", "dp": 4, "model": "d4", "duration_s": 20, "priority": 5}
)",
                                                  "backfill-topology");
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->jobs[0].end_s, 100.0);
  EXPECT_EQ(result->jobs[1].start_s, 100.0);
  EXPECT_EQ(Summarise(*result).preemptions, 0);
}

// Useful work: what the jobs that succeeded needed at their ideal run
// time (here their durations), over the GPU-seconds of the run.
TEST(Simulation, UsefulUtilisationCountsTheWorkOfJobsThatSucceeded) {
  Result<SimulationResult> result = RunOnFourGpus(R"(
{"submit_s": 0,  "name": "A", "dp": 2, "model": "d4", "duration_s": 100}
{"submit_s": 0,  "name": "B", "dp": 1, "model": "d4", "duration_s": 50}
)");
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  const Summary s = Summarise(*result);
  EXPECT_EQ(s.useful_gpu_s, 2 * 100.0 + 50.0);
  EXPECT_DOUBLE_EQ(s.useful_utilisation, 250.0 / (4 * 100.0));
}

// Priorities: A (priority 9, above all: none preempts it) holds all 4
// GPUs over [0,100). B (4 GPUs, 50 s, t=10, priority 0) and C (4 GPUs,
// 20 s, t=20, priority 5) wait; C, submitted later but of higher
// priority, runs first at 100. D (4 GPUs, 10 s, t=30, priority 5) ties C
// and was submitted after it: it runs at 120, B at 130.
//   waits: A 0, B 120, C 80, D 90
TEST(Simulation, AWaitingJobOfHigherPriorityIsPlacedFirst) {
  Result<SimulationResult> result = RunOnFourGpus(R"(
{"submit_s": 0,  "name": "A", "dp": 4, "model": "d4", "duration_s": 100, "priority": 9}
{"submit_s": 10, "name": "B", "dp": 4, "model": "d4", "duration_s": 50}
{"submit_s": 20, "name": "C", "dp": 4, "model": "d4", "duration_s": 20, "priority": 5}
{"submit_s": 30, "name": "D", "dp": 4, "model": "d4", "duration_s": 10, "priority": 5}
)");
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ASSERT_EQ(result->jobs.size(), 4u);
  const double starts[] = {0, 130, 100, 120}, ends[] = {100, 180, 120, 130};
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(result->jobs[i].start_s, starts[i]) << i;
    EXPECT_EQ(result->jobs[i].end_s, ends[i]) << i;
  }
}

// Preemption: A (priority 0) holds all 4 GPUs from 0 for 100 s; B
// (priority 5, 4 GPUs, 20 s) comes at 30 and stops it. A goes back to the
// queue with its 30 s of work kept (no checkpoint interval: all of it),
// runs again when B ends at 50 and finishes its other 70 s at 120.
TEST(Simulation, AJobOfHigherPriorityPreemptsALowerOne) {
  Result<SimulationResult> result = RunOnFourGpus(R"(
{"submit_s": 0,  "name": "A", "dp": 4, "model": "d4", "duration_s": 100}
{"submit_s": 30, "name": "B", "dp": 4, "model": "d4", "duration_s": 20, "priority": 5}
)");
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ASSERT_EQ(result->jobs.size(), 2u);
  EXPECT_EQ(result->jobs[0].state, "SUCCEEDED");
  EXPECT_EQ(result->jobs[0].end_s, 120.0);
  EXPECT_EQ(result->jobs[1].start_s, 30.0);
  EXPECT_EQ(result->jobs[1].end_s, 50.0);
  const nlohmann::json j = SummaryJson(Summarise(*result));
  EXPECT_EQ(j["jobs"]["restarts"], 0);
  EXPECT_EQ(j["busy_gpu_s"].get<double>(), 4.0 * 120);
}

// Two victims: A and B (2 GPUs each, 100 s) hold the 4 GPUs; C (4 GPUs,
// 20 s, priority 5) comes at 30 and stops both. Their exits reach the core
// one after the other: the GPUs the first one frees stay C's (the requeued
// job must not take them back, or C would preempt again and again). C
// runs 30-50; A and B run their other 70 s from 50 to 120.
//   busy: 4 x 30 + 4 x 20 + 4 x 70 = 480 GPU-s; 2 preemptions, 0 restarts
TEST(Simulation, GpusFreedForAPreemptionAreHeldForTheJobThatPreempted) {
  Result<SimulationResult> result = RunOnFourGpus(R"(
{"submit_s": 0,  "name": "A", "dp": 2, "model": "d4", "duration_s": 100}
{"submit_s": 0,  "name": "B", "dp": 2, "model": "d4", "duration_s": 100}
{"submit_s": 30, "name": "C", "dp": 4, "model": "d4", "duration_s": 20, "priority": 5}
)");
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ASSERT_EQ(result->jobs.size(), 3u);
  EXPECT_EQ(result->jobs[2].start_s, 30.0);
  EXPECT_EQ(result->jobs[2].end_s, 50.0);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(result->jobs[i].state, "SUCCEEDED") << i;
    EXPECT_EQ(result->jobs[i].end_s, 120.0) << i;
    EXPECT_EQ(result->jobs[i].preemptions, 1) << i;
  }
  const Summary s = Summarise(*result);
  EXPECT_EQ(s.preemptions, 2);
  EXPECT_EQ(s.restarts, 0);
  EXPECT_EQ(s.busy_gpu_s, 4.0 * 120);
}

// Quotas on 4 GPUs: tenant a is guaranteed 2 and may borrow 2 more; b is
// guaranteed 2 and borrows nothing.
//   0   A1 (a, 2 GPUs, 100 s) starts; 1: A2 (a, 2, 100 s) starts, a borrows 2
//   2   A3 (a, 1, 10 s) waits: a would hold 5 > 2 + 2
//   10  B1 (b, 2, 20 s) is inside b's guarantee: it takes back a's newest
//       job, A2 (9 s done, requeued), and runs 10-30
//   11  B2 (b, 2, 20 s) waits: b would hold 4 > 2 + 0
//   30  B1 ends: A2 is placed again, then B2 (b holds 0 now) takes it back
//       once more (A2 kept 9 s); B2 runs 30-50
//   50  A2 runs its other 91 s: 50-141
//   100 A1 ends; A3 fits a's quota again: 100-110
TEST(Simulation, QuotasLimitATenantAndTakeBackWhatItBorrowed) {
  Result<std::vector<TraceJob>> jobs = ParseTrace(R"(
{"submit_s": 0,  "name": "A1", "tenant": "a", "dp": 2, "model": "d4", "duration_s": 100}
{"submit_s": 1,  "name": "A2", "tenant": "a", "dp": 2, "model": "d4", "duration_s": 100}
{"submit_s": 2,  "name": "A3", "tenant": "a", "dp": 1, "model": "d4", "duration_s": 10}
{"submit_s": 10, "name": "B1", "tenant": "b", "dp": 2, "model": "d4", "duration_s": 20}
{"submit_s": 11, "name": "B2", "tenant": "b", "dp": 2, "model": "d4", "duration_s": 20}
)",
                                                  "trace");
  ASSERT_TRUE(jobs.ok()) << jobs.status().ToString();
  SimulationOptions options;
  options.cluster = FourGpus();
  options.store = "memory";
  options.jobs = *jobs;
  options.quotas.tenants["a"] = scheduler::TenantQuota{2, 2};
  options.quotas.tenants["b"] = scheduler::TenantQuota{2, 0};
  Result<SimulationResult> result = RunSimulation(options);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ASSERT_EQ(result->jobs.size(), 5u);
  const double starts[] = {0, 1, 100, 10, 30}, ends[] = {100, 141, 110, 30, 50};
  const int preemptions[] = {0, 2, 0, 0, 0};
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(result->jobs[i].state, "SUCCEEDED") << i;
    EXPECT_EQ(result->jobs[i].start_s, starts[i]) << i;
    EXPECT_EQ(result->jobs[i].end_s, ends[i]) << i;
    EXPECT_EQ(result->jobs[i].preemptions, preemptions[i]) << i;
  }
}

// Patience (Policy.max_slowdown): X holds dc-a's 2 GPUs for 100 s; Z (dp
// 2, a d12, 20 s) comes at 1 and finds only dc-b's and dc-c's one GPU
// each, joined by a 1 Gbit/s link: its gradients would cross the WAN
// every step, far more than 2x slower than inside dc-a.
//   no limit: Z starts at 1 across the WAN;
//   max_slowdown 2: Z waits for dc-a and runs 100-120.
// dc-a: 2 GPUs; dc-b and dc-c: 1 each, joined by a 1 Gbit/s WAN.
scheduler::Topology ThreeDataCenters() {
  Result<scheduler::Topology> cluster = scheduler::ParseClusterYaml(R"(
default_inter_dc_gbps: 1
data_centers:
  - name: dc-a
    nodes: [{name: a0, gpus: 2, gpu_model: H100, gpu_memory_gb: 80, gpu_tflops: 989}]
  - name: dc-b
    nodes: [{name: b0, gpus: 1, gpu_model: H100, gpu_memory_gb: 80, gpu_tflops: 989}]
  - name: dc-c
    nodes: [{name: c0, gpus: 1, gpu_model: H100, gpu_memory_gb: 80, gpu_tflops: 989}]
)",
                                                                   "three.yaml");
  EXPECT_TRUE(cluster.ok()) << cluster.status().ToString();
  return *cluster;
}

TEST(Simulation, AJobWaitsForAPlacementWithinItsSlowdownLimit) {
  const scheduler::Topology cluster = ThreeDataCenters();
  Result<std::vector<TraceJob>> jobs = ParseTrace(R"(
{"submit_s": 0, "name": "X", "dp": 2, "model": "d12", "duration_s": 100}
{"submit_s": 1, "name": "Z", "dp": 2, "model": "d12", "duration_s": 20}
)",
                                                  "trace");
  ASSERT_TRUE(jobs.ok()) << jobs.status().ToString();
  for (double limit : {0.0, 2.0}) {
    SimulationOptions options;
    options.cluster = cluster;
    options.store = "memory";
    options.jobs = *jobs;
    options.policy.max_slowdown = limit;
    Result<SimulationResult> result = RunSimulation(options);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    EXPECT_EQ(result->jobs[0].start_s, 0.0) << limit;
    EXPECT_EQ(result->jobs[1].start_s, limit == 0 ? 1.0 : 100.0) << limit;
  }
}

// The plot page: a utilisation line and a delay CDF per run, names
// escaped for XML.
TEST(Simulation, ThePlotHasTwoLinesPerRun) {
  Result<SimulationResult> a = RunOnFourGpus(kTrace), b = RunOnFourGpus(kTrace, "fifo-first-fit");
  ASSERT_TRUE(a.ok() && b.ok());
  const std::string svg = PlotSvg({{"a<=1", &*a}, {"b", &*b}});
  size_t lines = 0;
  for (size_t at = svg.find("<polyline"); at != std::string::npos; at = svg.find("<polyline", at + 1)) ++lines;
  EXPECT_EQ(lines, 4u);
  EXPECT_NE(svg.find("a&lt;=1"), std::string::npos);
  EXPECT_EQ(svg.find("a<=1"), std::string::npos);
  EXPECT_EQ(svg.rfind("</svg>\n"), svg.size() - 7);
}

// A preemption frees only a placement the job would take: X (dp 2) holds
// dc-a from 0, Y and W one GPU each in dc-b and dc-c from 0.5, all 100 s.
// Z (dp 2, priority 5, 20 s) comes at 1 with max_slowdown 2. The newest
// jobs go first, but freeing W and Y would give it dc-b + dc-c over the
// WAN, too slow: it frees X's dc-a instead.
// Z runs 1-21; X, requeued with 1 s done, runs its other 99 s from 21.
// (Freeing Y and W and then refusing their GPUs repeated the preemption
// without end.)
TEST(Simulation, APreemptionFreesOnlyAPlacementWithinTheSlowdownLimit) {
  Result<std::vector<TraceJob>> jobs = ParseTrace(R"(
{"submit_s": 0, "name": "X", "dp": 2, "model": "d12", "duration_s": 100}
{"submit_s": 0.5, "name": "Y", "dp": 1, "model": "d12", "duration_s": 100}
{"submit_s": 0.5, "name": "W", "dp": 1, "model": "d12", "duration_s": 100}
{"submit_s": 1, "name": "Z", "dp": 2, "model": "d12", "duration_s": 20, "priority": 5}
)",
                                                  "trace");
  ASSERT_TRUE(jobs.ok()) << jobs.status().ToString();
  SimulationOptions options;
  options.cluster = ThreeDataCenters();
  options.store = "memory";
  options.jobs = *jobs;
  options.policy.max_slowdown = 2;
  Result<SimulationResult> result = RunSimulation(options);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  const double ends[] = {120, 100.5, 100.5, 21};
  const int preemptions[] = {1, 0, 0, 0};
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(result->jobs[i].end_s, ends[i]) << i;
    EXPECT_EQ(result->jobs[i].preemptions, preemptions[i]) << i;
  }
  EXPECT_EQ(result->jobs[3].start_s, 1.0);
}

// A job that can never fit is refused at submit, as the daemon refuses it,
// and counted as such.
TEST(Simulation, AJobTooBigForTheClusterIsRefused) {
  SimulationOptions options;
  options.cluster = FourGpus();
  options.store = "memory";
  Result<std::vector<TraceJob>> jobs =
      ParseTrace(R"({"submit_s": 0, "name": "huge", "dp": 8, "model": "d4", "duration_s": 10})", "trace");
  ASSERT_TRUE(jobs.ok());
  options.jobs = *jobs;
  Result<SimulationResult> result = RunSimulation(options);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->jobs[0].state, "REFUSED");
  EXPECT_NE(result->jobs[0].error.find("does not fit"), std::string::npos) << result->jobs[0].error;
  const Summary s = Summarise(*result);
  EXPECT_EQ(s.refused, 1);
  EXPECT_EQ(s.makespan_s, 0);
}

// A node that stops heartbeating: the core declares it dead after the node
// timeout, stops its job and places it again on the other node, where it
// runs what its last checkpoint left.
//   A runs on n0 from 0; n0 falls silent at 20, is dead at 50.001 (30 s
//   timeout, checked just after); A kept 50 s (whole 10 s checkpoints) of
//   its 100 and runs the other 50 on n1: it ends at 100.001.
// Two nodes of 4 GPUs; A (4 GPUs, 100 s) from 0 with a checkpoint every
// 10 s, and n0 failing at `failure_at_s` for good.
SimulationOptions OneJobAndAFailure(double failure_at_s) {
  SimulationOptions options;
  Result<scheduler::Topology> t = scheduler::ParseClusterYaml(R"(
data_centers:
  - name: dc
    nodes:
      - {name: n0, gpus: 4, gpu_model: H100, gpu_memory_gb: 80, gpu_tflops: 989}
      - {name: n1, gpus: 4, gpu_model: H100, gpu_memory_gb: 80, gpu_tflops: 989}
)",
                                                              "two.yaml");
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  options.cluster = *t;
  options.store = "memory";
  options.checkpoint_interval_s = 10;
  Result<std::vector<TraceJob>> jobs =
      ParseTrace(R"({"submit_s": 0, "name": "A", "dp": 4, "model": "d4", "duration_s": 100})", "trace");
  EXPECT_TRUE(jobs.ok());
  options.jobs = *jobs;
  options.failures = {NodeFailure{failure_at_s, "n0", 1000}};
  return options;
}

TEST(Simulation, AFailedNodesJobRestartsElsewhereFromItsCheckpoint) {
  Result<SimulationResult> result = RunSimulation(OneJobAndAFailure(20));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  const JobOutcome& a = result->jobs[0];
  EXPECT_EQ(a.state, "SUCCEEDED");
  EXPECT_EQ(a.restarts, 1);
  EXPECT_EQ(a.start_s, 0);
  EXPECT_NEAR(a.end_s, 100.001, 1e-6);
  // Busy 4 GPUs throughout, the restart's moment aside.
  const Summary s = Summarise(*result);
  EXPECT_NEAR(s.busy_gpu_s, 4 * 100.001, 1e-6);
  EXPECT_EQ(s.restarts, 1);
}

// A's node fails at 25 s with a checkpoint every 10 s: the attempt keeps
// 20 s of work and loses the rest it ran, on 4 GPUs. A job inside one
// data center sends nothing between data centers.
TEST(Simulation, WorkSinceTheLastCheckpointIsCountedLost) {
  Result<SimulationResult> result = RunSimulation(OneJobAndAFailure(25));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  const JobOutcome& a = result->jobs[0];
  ASSERT_EQ(a.restarts, 1);
  // It restarts the moment it is killed, with 80 s of work left.
  const double killed_at = a.end_s - 80;
  EXPECT_GT(killed_at, 25);
  const Summary s = Summarise(*result);
  EXPECT_NEAR(s.lost_gpu_s, 4 * (killed_at - 20), 1e-6);
  EXPECT_EQ(s.wan_bytes, 0);
  EXPECT_EQ(SummaryJson(s)["lost_gpu_s"], s.lost_gpu_s);
}

// A job whose replicas span two data centers sends its DP exchange over
// the link between them for as long as it runs.
TEST(Simulation, AJobAcrossDataCentersCountsItsWanBytes) {
  SimulationOptions options;
  Result<scheduler::Topology> t = scheduler::ParseClusterYaml(R"(
data_centers:
  - name: dc-a
    nodes:
      - {name: a0, gpus: 2, gpu_model: H100, gpu_memory_gb: 80, gpu_tflops: 989}
  - name: dc-b
    nodes:
      - {name: b0, gpus: 2, gpu_model: H100, gpu_memory_gb: 80, gpu_tflops: 989}
links:
  - {a: dc-a, b: dc-b, gbps: 10, latency_ms: 5}
)",
                                                              "two-dcs.yaml");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  options.cluster = *t;
  options.store = "memory";
  Result<std::vector<TraceJob>> jobs =
      ParseTrace(R"({"submit_s": 0, "name": "A", "dp": 4, "model": "d4", "duration_s": 100})", "trace");
  ASSERT_TRUE(jobs.ok());
  options.jobs = *jobs;
  Result<SimulationResult> result = RunSimulation(options);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->jobs[0].state, "SUCCEEDED");
  EXPECT_GT(Summarise(*result).wan_bytes, 0);
}

TEST(Simulation, AFailureOfAnUnknownNodeIsAnError) {
  SimulationOptions options;
  options.cluster = FourGpus();
  options.store = "memory";
  options.failures = {NodeFailure{20, "nope", 10}};
  Result<SimulationResult> result = RunSimulation(options);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().message(), "failures: node = nope: not in the cluster");
}

}  // namespace
}  // namespace meridian::sim
