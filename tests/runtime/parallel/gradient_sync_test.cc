// Each gradient synchronisation strategy against a plain reference, with
// threads as ranks (InProcessWorld): what Finish leaves in the gradients,
// the shard the optimizer owns, the norm group, ZeRO-1's gathers, the
// tied embedding across stages and DiLoCo's outer step.
#include "runtime/parallel/gradient_sync.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include <chrono>
#include <cmath>
#include <memory>
#include <vector>

#include "runtime/parallel/diloco.h"
#include "runtime/parallel/parallel_layout.h"
#include "runtime/parallel/process_groups.h"
#include "tests/runtime/comm/in_process_communicator.h"

namespace meridian {
namespace {

GPTConfig Tiny() {
  GPTConfig c;
  c.max_seq_len = 8;
  c.vocab_size = 16;
  c.padded_vocab_size = 64;
  c.n_layer = 2;
  c.n_head = 1;
  c.n_embd = 8;
  return c;
}

// A rank's gradient: different on every rank and element.
float Grad(int rank, size_t i) { return (float)((rank + 1) * 0.25 + std::sin(0.37 * (double)i)); }

struct World {
  ParallelLayout layout;
  DataCenterMap data_centers;
};

// Runs fn on every rank with its process groups and stage layout.
Status OnEveryRank(const World& w, const std::function<Status(int, ProcessGroups&, const ParameterLayout&)>& fn) {
  InProcessWorld world(w.layout.world());
  const std::vector<StageSpec> stages = PartitionLayers(Tiny(), w.layout.pp, 8);
  return RunRanks(world, [&](int rank, Communicator* comm) -> Status {
    MERIDIAN_ASSIGN_OR_RETURN(ProcessGroups groups, BuildProcessGroups(comm, w.layout, w.data_centers));
    const ParameterLayout stage(Tiny(), stages[w.layout.Stage(rank)]);
    return fn(rank, groups, stage);
  });
}

World DataParallel(int dp, const std::string& pools) {
  World w;
  w.layout.dp = dp;
  w.layout.pp = 1;
  w.data_centers = *ParsePools(pools, dp);
  return w;
}

// Finish under `options` on 4 replicas in two data centers (east: ranks 0,
// 1; west: 2, 3); `expected(rank, i)` is what rank's gradient i must be.
void ExpectFinish(const GradientSyncOptions& options, const std::function<double(int, size_t)>& expected) {
  const World w = DataParallel(4, "east:2,west:2");
  Status s = OnEveryRank(w, [&](int rank, ProcessGroups& groups, const ParameterLayout& layout) -> Status {
    TrafficCounter traffic(w.data_centers.rank_to_dc);
    MERIDIAN_ASSIGN_OR_RETURN(auto sync, GradientSync::Create(options, &groups, layout, 4, &traffic));
    std::vector<float> grads(layout.total());
    for (size_t i = 0; i < grads.size(); ++i) grads[i] = Grad(rank, i);
    MERIDIAN_RETURN_IF_ERROR(sync->Finish(grads.data()));
    for (size_t i = sync->shard_begin(); i < sync->shard_end(); ++i) {
      if (std::abs(grads[i] - expected(rank, i)) > 1e-6 * (1 + std::abs(expected(rank, i))))
        return Status::Internal("rank " + std::to_string(rank) + " gradient " + std::to_string(i) + " = " +
                                std::to_string(grads[i]) + ", expected " + std::to_string(expected(rank, i)));
    }
    return Status::OK();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
}

double Mean(const std::vector<int>& ranks, size_t i) {
  double sum = 0;
  for (int r : ranks) sum += Grad(r, i);
  return sum / ranks.size();
}

TEST(GradientSync, SyncAveragesOverEveryReplica) {
  GradientSyncOptions o;
  o.bucket_bytes = 256;  // several buckets
  ExpectFinish(o, [](int, size_t i) { return Mean({0, 1, 2, 3}, i); });
}

TEST(GradientSync, HierarchicalAveragesOverEveryReplicaToo) {
  GradientSyncOptions o;
  o.mode = DpSync::kHierarchical;
  ExpectFinish(o, [](int, size_t i) { return Mean({0, 1, 2, 3}, i); });
}

TEST(GradientSync, DilocoAveragesInsideEachDataCenterOnly) {
  GradientSyncOptions o;
  o.mode = DpSync::kDiloco;
  ExpectFinish(o, [](int rank, size_t i) { return rank < 2 ? Mean({0, 1}, i) : Mean({2, 3}, i); });
}

TEST(GradientSync, Zero1LeavesEachReplicaTheAverageOfItsShard) {
  GradientSyncOptions o;
  o.zero1 = true;
  ExpectFinish(o, [](int, size_t i) { return Mean({0, 1, 2, 3}, i); });
}

TEST(GradientSync, Zero1ShardsTileTheStageAndGatherBack) {
  GradientSyncOptions o;
  o.zero1 = true;
  const World w = DataParallel(3, "one:3");
  Status s = OnEveryRank(w, [&](int rank, ProcessGroups& groups, const ParameterLayout& layout) -> Status {
    TrafficCounter traffic(w.data_centers.rank_to_dc);
    MERIDIAN_ASSIGN_OR_RETURN(auto sync, GradientSync::Create(o, &groups, layout, 3, &traffic));
    const size_t n = layout.total(), b = sync->shard_begin(), e = sync->shard_end();
    if (b != n * rank / 3 || e != n * (rank + 1) / 3) return Status::Internal("unexpected shard");
    if (sync->norm_group()->size() != 3) return Status::Internal("ZeRO-1 norms sum over the world");
    // Each rank updated only its shard: the whole stage comes back.
    std::vector<float> params(n, -1.0f);
    for (size_t i = b; i < e; ++i) params[i] = (float)i;
    MERIDIAN_RETURN_IF_ERROR(sync->AfterOptimizerStep(params.data()));
    std::vector<float> shard(e - b), scratch;
    for (size_t i = b; i < e; ++i) shard[i - b] = 2.0f * i;
    MERIDIAN_ASSIGN_OR_RETURN(const float* whole, sync->WholeStage(shard.data(), &scratch));
    for (size_t i = 0; i < n; ++i)
      if (params[i] != (float)i || whole[i] != 2.0f * i) return Status::Internal("gathered wrong at " + std::to_string(i));
    return Status::OK();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST(GradientSync, WithoutZeroEveryRankOwnsItsWholeStageAndNormsSumOverStages) {
  const World w = DataParallel(2, "one:2");
  Status s = OnEveryRank(w, [&](int, ProcessGroups& groups, const ParameterLayout& layout) -> Status {
    TrafficCounter traffic(w.data_centers.rank_to_dc);
    MERIDIAN_ASSIGN_OR_RETURN(auto sync, GradientSync::Create(GradientSyncOptions(), &groups, layout, 2, &traffic));
    if (sync->shard_begin() != 0 || sync->shard_end() != layout.total()) return Status::Internal("not the whole stage");
    if (sync->norm_group() != groups.pp.get()) return Status::Internal("norm group is not the pipeline group");
    return sync->CheckpointableAfter(1) ? Status::OK() : Status::Internal("sync replicas always agree");
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST(GradientSync, ZeroWithAnotherModeIsRefusedNamingBoth) {
  const World w = DataParallel(1, "one:1");
  Status s = OnEveryRank(w, [&](int, ProcessGroups& groups, const ParameterLayout& layout) -> Status {
    GradientSyncOptions o;
    o.zero1 = true;
    o.mode = DpSync::kHierarchical;
    TrafficCounter traffic;
    auto sync = GradientSync::Create(o, &groups, layout, 1, &traffic);
    if (sync.ok()) return Status::Internal("accepted");
    return sync.status().message().find("hierarchical") != std::string::npos ? Status::OK() : sync.status();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST(GradientSync, TheTiedEmbeddingIsSummedBetweenFirstAndLastStage) {
  World w;
  w.layout.dp = 1;
  w.layout.pp = 2;
  w.data_centers = *ParsePools("one:2", 2);
  for (bool zero : {false, true}) {
    Status s = OnEveryRank(w, [&](int rank, ProcessGroups& groups, const ParameterLayout& layout) -> Status {
      GradientSyncOptions o;
      o.zero1 = zero;
      TrafficCounter traffic;
      MERIDIAN_ASSIGN_OR_RETURN(auto sync, GradientSync::Create(o, &groups, layout, 1, &traffic));
      const ParamTensorInfo& wte = layout.tensor(kWte);
      std::vector<float> grads(layout.total(), 0.0f);
      for (size_t i = 0; i < wte.count; ++i) grads[wte.offset + i] = (float)(rank + 1) * i;
      MERIDIAN_RETURN_IF_ERROR(sync->Finish(grads.data()));
      for (size_t i = 0; i < wte.count; ++i)
        if (grads[wte.offset + i] != 3.0f * i) return Status::Internal("tied gradient " + std::to_string(i));
      return Status::OK();
    });
    EXPECT_TRUE(s.ok()) << (zero ? "zero1: " : "sync: ") << s.ToString();
  }
}

// DiLoCo with rounds of 2 steps, outer lr and momentum 0.5; `fn` runs on
// 4 replicas (east: ranks 0, 1; west: 2, 3) with weights that started a
// round at 10 and moved east by 1 and west by 3 (equal inside each).
Status OnDilocoRanks(const DilocoConfig& config,
                     const std::function<Status(int, GradientSync&, std::vector<float>&)>& fn) {
  GradientSyncOptions o;
  o.mode = DpSync::kDiloco;
  o.diloco = config;
  o.diloco.inner_steps = 2;
  o.diloco.outer_lr = 0.5f;
  o.diloco.outer_momentum = 0.5f;
  const World w = DataParallel(4, "east:2,west:2");
  return OnEveryRank(w, [&](int rank, ProcessGroups& groups, const ParameterLayout& layout) -> Status {
    TrafficCounter traffic(w.data_centers.rank_to_dc);
    MERIDIAN_ASSIGN_OR_RETURN(auto sync, GradientSync::Create(o, &groups, layout, 4, &traffic));
    std::vector<float> params(layout.total(), 10.0f);
    sync->diloco()->StartRound(params.data());
    for (float& p : params) p -= rank < 2 ? 1.0f : 3.0f;
    return fn(rank, *sync, params);
  });
}

TEST(GradientSync, DilocoStepsOutwardOnlyWhereARoundEnds) {
  Status s = OnDilocoRanks({}, [&](int, GradientSync& sync, std::vector<float>& params) -> Status {
    const size_t n = params.size();
    const std::vector<float> before = params;
    MERIDIAN_RETURN_IF_ERROR(sync.AfterStep(1, params.data()));
    if (sync.CheckpointableAfter(1) || params != before) return Status::Internal("an outer step after step 1");
    MERIDIAN_RETURN_IF_ERROR(sync.AfterStep(2, params.data()));
    if (!sync.CheckpointableAfter(2)) return Status::Internal("round 1 ends after step 2");
    // Mean pseudo-gradient 2; momentum 2; Nesterov: 10 - 0.5 * (2 + 0.5 * 2).
    for (size_t i = 0; i < n; ++i)
      if (std::abs(params[i] - 8.5f) > 1e-6f) return Status::Internal("param " + std::to_string(params[i]));
    return Status::OK();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST(GradientSync, OverlappedDilocoMixesTheOuterResultInOneStepLater) {
  DilocoConfig overlapped;
  overlapped.overlap_steps = 1;
  overlapped.mix = 0.25f;
  Status s = OnDilocoRanks(overlapped, [&](int rank, GradientSync& sync, std::vector<float>& params) -> Status {
    MERIDIAN_RETURN_IF_ERROR(sync.AfterStep(1, params.data()));
    const std::vector<float> sent = params;
    // The round ends after step 2: the exchange leaves, the weights stay.
    MERIDIAN_RETURN_IF_ERROR(sync.AfterStep(2, params.data()));
    if (params != sent) return Status::Internal("the weights changed while the exchange was in flight");
    for (float& p : params) p -= 1.0f;  // step 3 trains on meanwhile
    MERIDIAN_RETURN_IF_ERROR(sync.AfterStep(3, params.data()));
    // The outer step of plain DiLoCo (8.5), mixed with a quarter of the
    // weights step 3 left (east 8, west 6).
    const float expected = 0.25f * (rank < 2 ? 8.0f : 6.0f) + 0.75f * 8.5f;
    for (float p : params)
      if (std::abs(p - expected) > 1e-6f) return Status::Internal("param " + std::to_string(p));
    for (float start : sync.diloco()->round_start())
      if (std::abs(start - 8.5f) > 1e-6f) return Status::Internal("round start " + std::to_string(start));
    return Status::OK();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
}

// Elastic: west reaches the end of round 1 late (after east has trained
// step 3). East does not wait: its exchange, due after step 3, is not back,
// so step 3 leaves its weights alone and the result goes in after step 4,
// once west has sent. West, whose exchange is back when due, mixes after
// step 3 as plain overlap does. Both then hold the same outer weights.
TEST(GradientSync, ElasticDilocoTrainsOnWhileAnExchangeIsLate) {
  DilocoConfig elastic;
  elastic.overlap_steps = 1;
  elastic.mix = 0.25f;
  elastic.elastic = true;
  std::atomic<int> east_past_step3{0}, west_sent{0}, west_past_step4{0}, past_step4{0};
  auto wait_for = [](const std::atomic<int>& counter, int value) {
    while (counter.load() < value) std::this_thread::yield();
  };
  Status s = OnDilocoRanks(elastic, [&](int rank, GradientSync& sync, std::vector<float>& params) -> Status {
    const bool east = rank < 2;
    MERIDIAN_RETURN_IF_ERROR(sync.AfterStep(1, params.data()));
    if (!east) wait_for(east_past_step3, 2);
    MERIDIAN_RETURN_IF_ERROR(sync.AfterStep(2, params.data()));  // round 1 ends: the exchange leaves
    if (!east) west_sent.fetch_add(1);
    for (float& p : params) p -= 1.0f;  // step 3
    const std::vector<float> trained = params;
    MERIDIAN_RETURN_IF_ERROR(sync.AfterStep(3, params.data()));
    if (east) {
      if (params != trained) return Status::Internal("east mixed in an exchange that was not back");
      east_past_step3.fetch_add(1);
      wait_for(west_sent, 2);
      for (float& p : params) p -= 1.0f;  // step 4
      MERIDIAN_RETURN_IF_ERROR(sync.AfterStep(4, params.data()));
      // Plain DiLoCo's outer step (8.5), mixed with a quarter of what
      // steps 3 and 4 left (10 - 1 - 1 - 1 = 7).
      const float expected = 0.25f * 7.0f + 0.75f * 8.5f;
      for (float p : params)
        if (std::abs(p - expected) > 1e-6f) return Status::Internal("east param " + std::to_string(p));
      wait_for(west_past_step4, 2);
    } else {
      const float expected = 0.25f * 6.0f + 0.75f * 8.5f;  // 10 - 3 - 1 = 6 after step 3
      for (float p : params)
        if (std::abs(p - expected) > 1e-6f) return Status::Internal("west param " + std::to_string(p));
      MERIDIAN_RETURN_IF_ERROR(sync.AfterStep(4, params.data()));
      west_past_step4.fetch_add(1);
    }
    for (float start : sync.diloco()->round_start())
      if (std::abs(start - 8.5f) > 1e-6f) return Status::Internal("round start " + std::to_string(start));
    // Round 2's exchange, sent after step 4 by both, is back after step 5.
    past_step4.fetch_add(1);
    wait_for(past_step4, 4);
    MERIDIAN_RETURN_IF_ERROR(sync.AfterStep(5, params.data()));
    // Pseudo-gradients 0.375 (east) and 0.625 (west), momentum 0.5 * 2 +
    // 0.5: the outer weights move to 8.5 - 0.5 * (0.5 + 0.5 * 1.5).
    for (float start : sync.diloco()->round_start())
      if (std::abs(start - 7.875f) > 1e-6f) return Status::Internal("round 2 start " + std::to_string(start));
    return Status::OK();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
}

double UnixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

DilocoConfig ElasticIn(std::vector<std::pair<double, double>> windows) {
  DilocoConfig c;
  c.overlap_steps = 1;
  c.mix = 0.25f;
  c.elastic = true;
  c.wan_window.windows = std::move(windows);
  return c;
}

Status ExpectAll(const std::vector<float>& values, float expected, const std::string& what) {
  for (float v : values)
    if (std::abs(v - expected) > 1e-6f) return Status::Internal(what + " " + std::to_string(v));
  return Status::OK();
}

// An explicit list of windows, the last of which closed long ago (1970):
// no exchange leaves, not at round ends and not at a checkpoint (the
// backlog could never cross, and sent it would block the drain), and each
// data center trains on with its own weights.
TEST(GradientSync, ElasticDilocoExchangesNothingAfterTheLastWindowAndTrainsOn) {
  auto train = [&](int rank, GradientSync& sync, std::vector<float>& params) -> Status {
    const float local = rank < 2 ? 9.0f : 7.0f;  // 10 less the first inner steps
    for (long step = 1; step <= 4; ++step) MERIDIAN_RETURN_IF_ERROR(sync.AfterStep(step, params.data()));
    MERIDIAN_RETURN_IF_ERROR(ExpectAll(params, local, "param after round 2"));
    MERIDIAN_RETURN_IF_ERROR(sync.PrepareCheckpoint());
    MERIDIAN_RETURN_IF_ERROR(ExpectAll(params, local, "param after the checkpoint"));
    for (float& p : params) p -= 1.0f;
    for (long step = 5; step <= 6; ++step) MERIDIAN_RETURN_IF_ERROR(sync.AfterStep(step, params.data()));
    MERIDIAN_RETURN_IF_ERROR(sync.PrepareCheckpoint());
    MERIDIAN_RETURN_IF_ERROR(ExpectAll(params, local - 1.0f, "param after round 3"));
    MERIDIAN_RETURN_IF_ERROR(ExpectAll(sync.diloco()->round_start(), 10.0f, "round start"));
    MERIDIAN_RETURN_IF_ERROR(ExpectAll(sync.diloco()->pending(), 0.0f, "pending"));
    if (sync.diloco()->outer_steps() != 0)
      return Status::Internal(std::to_string(sync.diloco()->outer_steps()) + " outer steps");
    return Status::OK();
  };
  const Status s = OnDilocoRanks(ElasticIn({{0, 10}, {20, 30}}), train);
  EXPECT_TRUE(s.ok()) << s.ToString();
}

// An exchange leaves inside an explicit window only while a quarter of
// that window is left, as it does inside a periodic one.
TEST(GradientSync, ElasticDilocoStartsInAnExplicitWindowOnlyWithAQuarterOfItLeft) {
  const double now = UnixNow();
  // Open for another 30 s of 3030: too little to start in, and the last
  // window, so the checkpoint drops the backlog too.
  auto stays_home = [&](int, GradientSync& sync, std::vector<float>& params) -> Status {
    for (long step = 1; step <= 3; ++step) MERIDIAN_RETURN_IF_ERROR(sync.AfterStep(step, params.data()));
    MERIDIAN_RETURN_IF_ERROR(sync.PrepareCheckpoint());
    return ExpectAll(sync.diloco()->round_start(), 10.0f, "round start");
  };
  Status s = OnDilocoRanks(ElasticIn({{now - 3000, now + 30}}), stays_home);
  EXPECT_TRUE(s.ok()) << s.ToString();
  // Open for another 3000 s: round 1's exchange leaves after step 2 and,
  // once every data center has sent it, is mixed in after step 3.
  std::atomic<int> sent{0};
  auto crosses = [&](int, GradientSync& sync, std::vector<float>& params) -> Status {
    for (long step = 1; step <= 2; ++step) MERIDIAN_RETURN_IF_ERROR(sync.AfterStep(step, params.data()));
    sent.fetch_add(1);
    while (sent.load() < 4) std::this_thread::yield();
    MERIDIAN_RETURN_IF_ERROR(sync.AfterStep(3, params.data()));
    return ExpectAll(sync.diloco()->round_start(), 8.5f, "round start");
  };
  s = OnDilocoRanks(ElasticIn({{now - 10, now + 3000}}), crosses);
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST(DilocoFragments, OneFragmentIsTheWholeStageAndFragmentsTileIt) {
  GPTConfig c = Tiny();
  c.n_layer = 4;
  const ParameterLayout layout(c, WholeModel(c));
  const auto one = DilocoFragments(layout, 1);
  ASSERT_EQ(one.size(), 1u);
  ASSERT_EQ(one[0].size(), 1u);
  EXPECT_EQ(one[0][0].offset, 0u);
  EXPECT_EQ(one[0][0].count, layout.total());
  for (int f : {2, 3, 4}) {
    const auto fragments = DilocoFragments(layout, f);
    ASSERT_EQ((int)fragments.size(), f);
    std::vector<int> owner(layout.total(), -1);
    for (int i = 0; i < f; ++i)
      for (const BufferRange& r : fragments[i])
        for (size_t k = r.offset; k < r.offset + r.count; ++k) {
          ASSERT_EQ(owner[k], -1) << "float " << k << " in two fragments";
          owner[k] = i;
        }
    for (size_t k = 0; k < owner.size(); ++k) ASSERT_NE(owner[k], -1) << "float " << k << " in no fragment";
    EXPECT_EQ(owner[layout.tensor(kWte).offset], 0);
    EXPECT_EQ(owner[layout.tensor(kLnfw).offset], f - 1);
    // Layer l of a per-layer tensor is in fragment l mod F.
    for (int l = 0; l < c.n_layer; ++l) EXPECT_EQ(owner[layout.LayerOffset(kQkvw, l)], l % f) << "layer " << l;
  }
}

TEST(DilocoFragments, ConfigurationsThatCannotRunAreRefusedNamingTheOption) {
  const StageSpec two_layers{0, 2, true, true};
  auto message = [&](DilocoConfig c) { return ValidateDiloco(c, two_layers).message(); };
  DilocoConfig c;
  c.inner_steps = 4;
  EXPECT_TRUE(ValidateDiloco(c, two_layers).ok());
  c.fragments = 5;
  EXPECT_NE(message(c).find("diloco-fragments = 5"), std::string::npos) << message(c);
  c.fragments = 3;
  EXPECT_NE(message(c).find("2 layers"), std::string::npos) << message(c);
  c.fragments = 2;
  c.overlap_steps = 4;
  EXPECT_NE(message(c).find("diloco-overlap = 4"), std::string::npos) << message(c);
  c.overlap_steps = 3;
  c.mix = 1.5f;
  EXPECT_NE(message(c).find("diloco-mix"), std::string::npos) << message(c);
  c.mix = 0.5f;
  EXPECT_TRUE(ValidateDiloco(c, two_layers).ok());
  c.elastic = true;  // with two fragments
  EXPECT_NE(message(c).find("diloco-elastic"), std::string::npos) << message(c);
  c.fragments = 1;
  EXPECT_TRUE(ValidateDiloco(c, two_layers).ok());
}

TEST(DpSyncNames, ParseAndNameRoundTripAndUnknownIsNamed) {
  for (DpSync m : {DpSync::kSync, DpSync::kHierarchical, DpSync::kDiloco}) EXPECT_EQ(*ParseDpSync(DpSyncName(m)), m);
  Result<DpSync> bad = ParseDpSync("ring");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("ring"), std::string::npos);
}

}  // namespace
}  // namespace meridian
