// PlaceJob's rules: gang, no over-commit, no dead node or taken GPU, a
// replica inside one data center when it fits, determinism, auto layout,
// and request validation.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "scheduler/core/synthetic_cluster.h"
#include "scheduler/placement/baselines.h"
#include "scheduler/placement/layout_search.h"
#include "scheduler/placement/placement.h"
#include "scheduler/placement/taken_gpus.h"
#include "tests/scheduler/placement_test_util.h"

namespace meridian::scheduler {
namespace {

void ExpectSame(const Placement& a, const Placement& b) {
  EXPECT_EQ(a.dp, b.dp);
  EXPECT_EQ(a.pp, b.pp);
  EXPECT_EQ(a.dp_sync, b.dp_sync);
  EXPECT_EQ(a.predicted_step_s, b.predicted_step_s);
  ASSERT_EQ(a.ranks.size(), b.ranks.size());
  for (size_t i = 0; i < a.ranks.size(); ++i) {
    EXPECT_EQ(a.ranks[i].node, b.ranks[i].node) << "rank " << i;
    EXPECT_EQ(a.ranks[i].gpu, b.ranks[i].gpu) << "rank " << i;
    EXPECT_EQ(a.ranks[i].layer_begin, b.ranks[i].layer_begin) << "rank " << i;
    EXPECT_EQ(a.ranks[i].layer_end, b.ranks[i].layer_end) << "rank " << i;
  }
}

std::set<std::string> NodesOf(const Placement& p) {
  std::set<std::string> out;
  for (const RankPlacement& r : p.ranks) out.insert(r.node);
  return out;
}

// A random job over the random clusters' GPU sizes: small models fit any
// GPU, the wide ones only the larger GPUs or deeper pipelines.
JobRequest RandomJob(std::mt19937& rng) {
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  JobRequest j = SmallJob(1, 1);
  const int widths[] = {256, 1024, 2048};
  j.model.n_embd = widths[pick(0, 2)];
  j.model.n_head = 8;
  j.model.n_layer = 1 << pick(0, 2);
  if (pick(0, 1)) j.model.vocab_size = 50257, j.model.padded_vocab_size = 50304;
  j.microbatches = pick(1, 4);
  j.dp = pick(1, 4);
  j.pp = pick(1, std::min(4, j.model.n_layer));
  if (pick(0, 3) == 0) j = AutoJob(j, pick(1, 8));
  const std::optional<DpSync> modes[] = {std::nullopt, DpSync::kSync, DpSync::kHierarchical, DpSync::kDiloco};
  j.dp_sync = modes[pick(0, 3)];
  return j;
}

TEST(PlaceJob, RejectsInvalidRequestsNamingTheField) {
  const Topology topo = DefaultCluster(4);
  auto error = [&](JobRequest j) {
    Result<Placement> p = PlaceJob(topo, {}, j);
    EXPECT_FALSE(p.ok());
    EXPECT_EQ(p.status().code(), Status::Code::kInvalidArgument);
    return p.status().message();
  };
  EXPECT_EQ(error(SmallJob(0, 1)), "job.dp = 0: must be >= 1");
  EXPECT_EQ(error(SmallJob(1, 0)), "job.pp = 0: must be >= 1");
  EXPECT_EQ(error(SmallJob(1, 5)), "job.pp = 5: exceeds the model's 4 layers (a stage needs one)");
  EXPECT_EQ(error(AutoJob(SmallJob(1, 1), 0)), "job.gpus = 0: must be >= 1 with auto_layout");
  JobRequest bad_model = SmallJob(1, 1);
  bad_model.model.n_embd = 250;
  EXPECT_NE(error(bad_model).find("job.model: model config: n_embd = 250"), std::string::npos);
  JobRequest bad_batch = SmallJob(1, 1);
  bad_batch.batch = 0;
  EXPECT_EQ(error(bad_batch), "job.batch = 0: must be >= 1");
  JobRequest long_seq = SmallJob(1, 1);
  long_seq.seq = 128;
  EXPECT_NE(error(long_seq).find("job.seq = 128"), std::string::npos);
}

TEST(PlaceJob, GangPlacesAllRanksOrNone) {
  const Topology topo = DefaultCluster(4);
  Result<Placement> never = PlaceJob(topo, {}, SmallJob(5, 2));  // 10 ranks, 8 slots
  ASSERT_FALSE(never.ok());
  EXPECT_EQ(never.status().code(), Status::Code::kFailedPrecondition);
  EXPECT_NE(never.status().message().find("needs 10 GPUs"), std::string::npos) << never.status().message();

  Occupancy occ;
  for (int g = 0; g < 3; ++g) occ["east-0"][g] = "job-1";
  Result<Placement> now = PlaceJob(topo, occ, SmallJob(3, 2));  // 6 ranks, 5 free
  ASSERT_FALSE(now.ok());
  EXPECT_EQ(now.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(now.status().message().find("only 5 are free"), std::string::npos) << now.status().message();
  Result<Placement> fits = PlaceJob(topo, occ, SmallJob(5, 1));
  ASSERT_TRUE(fits.ok()) << fits.status().ToString();
  EXPECT_EQ(fits->ranks.size(), 5u);
}

TEST(PlaceJob, AStageLargerThanEveryGpuNeverFits) {
  const Topology topo = DefaultCluster(4);  // 4 GB slots
  JobRequest big = SmallJob(1, 1);
  big.model = *PresetConfig("d24");  // 350M parameters x 16 bytes
  big.model.max_seq_len = 64;
  Result<Placement> p = PlaceJob(topo, {}, big);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), Status::Code::kFailedPrecondition);
  EXPECT_NE(p.status().message().find("stage 0 (layers [0, 24)) needs"), std::string::npos) << p.status().message();
  EXPECT_NE(p.status().message().find("largest alive GPU has 4.00 GB"), std::string::npos) << p.status().message();
  // Split four ways it fits, and auto layout finds a deep enough pipeline.
  big.pp = 4;
  Result<Placement> split = PlaceJob(topo, {}, big);
  ASSERT_TRUE(split.ok()) << split.status().ToString();
  EXPECT_TRUE(ValidatePlacement(topo, {}, big, *split).ok());
  Result<Placement> automatic = PlaceJob(topo, {}, AutoJob(big, 4));
  ASSERT_TRUE(automatic.ok()) << automatic.status().ToString();
  EXPECT_GE(automatic->pp, 2);
}

TEST(PlaceJob, NeverOverCommitsOnRandomClusters) {
  std::mt19937 rng(20240601);
  int placed = 0, unavailable = 0, never = 0;
  for (int iter = 0; iter < 300; ++iter) {
    const Topology topo = RandomCluster(rng);
    const Occupancy occ = RandomOccupancy(topo, rng, 25);
    const JobRequest job = RandomJob(rng);
    Result<Placement> p = PlaceJob(topo, occ, job);
    Result<Placement> empty = PlaceJob(topo, {}, job);
    if (p.ok()) {
      ++placed;
      const Status valid = ValidatePlacement(topo, occ, job, *p);
      ASSERT_TRUE(valid.ok()) << "iteration " << iter << ": " << valid.ToString();
      Placement copy = *p;
      EXPECT_DOUBLE_EQ(PredictStepSeconds(topo, job, copy), p->predicted_step_s) << "iteration " << iter;
      EXPECT_EQ(copy.dp_sync, p->dp_sync);
      EXPECT_TRUE(empty.ok()) << "iteration " << iter << ": fits now but not on an empty cluster";
    } else if (p.status().code() == Status::Code::kUnavailable) {
      ++unavailable;
      EXPECT_TRUE(empty.ok()) << "iteration " << iter << ": Unavailable but it never fits: " << p.status().message();
    } else {
      ++never;
      ASSERT_EQ(p.status().code(), Status::Code::kFailedPrecondition) << p.status().ToString();
      EXPECT_FALSE(empty.ok()) << "iteration " << iter << ": FailedPrecondition but an empty cluster holds it";
    }
    // The naive placers follow the same rules.
    for (Result<Placement> naive : {FirstFitPlacement(topo, occ, job), RoundRobinPlacement(topo, occ, job),
                                    RandomPlacement(topo, occ, job, iter)}) {
      if (naive.ok()) {
        const Status valid = ValidatePlacement(topo, occ, job, *naive);
        EXPECT_TRUE(valid.ok()) << "iteration " << iter << ": " << valid.ToString();
      }
    }
  }
  // The loop exercised every outcome.
  EXPECT_GT(placed, 50);
  EXPECT_GT(unavailable, 5);
  EXPECT_GT(never, 5);
}

// A topology indexed once for many searches gives every search the
// placement (or the error) it would have found unindexed.
TEST(PlaceJobIndexed, PlacesAsPlaceJobDoesOnRandomClusters) {
  std::mt19937 rng(20261207);
  int placed = 0;
  for (int iter = 0; iter < 100; ++iter) {
    const auto topo = std::make_shared<const Topology>(RandomCluster(rng));
    const std::shared_ptr<const TopologyIndex> index = IndexTopology(topo);
    EXPECT_EQ(&IndexedTopology(*index), topo.get());
    for (int search = 0; search < 3; ++search) {  // several searches on one index
      const Occupancy occ = RandomOccupancy(*topo, rng, 25);
      const JobRequest job = RandomJob(rng);
      // Split into what was held and what a pass added: the same search.
      Occupancy held, added;
      for (const auto& [node, gpus] : occ)
        for (const auto& [gpu, holder] : gpus) ((gpu % 2) ? added : held)[node][gpu] = holder;
      for (auto [plain, indexed] : {std::pair{PlaceJob(*topo, occ, job), PlaceJobIndexed(*index, occ, job)},
                                    std::pair{PlaceJob(*topo, occ, job), PlaceJobIndexed(*index, held, job, &added)},
                                    std::pair{FirstFitPlacement(*topo, occ, job),
                                              FirstFitPlacementIndexed(*index, occ, job)},
                                    std::pair{FirstFitPlacement(*topo, occ, job),
                                              FirstFitPlacementIndexed(*index, held, job, &added)}}) {
        ASSERT_EQ(plain.ok(), indexed.ok()) << "iteration " << iter << ": " << plain.status().ToString();
        if (plain.ok()) {
          ++placed;
          ExpectSame(*plain, *indexed);
        } else {
          EXPECT_EQ(plain.status().ToString(), indexed.status().ToString());
        }
      }
    }
  }
  EXPECT_GT(placed, 200);
}

// The free GPUs a search starts from, against a plain recount: per node
// in Gpu::index order, none of a dead node, none taken in either
// occupancy (a repeated index taken whole), sizes with no free GPU left
// out of the memory counts.
TEST(FindFreeGpus, MatchesARecountOverRandomClustersAndOccupancies) {
  std::mt19937 rng(11);
  for (int iter = 0; iter < 200; ++iter) {
    Topology topo = RandomCluster(rng);
    Node odd = MakeNode("odd", topo.data_centers.front().name, 4, "g", 16, 1);
    odd.gpus[0].index = 3;  // indices 3, 1, 2, 3: listed out of order, one twice
    topo.nodes.push_back(odd);
    const Occupancy occupied = RandomOccupancy(topo, rng, 30), also = RandomOccupancy(topo, rng, 10);
    const ClusterIndex index(topo);
    const FreeGpus alive = AliveGpus(index);
    const FreeGpus free = FindFreeGpus(index, alive, occupied, iter % 2 ? &also : nullptr);
    int total = 0;
    std::map<double, long long> by_memory;
    for (int id = 0; id < index.num_nodes(); ++id) {
      const Node& node = index.node(id);
      auto taken = [&](const Occupancy& o, int gpu_index) {
        auto n = o.find(node.name);
        return n != o.end() && n->second.count(gpu_index) > 0;
      };
      std::vector<std::pair<int, int>> want;  // (index, position)
      for (int g = 0; g < (int)node.gpus.size() && node.alive; ++g) {
        const int i = node.gpus[g].index;
        if (!taken(occupied, i) && !(iter % 2 && taken(also, i))) want.emplace_back(i, g);
      }
      std::sort(want.begin(), want.end());
      std::vector<int> positions;
      for (const auto& [i, g] : want) {
        positions.push_back(g);
        by_memory[node.gpus[g].memory_gb * kBytesPerGb]++;
      }
      const std::span<const int> got = free.OnNode(id);
      EXPECT_EQ(std::vector<int>(got.begin(), got.end()), positions) << node.name << ", iteration " << iter;
      total += (int)positions.size();
    }
    EXPECT_EQ(free.total, total);
    EXPECT_EQ(free.by_memory, (std::vector<std::pair<double, long long>>(by_memory.rbegin(), by_memory.rend())));
  }
}

// Held GPUs kept marked as jobs come and go give a search what marking
// the whole occupancy anew gives, and the same free counts per data center.
TEST(TakenGpus, MovedGpuByGpuMatchesMarkingAnew) {
  std::mt19937 rng(5);
  for (int iter = 0; iter < 100; ++iter) {
    const Topology topo = RandomCluster(rng);
    auto index = IndexTopology(std::make_shared<const Topology>(topo));
    Occupancy occupied = RandomOccupancy(topo, rng, 40);
    TakenGpus held(index, occupied);
    for (int step = 0; step < 20; ++step) {
      const Node& node = topo.nodes[rng() % topo.nodes.size()];
      const int gpu = node.gpus[rng() % node.gpus.size()].index;
      const bool take = rng() % 2;
      if (take) {
        occupied[node.name][gpu] = "job";
      } else if (occupied.count(node.name)) {
        occupied[node.name].erase(gpu);
      }
      held.Set(node.name, gpu, take);
      held.Set("no-such-node", 0, take);  // ignored
    }
    const Occupancy also = RandomOccupancy(topo, rng, 20);
    const ClusterIndex& ci = index->index;
    const FreeGpus want = FindFreeGpus(ci, index->alive, occupied, &also), got = held.Free(&also);
    EXPECT_EQ(got.start, want.start) << iter;
    EXPECT_EQ(got.positions, want.positions) << iter;
    EXPECT_EQ(got.total, want.total) << iter;
    EXPECT_EQ(got.by_memory, want.by_memory) << iter;
    std::vector<long long> per_dc(ci.num_dcs(), 0);
    for (int n = 0; n < ci.num_nodes(); ++n) per_dc[ci.DcOf(n)] += (long long)want.OnNode(n).size();
    EXPECT_EQ(held.FreePerDc(&also), per_dc) << iter;
  }
}

// First fit takes the free GPUs in node-name order, rank by rank.
TEST(FirstFitPlacement, TakesTheFirstFreeGpusInNodeOrder) {
  const Topology topo = DefaultCluster(4);
  Occupancy occ;
  const std::string first = topo.nodes.front().name;
  occ[first][0] = "other";
  Result<Placement> p = FirstFitPlacement(topo, occ, SmallJob(3, 1));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_EQ(p->ranks.size(), 3u);
  std::vector<std::pair<std::string, int>> free;
  for (const Node& n : topo.nodes)
    for (int g = 0; g < (int)n.gpus.size(); ++g)
      if (!occ[n.name].count(g)) free.emplace_back(n.name, g);
  std::sort(free.begin(), free.end());
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(p->ranks[r].node, free[r].first) << r;
    EXPECT_EQ(p->ranks[r].gpu, free[r].second) << r;
  }
}

