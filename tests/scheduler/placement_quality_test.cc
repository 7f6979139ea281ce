// How good PlaceJob's choices are: near the exhaustive optimum on small
// clusters, and better than placers blind to the network.
#include <gtest/gtest.h>

#include <numeric>

#include "scheduler/core/synthetic_cluster.h"
#include "scheduler/placement/baselines.h"
#include "scheduler/placement/placement.h"
#include "tests/scheduler/placement_test_util.h"

namespace meridian::scheduler {
namespace {

struct Case {
  std::string name;
  Topology topo;
  Occupancy occ;
  std::vector<JobRequest> jobs;
};

// Small clusters (at most 10 GPUs) where the exhaustive search is cheap.
std::vector<Case> SmallCases() {
  std::vector<Case> cases;
  cases.push_back({"default", DefaultCluster(4), {},
                   {SmallJob(2, 2), SmallJob(4, 2), SmallJob(1, 4), SmallJob(3, 2), SmallJob(2, 3), SmallJob(8, 1),
                    AutoJob(SmallJob(1, 1), 4), AutoJob(SmallJob(1, 1), 8)}});

  Case hetero{"hetero-2dc", {}, {}, {}};
  hetero.topo.data_centers = {MakeDc("a"), MakeDc("b", 200)};
  hetero.topo.nodes = {MakeNode("a0", "a", 2, "H200", 141, 989, 7200), MakeNode("a1", "a", 2, "A100", 80, 312),
                       MakeNode("b0", "b", 4, "A100", 80, 312)};
  hetero.topo.links = {InterDcLink{"a", "b", 10, 30}};
  hetero.jobs = {GptJob(1, 4), GptJob(2, 2), GptJob(1, 2), GptJob(3, 2), GptJob(2, 4), GptJob(4, 1),
                 AutoJob(GptJob(1, 1), 4), AutoJob(GptJob(1, 1), 6)};
  cases.push_back(hetero);

  Case three{"three-dc-links", {}, {}, {}};
  three.topo.data_centers = {MakeDc("a"), MakeDc("b"), MakeDc("c")};
  three.topo.nodes = {MakeNode("a0", "a", 3, "H200", 141, 989, 7200), MakeNode("b0", "b", 3, "H200", 141, 989, 7200),
                      MakeNode("c0", "c", 2, "H200", 141, 989, 7200)};
  three.topo.links = {InterDcLink{"a", "b", 100, 10}, InterDcLink{"a", "c", 1, 80}, InterDcLink{"b", "c", 10, 40}};
  three.jobs = {GptJob(4, 2), GptJob(2, 3), GptJob(6, 1), GptJob(3, 2), GptJob(2, 4), AutoJob(GptJob(1, 1), 8)};
  cases.push_back(three);

  Case mixed{"mixed-nodes", {}, {}, {}};
  mixed.topo.data_centers = {MakeDc("a", 100), MakeDc("b", 400)};
  mixed.topo.nodes = {MakeNode("a0", "a", 1, "A100", 80, 312), MakeNode("a1", "a", 3, "H200", 141, 989, 7200),
                      MakeNode("a2", "a", 2, "L40S", 48, 362, 512), MakeNode("b0", "b", 2, "H200", 141, 989, 7200),
                      MakeNode("b1", "b", 2, "A100", 80, 312)};
  mixed.occ["a1"][0] = "job-other";
  mixed.jobs = {GptJob(1, 4), GptJob(2, 2), GptJob(3, 2), GptJob(4, 2), GptJob(1, 3, "d24"), GptJob(2, 3),
                AutoJob(GptJob(1, 1, "d24"), 6)};
  cases.push_back(mixed);

  Case tight{"tight-memory", {}, {}, {}};
  tight.topo.data_centers = {MakeDc("a"), MakeDc("b")};
  tight.topo.nodes = {MakeNode("a0", "a", 4, "small", 8, 200), MakeNode("b0", "b", 2, "big", 80, 300),
                      MakeNode("b1", "b", 2, "small", 8, 200)};
  tight.jobs = {GptJob(1, 2, "d36"), GptJob(2, 2, "d36"), GptJob(1, 4, "d36"), AutoJob(GptJob(1, 1, "d36"), 4)};
  cases.push_back(tight);
  return cases;
}

std::string Describe(const JobRequest& j) {
  return j.auto_layout ? "auto " + std::to_string(j.gpus) : "dp " + std::to_string(j.dp) + " x pp " + std::to_string(j.pp);
}

TEST(PlacementQuality, WithinFivePercentOfTheExhaustiveOptimum) {
  for (const Case& c : SmallCases()) {
    for (const JobRequest& job : c.jobs) {
      Result<Placement> ours = PlaceJob(c.topo, c.occ, job);
      Result<Placement> best = ExhaustivePlacement(c.topo, c.occ, job, 10);
      ASSERT_EQ(ours.ok(), best.ok()) << c.name << " " << Describe(job) << ": " << ours.status().ToString() << " / "
                                      << best.status().ToString();
      if (!ours.ok()) continue;
      EXPECT_TRUE(ValidatePlacement(c.topo, c.occ, job, *best).ok());
      EXPECT_LE(ours->predicted_step_s, best->predicted_step_s * 1.05)
          << c.name << " " << Describe(job) << ": ours " << ours->predicted_step_s << " s, optimum "
          << best->predicted_step_s << " s";
      EXPECT_GE(ours->predicted_step_s, best->predicted_step_s * (1 - 1e-9)) << c.name << " " << Describe(job);
    }
  }
}

// Clusters whose data centers are far apart.
std::vector<Case> CrossDcCases() {
  std::vector<Case> cases;
  cases.push_back({"default", DefaultCluster(4), {}, {SmallJob(2, 2), SmallJob(4, 2), SmallJob(1, 4), SmallJob(2, 4)}});
  SyntheticClusterSpec spec;
  spec.data_centers = 4;
  spec.nodes_per_dc = 2;
  spec.region_size = 2;
  cases.push_back({"4dc-x-2x8", SyntheticCluster(spec), {}, {GptJob(4, 4), GptJob(8, 2), GptJob(16, 4), GptJob(2, 8)}});
  Case half{"4dc-half-full", SyntheticCluster(spec), {}, {GptJob(4, 4), GptJob(12, 2), GptJob(3, 8)}};
  for (int g = 0; g < 5; ++g) half.occ["dc-000-n000"][g] = "job-other";
  for (int g = 0; g < 8; ++g) half.occ["dc-002-n001"][g] = "job-other";
  cases.push_back(half);
  return cases;
}

TEST(PlacementQuality, BeatsRoundRobinAndRandomAcrossDataCenters) {
  for (const Case& c : CrossDcCases()) {
    for (const JobRequest& job : c.jobs) {
      Result<Placement> ours = PlaceJob(c.topo, c.occ, job);
      Result<Placement> rr = RoundRobinPlacement(c.topo, c.occ, job);
      ASSERT_TRUE(ours.ok() && rr.ok()) << c.name << " " << Describe(job);
      EXPECT_LT(ours->predicted_step_s, rr->predicted_step_s) << c.name << " " << Describe(job);
      double random_sum = 0;
      for (uint64_t seed = 1; seed <= 10; ++seed) {
        Result<Placement> random = RandomPlacement(c.topo, c.occ, job, seed);
        ASSERT_TRUE(random.ok());
        EXPECT_TRUE(ValidatePlacement(c.topo, c.occ, job, *random).ok());
        EXPECT_LE(ours->predicted_step_s, random->predicted_step_s * (1 + 1e-9)) << c.name << " " << Describe(job);
        random_sum += random->predicted_step_s;
      }
      EXPECT_LT(ours->predicted_step_s, random_sum / 10) << c.name << " " << Describe(job);
    }
  }
}

TEST(PlacementQuality, ExhaustiveRefusesBigClusters) {
  SyntheticClusterSpec spec;
  spec.nodes_per_dc = 2;
  Result<Placement> p = ExhaustivePlacement(SyntheticCluster(spec), {}, GptJob(1, 1), 10);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), Status::Code::kFailedPrecondition);
}

}  // namespace
}  // namespace meridian::scheduler
