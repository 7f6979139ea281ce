// meridian-sim: the scheduler core over a simulated cluster in virtual
// time (docs/simulation.md).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include <CLI/CLI.hpp>

#include "common/log.h"
#include "scheduler/core/synthetic_cluster.h"
#include "sim/failures.h"
#include "sim/generators.h"
#include "sim/ideal_run.h"
#include "sim/plot.h"
#include "sim/policies.h"
#include "sim/report.h"
#include "sim/simulation.h"
#include "sim/trace.h"

namespace {

int Fail(const meridian::Status& s) {
  std::fprintf(stderr, "meridian-sim: %s\n", s.ToString().c_str());
  return 1;
}

meridian::Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.close();
  if (!out) return meridian::Status::IOError(path + ": cannot write");
  return meridian::Status::OK();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace meridian;
  CLI::App app{"meridian-sim: the real scheduler core over a simulated cluster, in virtual time"};
  std::string cluster_file, cluster_words, trace_file, failures_file, json_file, timeline_file, quota_file, jobs_file,
      svg_file;
  std::string log_level = "warn";
  std::string policy = "backfill-topology-preempt";
  bool compare = false, durations_as_tokens = false;
  double max_slowdown = 0;
  std::string tenant_words;
  std::string failure_rate;
  sim::FailureStreamSpec failure_stream;
  sim::SimulationOptions options;
  sim::JobStreamSpec stream;
  int generate_jobs = 0;
  auto* cluster_opt = app.add_option("--cluster", cluster_file, "cluster file (YAML, docs/scheduler.md)")
                          ->check(CLI::ExistingFile);
  app.add_option("--generate-cluster", cluster_words, "a synthetic cluster: dcs=N,gpus=N[,gpus_per_node=8,region=K,...]")
      ->excludes(cluster_opt);
  auto* trace_opt = app.add_option("--trace", trace_file, "workload, JSON lines (docs/simulation.md)")
                        ->check(CLI::ExistingFile);
  app.add_option("--generate-jobs", generate_jobs, "a synthetic job stream of N jobs")->excludes(trace_opt);
  app.add_option("--seed", stream.seed, "seed of --generate-jobs")->capture_default_str();
  app.add_option("--mean-interarrival-s", stream.mean_interarrival_s, "--generate-jobs: mean seconds between submits")
      ->capture_default_str();
  app.add_option("--max-job-gpus", stream.max_gpus, "--generate-jobs: largest job")->capture_default_str();
  app.add_option("--tenants", tenant_words,
                 "--generate-jobs: the tenants and their shares of the jobs, NAME[:WEIGHT],... "
                 "(tenant-a,tenant-b,tenant-c)");
  app.add_option("--high-priority-share", stream.high_priority_share,
                 "--generate-jobs: this share of the jobs gets priority 10")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_flag("--durations-as-tokens", durations_as_tokens,
               "each job's duration becomes the tokens it trains in that time on the empty cluster's best "
               "placement, so a worse placement runs longer");
  auto* policy_opt = app.add_option("--policy", policy,
                                    "fifo-first-fit, backfill-first-fit, backfill-topology or "
                                    "backfill-topology-preempt (the daemon's)")
                         ->capture_default_str();
  app.add_option("--max-slowdown", max_slowdown,
                 "topology-aware policies start no job on a placement more than this many times slower than its "
                 "best on the empty cluster (the daemon's --max-slowdown; 0: off)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_flag("--compare", compare, "run every policy on the same inputs and print them side by side")
      ->excludes(policy_opt);
  app.add_option("--quota-file", quota_file, "tenants' GPU quotas, as the daemon's --quota-file")
      ->check(CLI::ExistingFile);
  app.add_option("--failures", failures_file, "node failures, JSON lines {at_s, node, down_s}")
      ->check(CLI::ExistingFile);
  app.add_option("--failure-rate", failure_rate,
                 "node failures per GPU-hour, drawn per node (Poisson), or llama3 (419 in 54 days on 16,384 GPUs: "
                 "1.97e-5)")
      ->excludes("--failures");
  app.add_option("--failure-down-s", failure_stream.down_s, "how long a drawn node failure lasts")
      ->capture_default_str();
  app.add_option("--dc-outages", failure_stream.dc_outages, "whole data centers down at random times")
      ->excludes("--failures")
      ->capture_default_str();
  app.add_option("--dc-outage-s", failure_stream.dc_outage_s, "how long each data-center outage lasts")
      ->capture_default_str();
  app.add_option("--failure-horizon-s", failure_stream.horizon_s,
                 "failures are drawn over [0, this) (default: the last submit plus a day)");
  app.add_option("--store", options.store, "sqlite (the daemon's, in a temporary directory) or memory")
      ->check(CLI::IsMember({"sqlite", "memory"}))
      ->capture_default_str();
  app.add_option("--checkpoint-every-s", options.checkpoint_interval_s,
                 "a killed attempt keeps whole intervals of its work (0: all)")
      ->capture_default_str();
  app.add_option("--node-timeout-s", options.node_timeout_s, "the core's --node-timeout")->capture_default_str();
  app.add_option("--node-probation-s", options.node_probation_s, "the core's --node-probation")->capture_default_str();
  app.add_option("--json", json_file, "write the summary as JSON here");
  app.add_option("--timeline", timeline_file, "write utilisation over time as CSV here");
  app.add_option("--svg", svg_file, "plot utilisation over time and the queueing-delay CDF (every policy's with --compare) here");
  app.add_option("--jobs", jobs_file, "write each job's submit, start, end and state as CSV here");
  app.add_option("--log-level", log_level, "the core's log level")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (Status s = InitLogging("meridian-sim", "", log_level); !s.ok()) return Fail(s);

  if (!cluster_file.empty()) {
    Result<scheduler::Topology> t = scheduler::LoadClusterFile(cluster_file);
    if (!t.ok()) return Fail(t.status());
    options.cluster = std::move(t).value();
  } else if (!cluster_words.empty()) {
    Result<scheduler::SyntheticClusterSpec> spec = sim::ParseClusterWords(cluster_words);
    if (!spec.ok()) return Fail(spec.status());
    options.cluster = scheduler::SyntheticCluster(*spec);
  } else {
    return Fail(Status::InvalidArgument("give --cluster FILE or --generate-cluster dcs=N,gpus=N"));
  }
  if (!trace_file.empty()) {
    Result<std::vector<sim::TraceJob>> jobs = sim::ReadTraceFile(trace_file);
    if (!jobs.ok()) return Fail(jobs.status());
    options.jobs = std::move(jobs).value();
  } else if (generate_jobs > 0) {
    stream.jobs = generate_jobs;
    if (!tenant_words.empty())
      if (Status s = sim::ParseTenantWeights(tenant_words, &stream); !s.ok()) return Fail(s);
    options.jobs = sim::GenerateJobs(stream);
  } else {
    return Fail(Status::InvalidArgument("give --trace FILE or --generate-jobs N"));
  }
  if (!failures_file.empty()) {
    Result<std::vector<sim::NodeFailure>> f = sim::ReadFailuresFile(failures_file);
    if (!f.ok()) return Fail(f.status());
    options.failures = std::move(f).value();
  }

  if (!failure_rate.empty() || failure_stream.dc_outages > 0) {
    if (failure_rate == "llama3") {
      failure_stream.per_gpu_hour = sim::kLlama3FailuresPerGpuHour;
    } else if (!failure_rate.empty()) {
      char* end = nullptr;
      failure_stream.per_gpu_hour = std::strtod(failure_rate.c_str(), &end);
      if (*end != '\0' || !(failure_stream.per_gpu_hour >= 0))
        return Fail(Status::InvalidArgument("--failure-rate " + failure_rate +
                                            ": expected failures per GPU-hour (>= 0) or llama3"));
    }
    if (failure_stream.horizon_s <= 0) {
      for (const sim::TraceJob& j : options.jobs) failure_stream.horizon_s = std::max(failure_stream.horizon_s, j.submit_s);
      failure_stream.horizon_s += 86400;
    }
    failure_stream.seed = stream.seed;
    options.failures = sim::GenerateFailures(options.cluster, failure_stream);
    std::fprintf(stderr, "%zu node failures drawn over %.0f s\n", options.failures.size(), failure_stream.horizon_s);
  }
  if (!quota_file.empty()) {
    Result<scheduler::Quotas> q = scheduler::LoadQuotaFile(quota_file);
    if (!q.ok()) return Fail(q.status());
    options.quotas = std::move(q).value();
  }
  if (durations_as_tokens) sim::DurationsToTokens(options.cluster, &options.jobs);
  if (compare) {
    std::vector<std::pair<std::string, sim::Summary>> runs;
    std::vector<sim::SimulationResult> results;
    results.reserve(sim::Policies().size());
    for (const sim::NamedPolicy& p : sim::Policies()) {
      options.policy = p.policy;
      if (p.policy.topology_aware) options.policy.max_slowdown = max_slowdown;
      Result<sim::SimulationResult> result = sim::RunSimulation(options);
      if (!result.ok()) return Fail(result.status().WithContext("policy " + p.name));
      char limit[32];
      std::snprintf(limit, sizeof limit, "+slowdown<=%g", max_slowdown);
      runs.emplace_back(options.policy.max_slowdown > 0 ? p.name + limit : p.name, sim::Summarise(*result));
      results.push_back(std::move(result).value());
      std::fprintf(stderr, "%s: done in %.1f s\n", p.name.c_str(), runs.back().second.wall_s);
    }
    std::cout << sim::ComparisonTable(runs);
    if (!json_file.empty())
      if (Status s = WriteFile(json_file, sim::ComparisonJson(runs).dump(2) + "\n"); !s.ok()) return Fail(s);
    if (!svg_file.empty()) {
      std::vector<std::pair<std::string, const sim::SimulationResult*>> plotted;
      for (size_t i = 0; i < runs.size(); ++i) plotted.emplace_back(runs[i].first, &results[i]);
      if (Status s = WriteFile(svg_file, sim::PlotSvg(plotted)); !s.ok()) return Fail(s);
    }
    return 0;
  }
  Result<scheduler::SchedulerCoreOptions::Policy> named = sim::PolicyNamed(policy);
  if (!named.ok()) return Fail(named.status());
  options.policy = *named;
  if (named->topology_aware) options.policy.max_slowdown = max_slowdown;

  Result<sim::SimulationResult> result = sim::RunSimulation(options);
  if (!result.ok()) return Fail(result.status());
  const sim::Summary summary = sim::Summarise(*result);
  std::cout << sim::SummaryTable(summary);
  for (const sim::JobOutcome& j : result->jobs)
    if (j.state == "REFUSED") std::fprintf(stderr, "line %d (%s): refused: %s\n", j.trace_line, j.name.c_str(), j.error.c_str());
  if (!json_file.empty())
    if (Status s = WriteFile(json_file, sim::SummaryJson(summary).dump(2) + "\n"); !s.ok()) return Fail(s);
  if (!timeline_file.empty())
    if (Status s = WriteFile(timeline_file, sim::TimelineCsv(*result)); !s.ok()) return Fail(s);
  if (!jobs_file.empty())
    if (Status s = WriteFile(jobs_file, sim::JobsCsv(*result)); !s.ok()) return Fail(s);
  if (!svg_file.empty())
    if (Status s = WriteFile(svg_file, sim::PlotSvg({{policy, &*result}})); !s.ok()) return Fail(s);
  return 0;
}