TEST(PlaceJob, FindsAPlacementWheneverOneExists) {
  // Against the exhaustive search on the random clusters small enough for it.
  std::mt19937 rng(7);
  int compared = 0;
  for (int iter = 0; iter < 400 && compared < 120; ++iter) {
    const Topology topo = RandomCluster(rng);
    const Occupancy occ = RandomOccupancy(topo, rng, 20);
    const JobRequest job = RandomJob(rng);
    Result<Placement> best = ExhaustivePlacement(topo, occ, job, 8);
    if (!best.ok() && best.status().message().find("exhaustive placement:") != std::string::npos &&
        best.status().message().find("free GPUs, more than") != std::string::npos)
      continue;  // too big to search
    ++compared;
    Result<Placement> p = PlaceJob(topo, occ, job);
    ASSERT_EQ(p.ok(), best.ok()) << "iteration " << iter << ": " << p.status().ToString() << " vs "
                                 << best.status().ToString();
    if (p.ok()) {
      EXPECT_GE(p->predicted_step_s, best->predicted_step_s * (1 - 1e-9)) << "iteration " << iter;
    }
  }
  EXPECT_GE(compared, 60);
}

TEST(PlaceJob, EveryStageIsOneGpuAndTheLayersArePartitioned) {
  const Topology topo = DefaultCluster(4);
  Result<Placement> p = PlaceJob(topo, {}, SmallJob(2, 4));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_EQ(p->ranks.size(), 8u);
  std::set<std::pair<std::string, int>> gpus;
  for (const RankPlacement& r : p->ranks) {
    EXPECT_TRUE(gpus.emplace(r.node, r.gpu).second);
    EXPECT_EQ(r.layer_end - r.layer_begin, 1);  // 4 layers over 4 stages
    EXPECT_EQ(r.layer_begin, r.stage);
  }
}

