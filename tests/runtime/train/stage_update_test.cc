// The optimizer half of the step on the GPU path, checked without a GPU:
// every rank runs its stage twice on threads (InProcessWorld), once on the
// CPU path (GPTModel, StageUpdate::OnHost, host memory) and once through the
// device wiring (HostDeviceStep, a DeviceStep emulated in host memory with
// separate master and compute weights, behind DeviceStageExecutor and
// StageUpdate::OnDevice, the strategies working through its StageMemory).
// For ZeRO-1 (AdamW on the shard, all-gather of the weights, the compute
// copy refreshed), hierarchical sync and DiLoCo (outer steps through host
// copies, with and without compression, streaming too) both runs must end with the same
// weights, moments and losses, bit for bit: the same float operations in
// the same order.
#include "runtime/train/stage_update.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "runtime/parallel/gradient_sync.h"
#include "runtime/parallel/parallel_layout.h"
#include "runtime/parallel/pipeline_runner.h"
#include "runtime/parallel/pipeline_schedule.h"
#include "runtime/parallel/process_groups.h"
#include "runtime/train/device_stage_executor.h"
#include "tests/runtime/comm/in_process_communicator.h"
#include "tests/runtime/train/host_device_step.h"

namespace meridian {
namespace {

constexpr int kB = 2, kT = 8, kMicrobatches = 2, kSteps = 4;

GPTConfig Tiny() {
  GPTConfig c;
  c.max_seq_len = kT;
  c.vocab_size = 32;
  c.padded_vocab_size = 64;
  c.n_layer = 4;
  c.n_head = 2;
  c.n_embd = 16;
  return c;
}

struct SyncCase {
  std::string name;
  int dp, pp;
  std::string pools;
  GradientSyncOptions sync;
};

// What one rank ends with.
struct RankResult {
  std::vector<float> params;       // the stage's master weights
  std::vector<float> m, v;         // its shard's AdamW moments
  std::vector<float> whole_m;      // the whole stage's first moments (WholeStage)
  std::vector<double> losses;      // per step (the last stage)
  std::vector<double> grad_norms;  // per step
  int weights_changed = 0;         // device path: compute-copy refreshes
};

// Replica r's micro-batch i: its own tokens, next-token targets.
PipelineRunner::FetchFn FetchFor(int replica) {
  return [replica](int i, int* inputs, int* targets) {
    for (int j = 0; j < kB * kT; ++j) {
      inputs[j] = (7 * i + 3 * j + 11 * replica) % 32;
      targets[j] = (7 * i + 3 * j + 11 * replica + 1) % 32;
    }
    return Status::OK();
  };
}

// Trains kSteps on every rank of the case's layout, on the device path or
// the CPU path, and returns each rank's result.
std::vector<RankResult> Train(const SyncCase& c, bool device_path) {
  const GPTConfig config = Tiny();
  ParallelLayout layout;
  layout.dp = c.dp;
  layout.pp = c.pp;
  const DataCenterMap data_centers = *ParsePools(c.pools, layout.world());
  const std::vector<StageSpec> stages = PartitionLayers(config, c.pp, kT);
  AdamWConfig adam;
  adam.weight_decay = 0.1f;
  std::vector<RankResult> results(layout.world());
  InProcessWorld world(layout.world());
  Status s = RunRanks(world, [&](int rank, Communicator* comm) -> Status {
    MERIDIAN_ASSIGN_OR_RETURN(ProcessGroups groups, BuildProcessGroups(comm, layout, data_centers));
    const int stage_index = layout.Stage(rank);
    const StageSpec& stage = stages[stage_index];
    const int slots = PipelineSlots(PipelineScheduleKind::k1F1B, stage_index, c.pp, kMicrobatches);
    std::unique_ptr<HostDeviceStep> device;
    std::unique_ptr<GPTModel> model;
    std::unique_ptr<StageExecutor> executor;
    if (device_path) {
      device = std::make_unique<HostDeviceStep>(config, stage, slots, kB, kT, adam);
      executor = DeviceStageExecutor(device.get(), kB, kT);
    } else {
      model = std::make_unique<GPTModel>(config, stage, kB, kT, slots);
      model->InitializeWeights(7);
      executor = CpuStageExecutor(model.get(), kB, kT);
    }
    const ParameterLayout& stage_layout = device ? device->layout() : model->layout();
    TrafficCounter traffic(data_centers.rank_to_dc);
    MERIDIAN_ASSIGN_OR_RETURN(std::unique_ptr<GradientSync> sync,
                              GradientSync::Create(c.sync, &groups, stage_layout, c.dp, &traffic,
                                                   device ? device->memory() : HostMemory()));
    AdamWOptimizer optimizer(stage_layout, adam, sync->shard_begin(), sync->shard_end());
    std::unique_ptr<StageUpdate> update;
    if (device) {
      MERIDIAN_ASSIGN_OR_RETURN(update, StageUpdate::OnDevice(device.get(), &optimizer, sync.get()));
    } else {
      update = StageUpdate::OnHost(model.get(), &optimizer, sync.get());
    }
    // As the trainer: a DiLoCo round starts from the host copy of the weights.
    std::vector<float> host_params(stage_layout.total());
    if (device) {
      MERIDIAN_RETURN_IF_ERROR(device->Download(host_params.data(), nullptr, nullptr));
    } else {
      std::copy(model->params(), model->params() + host_params.size(), host_params.begin());
    }
    if (DilocoOuterOptimizer* outer = sync->diloco()) outer->StartRound(host_params.data());
    bool in_backward = false;
    auto hook = [&](int layer) {
      if (in_backward) sync->OnGradientsReady(update->grads(), layer);
    };
    if (device) {
      device->set_backward_hook(hook);
    } else {
      model->set_backward_hook(hook);
    }

    PipelineRunner runner(executor.get(), groups.pp.get(), PipelineScheduleKind::k1F1B, kMicrobatches, kB, kT);
    RankResult& out = results[rank];
    for (long step = 1; step <= kSteps; ++step) {
      MERIDIAN_RETURN_IF_ERROR(executor->ZeroGrads());
      executor->set_loss_scale(1.0f / kMicrobatches);
      double loss = 0.0;
      MERIDIAN_RETURN_IF_ERROR(runner.RunStep(
          FetchFor(groups.dp_index), [&](int microbatch) { in_backward = microbatch == kMicrobatches - 1; }, &loss));
      in_backward = false;
      MERIDIAN_RETURN_IF_ERROR(update->Synchronize());
      MERIDIAN_ASSIGN_OR_RETURN(double norm, update->GlobalGradNorm());
      const float scale = norm > 1.0 ? (float)(1.0 / norm) : 1.0f;
      MERIDIAN_RETURN_IF_ERROR(update->OptimizerStep(3e-3f, scale));
      MERIDIAN_RETURN_IF_ERROR(update->AfterStep(step));
      if (stage.last) out.losses.push_back(loss);
      out.grad_norms.push_back(norm);
    }
    out.params.resize(stage_layout.total());
    if (device) {
      out.m.resize(optimizer.m().size());
      out.v.resize(optimizer.v().size());
      // What a checkpoint reads: the device's moments into the host optimizer.
      MERIDIAN_RETURN_IF_ERROR(device->Download(out.params.data(), optimizer.m().data(), optimizer.v().data()));
      out.weights_changed = device->weights_changed_calls();
    } else {
      std::copy(model->params(), model->params() + out.params.size(), out.params.begin());
    }
    out.m = optimizer.m();
    out.v = optimizer.v();
    std::vector<float> scratch;
    MERIDIAN_ASSIGN_OR_RETURN(const float* whole_m, sync->WholeStage(optimizer.m().data(), &scratch));
    out.whole_m.assign(whole_m, whole_m + stage_layout.total());
    return Status::OK();
  });
  EXPECT_TRUE(s.ok()) << c.name << (device_path ? " device path: " : " CPU path: ") << s.ToString();
  return results;
}

GradientSyncOptions Options(DpSync mode, bool zero1, Compression compress = Compression::kNone) {
  GradientSyncOptions o;
  o.mode = mode;
  o.zero1 = zero1;
  o.bucket_bytes = 4096;  // several buckets, started during backward
  o.diloco = DilocoConfig{2, 0.7f, 0.9f, compress};
  return o;
}

// Streaming DiLoCo: 2 fragments, each exchange mixed in one step later.
GradientSyncOptions Streaming(Compression compress) {
  GradientSyncOptions o = Options(DpSync::kDiloco, false, compress);
  o.diloco.fragments = 2;
  o.diloco.overlap_steps = 1;
  return o;
}

// Names the case in test listings.
void PrintTo(const SyncCase& c, std::ostream* os) { *os << c.name; }

class StageUpdatePaths : public ::testing::TestWithParam<SyncCase> {};

TEST_P(StageUpdatePaths, TheDevicePathEndsWithTheCpuPathsWeightsAndMoments) {
  const SyncCase& c = GetParam();
  const std::vector<RankResult> cpu = Train(c, false), gpu = Train(c, true);
  ASSERT_EQ(cpu.size(), gpu.size());
  for (size_t rank = 0; rank < cpu.size(); ++rank) {
    SCOPED_TRACE("rank " + std::to_string(rank));
    ASSERT_FALSE(cpu[rank].params.empty());
    EXPECT_EQ(gpu[rank].losses, cpu[rank].losses);
    EXPECT_EQ(gpu[rank].grad_norms, cpu[rank].grad_norms);
    EXPECT_TRUE(gpu[rank].params == cpu[rank].params) << "weights differ";
    EXPECT_TRUE(gpu[rank].m == cpu[rank].m) << "first moments differ";
    EXPECT_TRUE(gpu[rank].v == cpu[rank].v) << "second moments differ";
    EXPECT_TRUE(gpu[rank].whole_m == cpu[rank].whole_m) << "gathered first moments differ";
    // Where a strategy rewrites the weights (ZeRO-1's all-gather every
    // step, DiLoCo's outer step every round), the compute copy follows.
    // Streaming with 2 fragments over rounds of 2 steps touches a fragment
    // after every step (one sends, the other's result is mixed in).
    const DilocoConfig& d = c.sync.diloco;
    const int diloco_refreshes = d.streaming() ? kSteps : kSteps / d.inner_steps;
    const int expected_refreshes = c.sync.zero1 ? kSteps : (c.sync.mode == DpSync::kDiloco ? diloco_refreshes : 0);
    EXPECT_EQ(gpu[rank].weights_changed, expected_refreshes);
    if (!c.sync.zero1) continue;
    // ZeRO-1: the shard's moments only, and every replica's weights whole.
    EXPECT_LT(gpu[rank].m.size(), gpu[rank].params.size());
  }
  // The training did something: the losses move.
  for (const RankResult& r : cpu) {
    if (r.losses.size() >= 2) {
      EXPECT_NE(r.losses.front(), r.losses.back());
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Modes, StageUpdatePaths,
    ::testing::Values(SyncCase{"sync_dp2_pp2", 2, 2, "dc:4", Options(DpSync::kSync, false)},
                      SyncCase{"zero1_dp4", 4, 1, "dc:4", Options(DpSync::kSync, true)},
                      SyncCase{"zero1_dp2_pp2", 2, 2, "dc:4", Options(DpSync::kSync, true)},
                      SyncCase{"hierarchical_dp4", 4, 1, "east:2,west:2", Options(DpSync::kHierarchical, false)},
                      SyncCase{"diloco_dp4", 4, 1, "east:2,west:2", Options(DpSync::kDiloco, false)},
                      SyncCase{"diloco_fp16_dp4", 4, 1, "east:2,west:2",
                               Options(DpSync::kDiloco, false, Compression::kFp16)},
                      SyncCase{"diloco_int8_dp4", 4, 1, "east:2,west:2",
                               Options(DpSync::kDiloco, false, Compression::kInt8)},
                      SyncCase{"diloco_int4_dp4", 4, 1, "east:2,west:2",
                               Options(DpSync::kDiloco, false, Compression::kInt4)},
                      SyncCase{"diloco_sparse_dp4", 4, 1, "east:2,west:2",
                               Options(DpSync::kDiloco, false, Compression::kSparse)},
                      SyncCase{"streaming_int4_dp4", 4, 1, "east:2,west:2", Streaming(Compression::kInt4)},
                      SyncCase{"streaming_dp2_pp2", 2, 2, "east:2,west:2", Streaming(Compression::kNone)}),
    [](const ::testing::TestParamInfo<SyncCase>& info) { return info.param.name; });

// ZeRO-1 through the device path agrees with plain sync on the CPU path
// (the reduce-scatter averages what the all-reduce does; the same sums).
TEST(StageUpdate, Zero1OnTheDevicePathTrainsLikeSyncOnTheCpuPath) {
  const std::vector<RankResult> sync = Train({"sync", 4, 1, "dc:4", Options(DpSync::kSync, false)}, false);
  const std::vector<RankResult> zero = Train({"zero1", 4, 1, "dc:4", Options(DpSync::kSync, true)}, true);
  for (size_t rank = 0; rank < sync.size(); ++rank) {
    SCOPED_TRACE("rank " + std::to_string(rank));
    ASSERT_EQ(zero[rank].params.size(), sync[rank].params.size());
    double worst = 0.0, scale = 1e-12;
    for (size_t i = 0; i < sync[rank].params.size(); ++i) {
      scale = std::max(scale, (double)std::abs(sync[rank].params[i]));
      worst = std::max(worst, (double)std::abs(zero[rank].params[i] - sync[rank].params[i]));
    }
    EXPECT_LE(worst / scale, 1e-5);
    EXPECT_TRUE(zero[rank].whole_m.size() == sync[rank].whole_m.size());
  }
}

TEST(StageUpdate, TheDevicePathRefusesAnOptimizerThatIsNotTheSyncsShard) {
  const GPTConfig config = Tiny();
  HostDeviceStep device(config, WholeModel(config), 1, kB, kT);
  InProcessWorld world(2);
  ParallelLayout layout;
  layout.dp = 2;
  Status s = RunRanks(world, [&](int, Communicator* comm) -> Status {
    MERIDIAN_ASSIGN_OR_RETURN(ProcessGroups groups, BuildProcessGroups(comm, layout, *ParsePools("dc:2", 2)));
    TrafficCounter traffic({0, 0});
    MERIDIAN_ASSIGN_OR_RETURN(auto sync, GradientSync::Create(Options(DpSync::kSync, true), &groups,
                                                              device.layout(), 2, &traffic, HostMemory()));
    AdamWOptimizer whole(device.layout(), AdamWConfig{});  // the whole stage, not the shard
    Result<std::unique_ptr<StageUpdate>> update = StageUpdate::OnDevice(nullptr, &whole, sync.get());
    if (update.status().code() != Status::Code::kInvalidArgument)
      return Status::Internal("expected InvalidArgument, got " + update.status().ToString());
    return Status::OK();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
}

}  // namespace
}  // namespace meridian
