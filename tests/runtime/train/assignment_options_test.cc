// A scheduled rank's options as a pure function of the daemon's answer:
// model, training options and layout from the job, pools from the
// placement's runs of data centers, the priced sync mode, checkpoints in
// whole DiLoCo rounds, and the command line's paths left alone.
#include <gtest/gtest.h>

#include "runtime/train/assignment_options.h"

namespace meridian {
namespace {

v1::JobSpec Spec() {
  v1::JobSpec spec;
  spec.mutable_model()->set_preset("d4");
  spec.mutable_model()->set_n_layer(4);
  spec.mutable_model()->set_n_embd(64);
  spec.mutable_model()->set_max_seq_len(64);
  v1::TrainingOptions* t = spec.mutable_training();
  t->set_batch(2);
  t->set_seq(32);
  t->set_steps(103);
  t->set_lr(1e-3f);
  t->set_data("/data/train_*.bin");
  t->set_val_data("/data/val_*.bin");
  t->set_sample_prompt("17+25=");
  t->set_device(v1::DEVICE_CUDA);
  t->set_dtype(v1::DTYPE_BF16);
  return spec;
}

v1::Placement Placement(v1::DpSync sync) {
  v1::Placement p;
  p.set_dp(2);
  p.set_pp(2);
  p.set_dp_sync(sync);
  for (const char* dc : {"dc-a", "dc-a", "dc-b", "dc-b"}) p.add_ranks()->set_data_center(dc);
  return p;
}

TEST(AssignmentOptions, TheJobAndPlacementBecomeTheRanksOptions) {
  TrainOptions o;
  o.checkpoint_dir = "/jobs/job-000001/checkpoints";  // from the launcher's command line
  v1::RankAssignment a;
  a.set_gpu(3);
  a.set_layer_begin(2);
  a.set_layer_end(4);
  ASSERT_TRUE(ApplyJobToOptions(Spec(), Placement(v1::DP_SYNC_AUTO), a, /*attempt=*/2, &o).ok());
  EXPECT_EQ(o.model, "d4");
  EXPECT_EQ(o.n_layer, 4);
  EXPECT_EQ(o.n_embd, 64);
  EXPECT_EQ(o.max_seq, 64);
  EXPECT_EQ(o.batch, 2);
  EXPECT_EQ(o.seq, 32);
  EXPECT_EQ(o.steps, 103);
  EXPECT_EQ(o.microbatches, 1);
  EXPECT_FLOAT_EQ(o.lr, 1e-3f);
  EXPECT_EQ(o.data, "/data/train_*.bin");
  EXPECT_EQ(o.sample_prompt, "17+25=");
  EXPECT_EQ(o.device, Device::kCuda);
  EXPECT_EQ(o.dtype, DType::kBf16);
  EXPECT_EQ(o.dp, 2);
  EXPECT_EQ(o.pp, 2);
  EXPECT_EQ(o.pools, "dc-a:2,dc-b:2");
  EXPECT_EQ(o.dp_sync, DpSync::kSync);
  EXPECT_EQ(o.checkpoint_every, 20);  // steps / 5
  EXPECT_EQ(o.gpu, 3);
  EXPECT_EQ(o.attempt, 2);
  EXPECT_EQ(o.assigned_layer_begin, 2);
  EXPECT_EQ(o.assigned_layer_end, 4);
  EXPECT_EQ(o.checkpoint_dir, "/jobs/job-000001/checkpoints");
}

TEST(AssignmentOptions, DilocoCheckpointsFallOnRoundEnds) {
  TrainOptions o;
  o.diloco_h = 8;
  ASSERT_TRUE(ApplyJobToOptions(Spec(), Placement(v1::DP_SYNC_DILOCO), v1::RankAssignment(), 1, &o).ok());
  EXPECT_EQ(o.dp_sync, DpSync::kDiloco);
  EXPECT_EQ(o.checkpoint_every, 24);  // 20 rounded up to whole rounds of 8
  TrainOptions given;
  given.diloco_h = 8;
  given.checkpoint_every = 5;  // the command line's, still rounded to a round end
  ASSERT_TRUE(ApplyJobToOptions(Spec(), Placement(v1::DP_SYNC_DILOCO), v1::RankAssignment(), 1, &given).ok());
  EXPECT_EQ(given.checkpoint_every, 8);
}

TEST(AssignmentOptions, DilocoSettingsThePlacementTunedReplaceTheJobsOwn) {
  v1::Placement tuned = Placement(v1::DP_SYNC_DILOCO);
  tuned.mutable_tuned_diloco()->set_outer_compress("sparse");
  tuned.mutable_tuned_diloco()->set_fragments(2);
  tuned.mutable_tuned_diloco()->set_overlap(3);
  TrainOptions o;
  o.outer_compress = Compression::kInt8;  // the job's own, from its extra_args
  ASSERT_TRUE(ApplyJobToOptions(Spec(), tuned, v1::RankAssignment(), 1, &o).ok());
  EXPECT_EQ(o.outer_compress, Compression::kSparse);
  EXPECT_EQ(o.diloco_fragments, 2);
  EXPECT_EQ(o.diloco_overlap, 3);
  EXPECT_TRUE(ValidateTrainOptions(o).ok()) << ValidateTrainOptions(o).message();
  // Settings for a mode the placement did not choose are not applied.
  tuned.set_dp_sync(v1::DP_SYNC_HIERARCHICAL);
  TrainOptions h;
  ASSERT_TRUE(ApplyJobToOptions(Spec(), tuned, v1::RankAssignment(), 1, &h).ok());
  EXPECT_EQ(h.outer_compress, Compression::kNone);
  // A compression this rank has no name for is refused by name.
  tuned.set_dp_sync(v1::DP_SYNC_DILOCO);
  tuned.mutable_tuned_diloco()->set_outer_compress("int3");
  TrainOptions bad;
  Status s = ApplyJobToOptions(Spec(), tuned, v1::RankAssignment(), 1, &bad);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("int3"), std::string::npos) << s.message();
}

TEST(AssignmentOptions, AcrossALinkInContactWindowsDilocoWaitsForThem) {
  v1::Placement windowed = Placement(v1::DP_SYNC_DILOCO);
  windowed.set_wan_window("5400:600:120");
  TrainOptions o;
  o.diloco_fragments = 4;  // streaming fragments cannot be elastic: one fragment
  ASSERT_TRUE(ApplyJobToOptions(Spec(), windowed, v1::RankAssignment(), 1, &o).ok());
  EXPECT_TRUE(o.diloco_elastic);
  EXPECT_EQ(o.wan_window, "5400:600:120");
  EXPECT_EQ(o.diloco_fragments, 1);
  EXPECT_EQ(o.diloco_overlap, 1);
  EXPECT_TRUE(ValidateTrainOptions(o).ok()) << ValidateTrainOptions(o).message();
  // Hierarchical across the same link: nothing to wait for in rounds.
  windowed.set_dp_sync(v1::DP_SYNC_HIERARCHICAL);
  TrainOptions h;
  ASSERT_TRUE(ApplyJobToOptions(Spec(), windowed, v1::RankAssignment(), 1, &h).ok());
  EXPECT_FALSE(h.diloco_elastic);
  EXPECT_TRUE(h.wan_window.empty());
}

TEST(AssignmentOptions, AListOfContactWindowsReachesTheTrainerAsGiven) {
  v1::Placement windowed = Placement(v1::DP_SYNC_DILOCO);
  windowed.set_wan_window("@1796000000.5-1796000600.25,1796005400-1796006000.0999999");
  TrainOptions o;
  ASSERT_TRUE(ApplyJobToOptions(Spec(), windowed, v1::RankAssignment(), 1, &o).ok());
  EXPECT_TRUE(o.diloco_elastic);
  EXPECT_EQ(o.wan_window, "@1796000000.5-1796000600.25,1796005400-1796006000.0999999");
  EXPECT_TRUE(ValidateTrainOptions(o).ok()) << ValidateTrainOptions(o).message();
}

TEST(AssignmentOptions, AnUnknownSyncModeIsRefusedByName) {
  TrainOptions o;
  Status s = ApplyJobToOptions(Spec(), Placement(static_cast<v1::DpSync>(42)), v1::RankAssignment(), 1, &o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("42"), std::string::npos) << s.message();
}

TEST(AssignmentOptions, RunsOfOneDataCenterAreOnePoolEach) {
  v1::Placement p = Placement(v1::DP_SYNC_HIERARCHICAL);
  p.mutable_ranks(3)->set_data_center("dc-a");  // dc-a, dc-a, dc-b, dc-a
  TrainOptions o;
  ASSERT_TRUE(ApplyJobToOptions(Spec(), p, v1::RankAssignment(), 1, &o).ok());
  EXPECT_EQ(o.pools, "dc-a:2,dc-b:1,dc-a:1");
}

// One world per data center: dp 3 x pp 2 with replicas 0 and 2 in dc-a
// (ranks 0,1 and 4,5) and replica 1 in dc-b (ranks 2,3), stages on
// different hosts.
v1::Placement WorldsPlacement() {
  v1::Placement p;
  p.set_dp(3);
  p.set_pp(2);
  p.set_dp_sync(v1::DP_SYNC_DILOCO);
  p.set_dc_worlds(true);
  p.set_wan_port(30000);
  for (int r = 0; r < 6; ++r) {
    v1::RankAssignment* a = p.add_ranks();
    a->set_rank(r);
    a->set_dp_index(r / 2);
    a->set_stage(r % 2);
    a->set_data_center(r / 2 == 1 ? "dc-b" : "dc-a");
    a->set_host((r / 2 == 1 ? "b" : "a") + std::to_string(r));
  }
  return p;
}

TEST(AssignmentOptions, AWorldIsItsDataCentersReplicasAndFindsTheOtherWorldsLeaders) {
  const v1::Placement p = WorldsPlacement();
  // World 0 is dc-a (its rank first), world 1 dc-b; local ranks in order.
  EXPECT_EQ(WorldRank(p, 0, 0), 0);
  EXPECT_EQ(WorldRank(p, 0, 2), 4);
  EXPECT_EQ(WorldRank(p, 1, 1), 3);
  EXPECT_EQ(WorldRank(p, 1, 2), -1);
  EXPECT_EQ(WorldRank(p, 2, 0), -1);
  TrainOptions o;
  o.wan_world = 0;
  o.dp_sync = DpSync::kDiloco;
  ASSERT_TRUE(ApplyJobToOptions(Spec(), p, p.ranks(5), 1, &o).ok());
  EXPECT_EQ(o.pools, "dc-a:4");
  EXPECT_EQ(o.dp, 2);
  EXPECT_EQ(o.data_slice_first, 0);
  EXPECT_EQ(o.data_slices, 3);
  // Stage 1's leaders: a1 in dc-a (world 0), b3 in dc-b (world 1); world
  // w's stage s on port + w * pp + s.
  EXPECT_EQ(o.wan_stage_peers, (std::vector<std::string>{"a1:30001", "b3:30003"}));
  EXPECT_EQ(o.wan_peers, "a0:30000,b2:30002");
  EXPECT_TRUE(o.diloco_elastic);
  EXPECT_GE(o.diloco_overlap, 1);
  EXPECT_EQ(o.diloco_fragments, 1);
  TrainOptions b;
  b.wan_world = 1;
  ASSERT_TRUE(ApplyJobToOptions(Spec(), p, p.ranks(2), 1, &b).ok());
  EXPECT_EQ(b.pools, "dc-b:2");
  EXPECT_EQ(b.dp, 1);
  EXPECT_EQ(b.data_slice_first, 1);
}

// Three worlds, one replica each (dc-a, dc-b, dc-c): the link a-b in
// periodic windows, c-a in a list of them (given c first), b-c always up.
v1::Placement ThreeWorldsWithLinkWindows() {
  v1::Placement p;
  p.set_dp(3);
  p.set_pp(1);
  p.set_dp_sync(v1::DP_SYNC_DILOCO);
  p.set_dc_worlds(true);
  p.set_wan_port(30000);
  p.set_wan_window("5400:600:0");  // the least-up link's
  const char* dcs[] = {"dc-a", "dc-b", "dc-c"};
  for (int r = 0; r < 3; ++r) {
    v1::RankAssignment* a = p.add_ranks();
    a->set_rank(r);
    a->set_dp_index(r);
    a->set_data_center(dcs[r]);
    a->set_host(std::string("h") + std::to_string(r));
  }
  v1::LinkWindow* ab = p.add_link_windows();
  ab->set_a("dc-a");
  ab->set_b("dc-b");
  ab->set_schedule("5400:600:0");
  v1::LinkWindow* ca = p.add_link_windows();
  ca->set_a("dc-c");
  ca->set_b("dc-a");
  ca->set_schedule("@1796000000-1796000600,1796005400-1796006000");
  return p;
}

TEST(AssignmentOptions, EachWorldWaitsForTheWindowOfItsOwnLinkToEachPeer) {
  const v1::Placement p = ThreeWorldsWithLinkWindows();
  const std::string list = "@1796000000-1796000600,1796005400-1796006000";
  const std::vector<std::string> want = {";5400:600:0;" + list, "5400:600:0;;", list + ";;"};
  for (int world = 0; world < 3; ++world) {
    TrainOptions o;
    o.wan_world = world;
    ASSERT_TRUE(ApplyJobToOptions(Spec(), p, p.ranks(world), 1, &o).ok());
    EXPECT_EQ(o.wan_peer_windows, want[world]) << "world " << world;
    // The exchange waits per link; the least-up link no longer gates them all.
    EXPECT_TRUE(o.wan_window.empty()) << "world " << world;
    EXPECT_TRUE(o.diloco_elastic);
    EXPECT_TRUE(ValidateTrainOptions(o).ok()) << ValidateTrainOptions(o).message();
    const std::vector<LinkSchedule> windows = o.WanPeerWindows().value();
    ASSERT_EQ(windows.size(), 3u);
    EXPECT_TRUE(windows[world].always_up());
  }
}

TEST(AssignmentOptions, WorldsWithoutLinkWindowsKeepTheJobsWindow) {
  v1::Placement p = ThreeWorldsWithLinkWindows();
  p.clear_link_windows();  // recorded before placements carried them
  TrainOptions o;
  o.wan_world = 1;
  ASSERT_TRUE(ApplyJobToOptions(Spec(), p, p.ranks(1), 1, &o).ok());
  EXPECT_TRUE(o.wan_peer_windows.empty());
  EXPECT_EQ(o.wan_window, "5400:600:0");
}

TEST(AssignmentOptions, AWorldsRankStartedWithoutItsWorldIsRefused) {
  const v1::Placement p = WorldsPlacement();
  TrainOptions o;  // no --wan-world
  Status s = ApplyJobToOptions(Spec(), p, p.ranks(0), 1, &o);
  EXPECT_NE(s.message().find("--wan-world -1"), std::string::npos) << s.message();
  o.wan_world = 1;  // rank 0 is dc-a's
  s = ApplyJobToOptions(Spec(), p, p.ranks(0), 1, &o);
  EXPECT_NE(s.message().find("started as world 1"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace meridian