TEST(PlaceJob, KeepsAReplicaOnOneNodeWhenOneHoldsIt) {
  Topology topo;
  topo.data_centers = {MakeDc("a"), MakeDc("b")};
  topo.nodes = {MakeNode("a0", "a", 2, "H200", 141, 989), MakeNode("a1", "a", 2, "H200", 141, 989),
                MakeNode("b0", "b", 4, "H200", 141, 989), MakeNode("b1", "b", 2, "H200", 141, 989)};
  Result<Placement> p = PlaceJob(topo, {}, GptJob(1, 4));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(NodesOf(*p), std::set<std::string>{"b0"});
}

TEST(PlaceJob, KeepsAReplicaInsideOneDataCenterWhenItFits) {
  Topology topo;
  topo.data_centers = {MakeDc("a"), MakeDc("b")};
  topo.nodes = {MakeNode("a0", "a", 2, "H200", 141, 989), MakeNode("a1", "a", 2, "H200", 141, 989),
                MakeNode("b0", "b", 3, "H200", 141, 989)};
  Result<Placement> p = PlaceJob(topo, {}, GptJob(1, 4));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(NodesOf(*p), (std::set<std::string>{"a0", "a1"}));  // two nodes, not two data centers
  // Consecutive stages share a node where they can: one cross-node hop.
  int hops = 0;
  for (int s = 0; s + 1 < 4; ++s) hops += p->ranks[s].node != p->ranks[s + 1].node;
  EXPECT_EQ(hops, 1);
}

