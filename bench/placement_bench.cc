#include "bench/placement_bench.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench/table.h"
#include "scheduler/core/synthetic_cluster.h"
#include "scheduler/placement/baselines.h"
#include "scheduler/placement/placement.h"

namespace meridian::bench {

namespace {

using scheduler::DataCenter;
using scheduler::InterDcLink;
using scheduler::JobRequest;
using scheduler::Node;
using scheduler::Occupancy;
using scheduler::Placement;
using scheduler::Topology;

struct PlacementOptions {
  int data_centers = 250;
  int nodes_per_dc = 64;
  int gpus_per_node = 8;
  std::string model = "d12";
  int dp = 512, pp = 8;
  int runs = 7;
  double target_ms = 100.0;
  double target_gap = 0.05;
  int random_seeds = 10;
};

// Counts invalid placements; each one is also printed.
struct Checker {
  int invalid = 0;
  void Check(const char* who, const Topology& t, const Occupancy& occ, const JobRequest& job, const Placement& p) {
    const Status s = scheduler::ValidatePlacement(t, occ, job, p);
    if (s.ok()) return;
    ++invalid;
    std::fprintf(stderr, "INVALID (%s): %s\n", who, s.ToString().c_str());
  }
};

JobRequest Job(const std::string& preset, int dp, int pp) {
  JobRequest j;
  j.model = *PresetConfig(preset);
  j.batch = 8;
  j.seq = 1024;
  j.microbatches = 8;
  j.bytes_per_activation = 2;
  j.dp = dp;
  j.pp = pp;
  return j;
}

JobRequest CpuJob(int dp, int pp) {  // the demo's model on CPU slots
  JobRequest j = Job("d4", dp, pp);
  j.model.vocab_size = j.model.padded_vocab_size = 256;
  j.model.max_seq_len = j.seq = 64;
  j.batch = 4;
  j.microbatches = 4;
  j.bytes_per_activation = 4;
  return j;
}

JobRequest Auto(JobRequest j, int gpus) {
  j.auto_layout = true;
  j.gpus = gpus;
  return j;
}

std::string Layout(const JobRequest& j) {
  return j.auto_layout ? "auto" + std::to_string(j.gpus) : std::to_string(j.dp) + "x" + std::to_string(j.pp);
}

std::string Chosen(const Placement& p) { return std::to_string(p.dp) + "x" + std::to_string(p.pp) + " " + DpSyncName(p.dp_sync); }

Node MakeNode(const std::string& name, const std::string& dc, int gpus, const std::string& model, double memory_gb,
              double tflops, double nvlink_gbps) {
  Node n;
  n.name = name;
  n.data_center = dc;
  n.intra_node_gbps = nvlink_gbps;
  for (int g = 0; g < gpus; ++g) n.gpus.push_back(scheduler::Gpu{g, model, memory_gb, tflops});
  return n;
}

DataCenter Dc(const std::string& name, double fabric_gbps) {
  DataCenter dc;
  dc.name = name;
  dc.fabric_gbps = fabric_gbps;
  return dc;
}

// (a) Time to place one big job, median of several runs.
void SpeedTable(const PlacementOptions& o, Checker& checker) {
  scheduler::SyntheticClusterSpec spec;
  spec.data_centers = o.data_centers;
  spec.nodes_per_dc = o.nodes_per_dc;
  spec.gpus_per_node = o.gpus_per_node;
  spec.region_size = 10;
  const Topology topo = scheduler::SyntheticCluster(spec);
  // A busy cluster too: every other node of every data center taken.
  Occupancy busy;
  for (size_t n = 0; n < topo.nodes.size(); n += 2)
    for (int g = 0; g < o.gpus_per_node; ++g) busy[topo.nodes[n].name][g] = "job-other";
  const JobRequest fixed = Job(o.model, o.dp, o.pp);
  struct Row {
    std::string name;
    const Occupancy* occ;
    JobRequest job;
  };
  const Occupancy empty;
  const std::vector<Row> rows = {{"empty", &empty, fixed},
                                 {"empty", &empty, Auto(fixed, o.dp * o.pp)},
                                 {"half-busy", &busy, fixed},
                                 {"half-busy", &busy, Auto(fixed, o.dp * o.pp)}};
  Table table({"cluster", "dcs", "gpus", "model", "job", "chosen", "dcs-used", "median(ms)", "min(ms)", "target(ms)",
               "result"});
  for (const Row& row : rows) {
    std::vector<double> ms;
    Result<Placement> p = Status::Internal("not run");
    for (int r = 0; r < std::max(o.runs, 1); ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      p = scheduler::PlaceJob(topo, *row.occ, row.job);
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    const double median = ms[ms.size() / 2];
    std::string chosen = "-", dcs_used = "-";
    if (p.ok()) {
      checker.Check("ours", topo, *row.occ, row.job, *p);
      std::vector<std::string> dcs;
      for (const auto& r : p->ranks) dcs.push_back(r.data_center);
      std::sort(dcs.begin(), dcs.end());
      dcs_used = std::to_string(std::unique(dcs.begin(), dcs.end()) - dcs.begin());
      chosen = Chosen(*p);
    } else {
      ++checker.invalid;
      std::fprintf(stderr, "placement failed: %s\n", p.status().ToString().c_str());
    }
    table.AddRow({row.name, std::to_string(o.data_centers), std::to_string(topo.TotalGpus()), o.model, Layout(row.job),
                  chosen, dcs_used, Fixed(median, 2), Fixed(ms.front(), 2), Fixed(o.target_ms, 0),
                  p.ok() && median < o.target_ms ? "pass" : "FAIL"});
  }
  std::printf("# (a) time to place: synthetic cluster, %d DCs x %d nodes x %d GPUs, regions of 10 DCs; median of %d runs\n",
              o.data_centers, o.nodes_per_dc, o.gpus_per_node, o.runs);
  std::printf("%s\n", table.ToString().c_str());
}

struct Case {
  std::string name;
  Topology topo;
  Occupancy occ;
  std::vector<JobRequest> jobs;
};

std::vector<Case> CrossDcCases() {
  std::vector<Case> cases;
  cases.push_back({"local-2dc", scheduler::DefaultCluster(4), {}, {CpuJob(2, 2), CpuJob(4, 2), CpuJob(1, 4), Auto(CpuJob(1, 1), 8)}});
  scheduler::SyntheticClusterSpec spec;
  spec.data_centers = 4;
  spec.nodes_per_dc = 2;
  spec.region_size = 2;
  cases.push_back({"4dc-2x8", scheduler::SyntheticCluster(spec), {}, {Job("d12", 4, 4), Job("d12", 8, 2), Job("d24", 16, 4), Job("d48", 2, 8)}});
  Case busy{"4dc-2x8-busy", scheduler::SyntheticCluster(spec), {}, {Job("d12", 4, 4), Job("d24", 12, 2), Job("d36", 3, 8)}};
  for (int g = 0; g < 5; ++g) busy.occ["dc-000-n000"][g] = "job-other";
  for (int g = 0; g < 8; ++g) busy.occ["dc-002-n001"][g] = "job-other";
  cases.push_back(busy);
  Case geo{"3dc-hetero", {}, {}, {Job("d24", 4, 4), Job("d36", 8, 4), Job("d12", 24, 2), Auto(Job("d48", 1, 1), 32)}};
  geo.topo.default_inter_dc_gbps = 10;
  geo.topo.default_inter_dc_latency_ms = 80;
  geo.topo.data_centers = {Dc("us-east", 400), Dc("us-west", 400), Dc("eu-central", 200)};
  for (int n = 0; n < 4; ++n) geo.topo.nodes.push_back(MakeNode("use-" + std::to_string(n), "us-east", 8, "H200", 141, 989, 7200));
  for (int n = 0; n < 2; ++n) geo.topo.nodes.push_back(MakeNode("usw-" + std::to_string(n), "us-west", 8, "H200", 141, 989, 7200));
  for (int n = 0; n < 2; ++n) geo.topo.nodes.push_back(MakeNode("euc-" + std::to_string(n), "eu-central", 8, "A100", 80, 312, 2400));
  geo.topo.links = {InterDcLink{"us-east", "us-west", 100, 35}, InterDcLink{"us-east", "eu-central", 40, 45}};
  cases.push_back(geo);
  return cases;
}

// (b) Ours against placers blind to the network.
void QualityTable(const PlacementOptions& o, Checker& checker) {
  Table table({"cluster", "job", "chosen", "ours(s)", "round-robin(s)", "random(s)", "rr/ours", "random/ours"});
  for (const Case& c : CrossDcCases()) {
    for (const JobRequest& job : c.jobs) {
      Result<Placement> ours = scheduler::PlaceJob(c.topo, c.occ, job);
      Result<Placement> rr = scheduler::RoundRobinPlacement(c.topo, c.occ, job);
      if (!ours.ok() || !rr.ok()) {
        ++checker.invalid;
        std::fprintf(stderr, "%s %s: %s / %s\n", c.name.c_str(), Layout(job).c_str(), ours.status().ToString().c_str(),
                     rr.status().ToString().c_str());
        continue;
      }
      checker.Check("ours", c.topo, c.occ, job, *ours);
      checker.Check("round-robin", c.topo, c.occ, job, *rr);
      double random = 0;
      for (int seed = 1; seed <= o.random_seeds; ++seed) {
        Result<Placement> r = scheduler::RandomPlacement(c.topo, c.occ, job, seed);
        if (!r.ok()) {
          ++checker.invalid;
          continue;
        }
        checker.Check("random", c.topo, c.occ, job, *r);
        random += r->predicted_step_s / o.random_seeds;
      }
      table.AddRow({c.name, Layout(job), Chosen(*ours), Fixed(ours->predicted_step_s, 4), Fixed(rr->predicted_step_s, 4),
                    Fixed(random, 4), Fixed(rr->predicted_step_s / ours->predicted_step_s, 2) + "x",
                    Fixed(random / ours->predicted_step_s, 2) + "x"});
    }
  }
  std::printf("# (b) predicted step time: ours vs round-robin vs random (mean of %d seeds); higher ratio = ours better\n",
              o.random_seeds);
  std::printf("%s\n", table.ToString().c_str());
}

std::vector<Case> SmallCases() {
  std::vector<Case> cases;
  cases.push_back({"local-2dc", scheduler::DefaultCluster(4), {},
                   {CpuJob(2, 2), CpuJob(4, 2), CpuJob(1, 4), CpuJob(3, 2), Auto(CpuJob(1, 1), 8)}});
  Case hetero{"hetero-2dc", {}, {}, {Job("d12", 1, 4), Job("d12", 2, 2), Job("d12", 3, 2), Auto(Job("d12", 1, 1), 6)}};
  hetero.topo.data_centers = {Dc("a", 400), Dc("b", 200)};
  hetero.topo.nodes = {MakeNode("a0", "a", 2, "H200", 141, 989, 7200), MakeNode("a1", "a", 2, "A100", 80, 312, 2400),
                       MakeNode("b0", "b", 4, "A100", 80, 312, 2400)};
  hetero.topo.links = {InterDcLink{"a", "b", 10, 30}};
  cases.push_back(hetero);
  Case three{"3dc-links", {}, {}, {Job("d12", 4, 2), Job("d12", 2, 3), Job("d12", 6, 1), Auto(Job("d12", 1, 1), 8)}};
  three.topo.data_centers = {Dc("a", 400), Dc("b", 400), Dc("c", 400)};
  three.topo.nodes = {MakeNode("a0", "a", 3, "H200", 141, 989, 7200), MakeNode("b0", "b", 3, "H200", 141, 989, 7200),
                      MakeNode("c0", "c", 2, "H200", 141, 989, 7200)};
  three.topo.links = {InterDcLink{"a", "b", 100, 10}, InterDcLink{"a", "c", 1, 80}, InterDcLink{"b", "c", 10, 40}};
  cases.push_back(three);
  Case mixed{"mixed-nodes", {}, {}, {Job("d12", 2, 2), Job("d12", 4, 2), Job("d24", 1, 3), Job("d12", 2, 3)}};
  mixed.topo.data_centers = {Dc("a", 100), Dc("b", 400)};
  mixed.topo.nodes = {MakeNode("a0", "a", 1, "A100", 80, 312, 2400), MakeNode("a1", "a", 3, "H200", 141, 989, 7200),
                      MakeNode("a2", "a", 2, "L40S", 48, 362, 512), MakeNode("b0", "b", 2, "H200", 141, 989, 7200),
                      MakeNode("b1", "b", 2, "A100", 80, 312, 2400)};
  mixed.occ["a1"][0] = "job-other";
  cases.push_back(mixed);
  return cases;
}

// (c) Ours against the exhaustive optimum.
void GapTable(const PlacementOptions& o, Checker& checker) {
  Table table({"cluster", "gpus", "job", "chosen", "ours(s)", "optimum(s)", "gap", "ours(ms)", "exhaustive(ms)", "result"});
  double worst = 0;
  for (const Case& c : SmallCases()) {
    for (const JobRequest& job : c.jobs) {
      const auto t0 = std::chrono::steady_clock::now();
      Result<Placement> ours = scheduler::PlaceJob(c.topo, c.occ, job);
      const auto t1 = std::chrono::steady_clock::now();
      Result<Placement> best = scheduler::ExhaustivePlacement(c.topo, c.occ, job, 10);
      const auto t2 = std::chrono::steady_clock::now();
      if (!ours.ok() || !best.ok()) {
        ++checker.invalid;
        std::fprintf(stderr, "%s %s: %s / %s\n", c.name.c_str(), Layout(job).c_str(), ours.status().ToString().c_str(),
                     best.status().ToString().c_str());
        continue;
      }
      checker.Check("ours", c.topo, c.occ, job, *ours);
      checker.Check("exhaustive", c.topo, c.occ, job, *best);
      const double gap = ours->predicted_step_s / best->predicted_step_s - 1.0;
      worst = std::max(worst, gap);
      table.AddRow({c.name, std::to_string(c.topo.TotalGpus()), Layout(job), Chosen(*ours), Fixed(ours->predicted_step_s, 4),
                    Fixed(best->predicted_step_s, 4), Percent(gap),
                    Fixed(std::chrono::duration<double, std::milli>(t1 - t0).count(), 3),
                    Fixed(std::chrono::duration<double, std::milli>(t2 - t1).count(), 1),
                    gap <= o.target_gap ? "pass" : "FAIL"});
    }
  }
  std::printf("# (c) gap to the exhaustive optimum on small clusters (target <= %s); worst %s\n",
              Percent(o.target_gap).c_str(), Percent(worst).c_str());
  std::printf("%s\n", table.ToString().c_str());
}

int RunPlacement(const PlacementOptions& o) {
  if (!PresetConfig(o.model).ok()) {
    std::fprintf(stderr, "error: --model %s: expected d4, d12, d24, d36 or d48\n", o.model.c_str());
    return 2;
  }
  Checker checker;
  SpeedTable(o, checker);
  QualityTable(o, checker);
  GapTable(o, checker);
  std::printf("# %s: %d invalid or failed placements\n", checker.invalid == 0 ? "ok" : "WRONG", checker.invalid);
  return checker.invalid == 0 ? 0 : 1;
}

}  // namespace

void AddPlacementBenchmark(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<PlacementOptions>();
  CLI::App* sub = app.add_subcommand("placement", "Placement engine: speed at scale, quality vs baselines and the optimum");
  sub->add_option("--data-centers", o->data_centers, "Data centers of the synthetic cluster for the speed table");
  sub->add_option("--nodes-per-dc", o->nodes_per_dc);
  sub->add_option("--gpus-per-node", o->gpus_per_node);
  sub->add_option("--model", o->model, "Preset of the big job (d4, d12, d24, d36, d48)");
  sub->add_option("--dp", o->dp);
  sub->add_option("--pp", o->pp);
  sub->add_option("--runs", o->runs, "Timed runs per row (the median is reported)");
  sub->add_option("--target-ms", o->target_ms);
  sub->add_option("--random-seeds", o->random_seeds);
  sub->callback([o, exit_code]() { *exit_code = RunPlacement(*o); });
}

}  // namespace meridian::bench