TEST(PlaceJob, SpreadsReplicasOverDataCentersOnlyWhenNeeded) {
  const Topology topo = DefaultCluster(4);
  Result<Placement> small = PlaceJob(topo, {}, SmallJob(2, 2));
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(NodesOf(*small).size(), 1u);
  EXPECT_EQ(small->dp_sync, DpSync::kSync);
  EXPECT_EQ(small->ranks[0].data_center, "dc-east");  // ties go to the first name

  Result<Placement> big = PlaceJob(topo, {}, SmallJob(4, 2));
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(NodesOf(*big).size(), 2u);
  for (int d = 0; d < 4; ++d) EXPECT_EQ(big->ranks[d * 2].data_center, big->ranks[d * 2 + 1].data_center);
  EXPECT_TRUE(big->dp_sync == DpSync::kHierarchical || big->dp_sync == DpSync::kDiloco) << DpSyncName(big->dp_sync);
  EXPECT_EQ(big->pipeline_comm_s, PlaceJob(topo, {}, SmallJob(2, 2))->pipeline_comm_s);
}

TEST(PlaceJob, CrossDataCenterSyncIsPricedAboveTheWanAwareModes) {
  const Topology topo = DefaultCluster(4);
  JobRequest job = SmallJob(4, 2);
  Result<Placement> automatic = PlaceJob(topo, {}, job);
  job.dp_sync = DpSync::kSync;
  Result<Placement> sync = PlaceJob(topo, {}, job);
  job.dp_sync = DpSync::kHierarchical;
  Result<Placement> hier = PlaceJob(topo, {}, job);
  job.dp_sync = DpSync::kDiloco;
  Result<Placement> diloco = PlaceJob(topo, {}, job);
  ASSERT_TRUE(automatic.ok() && sync.ok() && hier.ok() && diloco.ok());
  EXPECT_EQ(sync->dp_sync, DpSync::kSync);
  EXPECT_EQ(hier->dp_sync, DpSync::kHierarchical);
  EXPECT_GT(sync->dp_comm_s, hier->dp_comm_s);
  EXPECT_GT(hier->dp_comm_s, diloco->dp_comm_s);
  EXPECT_EQ(automatic->dp_sync, DpSync::kDiloco);
  EXPECT_DOUBLE_EQ(automatic->dp_comm_s, diloco->dp_comm_s);
}

// The crossdc benchmark's shape: 2 data centers x 2 ranks joined by
// 100 Mbit/s with a 50 ms round trip, an L4 C128 model over bytes.
Topology SlowLinkCluster() {
  Topology topo;
  topo.data_centers = {MakeDc("a"), MakeDc("b")};
  topo.nodes = {MakeNode("a0", "a", 2, "cpu", 16, 0.1), MakeNode("b0", "b", 2, "cpu", 16, 0.1)};
  topo.links = {InterDcLink{"a", "b", 0.1, 25.0}};
  return topo;
}

JobRequest SlowLinkJob() {
  JobRequest job = SmallJob(4, 1);
  job.model.n_layer = 4;
  job.model.n_embd = 128;
  job.model.n_head = 4;
  job.microbatches = 1;
  return job;
}

const ModePrice* FindMode(const Placement& p, const std::string& name) {
  for (const ModePrice& m : p.modes)
    if (m.mode == name) return &m;
  return nullptr;
}

TEST(PlaceJob, PricesEveryModeAcrossDataCentersWithTheTrainersWanBytes) {
  Result<Placement> p = PlaceJob(SlowLinkCluster(), {}, SlowLinkJob());
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  const ModePrice* sync = FindMode(*p, "sync");
  const ModePrice* hier = FindMode(*p, "hierarchical");
  const ModePrice* diloco = FindMode(*p, "diloco h50");
  ASSERT_TRUE(sync && hier && diloco);
  // The trainer's ring model (measured: 10.012, 6.674 and 0.133 MB a step).
  EXPECT_NEAR(sync->wan_bytes_per_step / hier->wan_bytes_per_step, 1.5, 1e-9);
  EXPECT_NEAR(sync->wan_bytes_per_step / diloco->wan_bytes_per_step, 75.0, 1e-9);
  EXPECT_EQ(diloco->train_args, "--dp-sync diloco --diloco-h 50");
  // Exactly one mode is the prediction's, and it is the placement's.
  int chosen = 0;
  for (const ModePrice& m : p->modes) {
    chosen += m.chosen;
    if (m.chosen) EXPECT_DOUBLE_EQ(m.predicted_step_s, p->predicted_step_s) << m.mode;
  }
  EXPECT_EQ(chosen, 1);
  EXPECT_TRUE(diloco->chosen);
  // Variants for this link: int4 overlapped long enough to hide the round
  // trip (cheaper than blocking), whole and in 4 fragments, and sparse.
  const ModePrice* overlapped = nullptr;
  for (const ModePrice& m : p->modes) {
    if (m.mode.rfind("diloco h50 int4 overlap", 0) == 0) overlapped = &m;
  }
  ASSERT_NE(overlapped, nullptr);
  EXPECT_LT(overlapped->dp_comm_s, diloco->dp_comm_s);
  EXPECT_NEAR(diloco->wan_bytes_per_step / overlapped->wan_bytes_per_step, 4.0 / 0.5625, 0.05);
  // A job asking for those settings is priced as its row said.
  JobRequest asked = SlowLinkJob();
  asked.outer_compress = Compression::kInt4;
  asked.diloco_overlap = std::stoi(overlapped->mode.substr(overlapped->mode.find("overlap") + 7));
  Result<Placement> q = PlaceJob(SlowLinkCluster(), {}, asked);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->dp_sync, DpSync::kDiloco);
  EXPECT_DOUBLE_EQ(q->dp_comm_s, overlapped->dp_comm_s);
  bool streaming = false, sparse = false;
  for (const ModePrice& m : p->modes) {
    streaming |= m.mode.find("int4 f4 overlap") != std::string::npos;
    sparse |= m.mode.find("sparse f4 overlap") != std::string::npos;
  }
  EXPECT_TRUE(streaming && sparse);
}

TEST(PlaceJob, AJobThatLetsItTunesDilocoToTheCheapestVariantForItsLinks) {
  JobRequest job = SlowLinkJob();
  job.tune_diloco = true;
  Result<Placement> p = PlaceJob(SlowLinkCluster(), {}, job);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->dp_sync, DpSync::kDiloco);
  ASSERT_TRUE(p->tuned_diloco.has_value());
  // The chosen row is the cheapest DiLoCo row, and the prediction is its price.
  const ModePrice* cheapest = nullptr;
  int chosen = 0;
  for (const ModePrice& m : p->modes) {
    chosen += m.chosen;
    if (m.dp_sync == DpSync::kDiloco && (cheapest == nullptr || m.dp_comm_s < cheapest->dp_comm_s)) cheapest = &m;
  }
  ASSERT_NE(cheapest, nullptr);
  EXPECT_EQ(chosen, 1);
  EXPECT_TRUE(cheapest->chosen) << cheapest->mode;
  EXPECT_EQ(p->tuned_diloco->Name(), cheapest->mode);
  EXPECT_EQ(p->tuned_diloco->TrainArgs(), cheapest->train_args);
  EXPECT_DOUBLE_EQ(p->predicted_step_s, cheapest->predicted_step_s);
  // Over this link the plain exchange does not pay: the choice compresses and overlaps.
  EXPECT_NE(p->tuned_diloco->compress, Compression::kNone);
  EXPECT_GT(p->tuned_diloco->overlap, 0);
  const ModePrice* own = FindMode(*p, "diloco h50");
  ASSERT_NE(own, nullptr);
  EXPECT_LT(p->dp_comm_s, own->dp_comm_s);
  // A job that does not let it keeps its own settings; inside one data
  // center there is nothing to tune.
  job.tune_diloco = false;
  EXPECT_FALSE(PlaceJob(SlowLinkCluster(), {}, job)->tuned_diloco.has_value());
  job.tune_diloco = true;
  job.dp = 2;
  Result<Placement> inside = PlaceJob(SlowLinkCluster(), {}, job);
  ASSERT_TRUE(inside.ok());
  EXPECT_EQ(inside->dp_sync, DpSync::kSync);
  EXPECT_FALSE(inside->tuned_diloco.has_value());
}

TEST(PlaceJob, OverlapHidesTheExchangeAndFragmentsSplitIt) {
  JobRequest job = SlowLinkJob();
  job.dp_sync = DpSync::kDiloco;
  auto dp_comm = [&](int fragments, int overlap) {
    JobRequest j = job;
    j.diloco_fragments = fragments;
    j.diloco_overlap = overlap;
    return PlaceJob(SlowLinkCluster(), {}, j)->dp_comm_s;
  };
  JobRequest one_dc = job;
  one_dc.dp = 2;
  const double intra_only = PlaceJob(SlowLinkCluster(), {}, one_dc)->dp_comm_s;
  // Blocking, each fragment pays its own round trip: more fragments, more.
  EXPECT_GT(dp_comm(4, 0), dp_comm(1, 0));
  // Enough overlap hides every exchange: only the intra-DC part is left.
  EXPECT_LT(dp_comm(1, 1), dp_comm(1, 0));
  EXPECT_NEAR(dp_comm(4, 49), intra_only, 1e-12);
  EXPECT_EQ(PlaceJob(SlowLinkCluster(), {}, [&] {
              JobRequest j = job;
              j.diloco_overlap = 50;
              return j;
            }()).status().code(),
            Status::Code::kInvalidArgument);
}

TEST(PlaceJob, AvoidsDeadNodesAndTakenGpus) {
  Topology topo = DefaultCluster(4);
  topo.nodes[0].alive = false;  // east-0
  Occupancy occ;
  occ["west-0"][0] = "job-1";
  occ["west-0"][2] = "job-2";
  Result<Placement> p = PlaceJob(topo, occ, SmallJob(1, 2));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->ranks[0].node, "west-0");
  EXPECT_EQ(p->ranks[0].gpu, 1);
  EXPECT_EQ(p->ranks[1].gpu, 3);
  EXPECT_EQ(PlaceJob(topo, occ, SmallJob(3, 1)).status().code(), Status::Code::kUnavailable);
  EXPECT_EQ(PlaceJob(topo, occ, SmallJob(5, 1)).status().code(), Status::Code::kFailedPrecondition);
}

TEST(PlaceJob, IsDeterministicWhateverTheNodeOrder) {
  std::mt19937 rng(99);
  for (int iter = 0; iter < 50; ++iter) {
    Topology topo = RandomCluster(rng);
    const Occupancy occ = RandomOccupancy(topo, rng, 10);
    const JobRequest job = RandomJob(rng);
    Result<Placement> a = PlaceJob(topo, occ, job);
    Result<Placement> b = PlaceJob(topo, occ, job);
    std::reverse(topo.nodes.begin(), topo.nodes.end());
    std::reverse(topo.data_centers.begin(), topo.data_centers.end());
    Result<Placement> c = PlaceJob(topo, occ, job);
    ASSERT_EQ(a.ok(), b.ok());
    ASSERT_EQ(a.ok(), c.ok());
    if (!a.ok()) {
      EXPECT_EQ(a.status().message(), c.status().message());
      continue;
    }
    ExpectSame(*a, *b);
    ExpectSame(*a, *c);
  }
}

TEST(PlaceJob, AutoLayoutPicksTheCheapestValidLayout) {
  const Topology topo = DefaultCluster(4);
  for (int gpus : {1, 2, 4, 6, 8}) {
    const JobRequest job = AutoJob(SmallJob(1, 1), gpus);
    Result<Placement> p = PlaceJob(topo, {}, job);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    EXPECT_EQ(p->dp * p->pp, gpus);
    EXPECT_LE(p->pp, job.model.n_layer);
    EXPECT_TRUE(ValidatePlacement(topo, {}, job, *p).ok());
    for (int pp = 1; pp <= std::min(gpus, job.model.n_layer); ++pp) {
      if (gpus % pp != 0) continue;
      Result<Placement> fixed = PlaceJob(topo, {}, SmallJob(gpus / pp, pp));
      ASSERT_TRUE(fixed.ok());
      EXPECT_LE(p->predicted_step_s, fixed->predicted_step_s) << gpus << " GPUs, pp " << pp;
    }
  }
}

TEST(PredictStepSeconds, CrossingTheSlowLinkIsSlower) {
  const Topology topo = DefaultCluster(4);
  const JobRequest job = SmallJob(1, 2);
  Result<Placement> inside = PlaceJob(topo, {}, job);
  ASSERT_TRUE(inside.ok());
  Placement across = *inside;
  across.ranks[1].node = "west-0";
  across.ranks[1].data_center = "dc-west";
  across.ranks[1].gpu = 0;
  EXPECT_GT(PredictStepSeconds(topo, job, across), inside->predicted_step_s);
  EXPECT_GT(across.pipeline_comm_s, 10 * inside->pipeline_comm_s);
  EXPECT_EQ(across.compute_s, inside->compute_s);

  // Data parallel: both replicas in one data center beat one in each.
  const JobRequest dp_job = SmallJob(2, 1);
  Result<Placement> together = PlaceJob(topo, {}, dp_job);
  ASSERT_TRUE(together.ok());
  Placement apart = *together;
  apart.ranks[1].node = "west-0";
  apart.ranks[1].data_center = "dc-west";
  EXPECT_GT(PredictStepSeconds(topo, dp_job, apart), together->predicted_step_s);
  EXPECT_NE(apart.dp_sync, DpSync::kSync);
}

TEST(PredictStepSeconds, SumsItsParts) {
  const Topology topo = DefaultCluster(4);
  Result<Placement> p = PlaceJob(topo, {}, SmallJob(4, 2));
  ASSERT_TRUE(p.ok());
  EXPECT_GT(p->compute_s, 0);
  EXPECT_GT(p->pipeline_comm_s, 0);
  EXPECT_GT(p->dp_comm_s, 0);
  EXPECT_DOUBLE_EQ(p->predicted_step_s, p->compute_s + p->pipeline_comm_s + p->dp_comm_s);
}

TEST(PredictStepSeconds, UnknownNodesPriceAsInfinite) {
  const Topology topo = DefaultCluster(4);
  Result<Placement> p = PlaceJob(topo, {}, SmallJob(1, 1));
  ASSERT_TRUE(p.ok());
  Placement bad = *p;
  bad.ranks[0].node = "mars-0";
  EXPECT_TRUE(std::isinf(PredictStepSeconds(topo, SmallJob(1, 1), bad)));
  EXPECT_FALSE(ValidatePlacement(topo, {}, SmallJob(1, 1), bad).ok());
}

TEST(StageMemoryBytes, GrowsWithLayersAndMicroBatchesInFlight) {
  const JobRequest job = GptJob(1, 4);
  const double one = StageMemoryBytes(job, 0, 3, true, false, 4, 0);
  const double two = StageMemoryBytes(job, 0, 6, true, false, 4, 0);
  EXPECT_GT(two, one);
  // 1F1B: the first stage holds pp micro-batches in flight, the last one.
  const double first = StageMemoryBytes(job, 3, 6, false, false, 4, 0);
  const double third = StageMemoryBytes(job, 3, 6, false, false, 4, 2);
  EXPECT_GT(first, third);
  // The whole d12 model with AdamW state: 124M x 16 bytes and change.
  const double whole = StageMemoryBytes(job, 0, 12, true, true, 1, 0);
  EXPECT_GT(whole, 124e6 * 16);
  EXPECT_LT(whole, 40e9);
}

// Llama 3 8B in bf16 on the GPUs (fp32 master weights and AdamW: 18 bytes a
// parameter, 8.03e9 parameters, ~145 GB before activations) over the example
// clusters: auto layout finds pipeline stages that fit each GPU it picks.
TEST(PlaceJob, Llama3EightBillionFitsTheGpusItPicks) {
  Result<Topology> topo = LoadClusterFile(std::string(MERIDIAN_SOURCE_DIR) + "/examples/cluster.yaml");
  ASSERT_TRUE(topo.ok()) << topo.status().message();
  JobRequest job;
  job.model = *PresetConfig("llama3-8b");
  job.batch = 1;
  job.seq = 8192;
  job.microbatches = 16;
  job.auto_layout = true;
  job.gpus = 32;
  job.fused_attention = true;
  job.bytes_per_param = 18;
  job.bytes_per_activation = 2;
  Result<Placement> p = PlaceJob(*topo, {}, job);
  ASSERT_TRUE(p.ok()) << p.status().message();
  ASSERT_EQ((int)p->stage_memory_bytes.size(), p->pp);
  EXPECT_GT(p->pp, 1);  // 145 GB of state needs more than one 141 GB GPU
  double total_state = 0;
  for (const RankPlacement& r : p->ranks) {
    const Node* node = nullptr;
    for (const Node& n : topo->nodes) node = n.name == r.node ? &n : node;
    ASSERT_NE(node, nullptr);
    const double gpu_bytes = node->gpus[r.gpu].memory_gb * 1e9;
    EXPECT_LE(p->stage_memory_bytes[r.stage], gpu_bytes) << "rank " << r.rank << " stage " << r.stage;
  }
  for (double b : p->stage_memory_bytes) total_state += b;
  EXPECT_GT(total_state, 8.03e9 * 18);
}

// Its speed is measured by meridian-bench placement, not asserted here (a
// shared machine's clock is no test); here: valid and well shaped.
TEST(PlaceJob, PlacesFourThousandRanksOnTwoHundredFiftyDataCenters) {
  SyntheticClusterSpec spec;
  spec.data_centers = 250;
  spec.nodes_per_dc = 64;
  spec.region_size = 10;
  const Topology topo = SyntheticCluster(spec);
  const JobRequest job = GptJob(512, 8);
  Result<Placement> p = PlaceJob(topo, {}, job);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_TRUE(ValidatePlacement(topo, {}, job, *p).ok());
  // Every replica on one node, and the job in one region of 8 data centers.
  std::set<std::string> dcs;
  for (int d = 0; d < 512; ++d) {
    EXPECT_EQ(p->ranks[d * 8].node, p->ranks[d * 8 + 7].node);
    dcs.insert(p->ranks[d * 8].data_center);
  }
  EXPECT_EQ(dcs.size(), 8u);
  EXPECT_EQ(p->dp_sync, DpSync::kDiloco);
}

}  // namespace
}  // namespace meridian::scheduler
