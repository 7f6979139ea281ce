// Contact windows on links between data centers: when a link is up, what a
// transfer over it is expected to cost, the cluster file's fields and their
// errors, and the placement's prices under a window.
#include "common/link_schedule.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>

#include "scheduler/core/topology.h"
#include "scheduler/placement/placement.h"
#include "tests/scheduler/placement_test_util.h"

namespace meridian::scheduler {
namespace {

LinkSchedule Periodic(double period, double up, double phase = 0.0) {
  LinkSchedule s;
  s.period_s = period;
  s.up_s = up;
  s.phase_s = phase;
  return s;
}

LinkSchedule Windows(std::vector<std::pair<double, double>> windows) {
  LinkSchedule s;
  s.windows = std::move(windows);
  return s;
}

TEST(LinkSchedule, APeriodicWindowOpensAtItsPhaseForUpSecondsEveryPeriod) {
  const LinkSchedule s = Periodic(90, 30, 10);  // up [10, 40), [100, 130), ...
  EXPECT_FALSE(s.UpAt(0));
  EXPECT_TRUE(s.UpAt(10));
  EXPECT_TRUE(s.UpAt(39.9));
  EXPECT_FALSE(s.UpAt(40));
  EXPECT_TRUE(s.UpAt(100));
  EXPECT_TRUE(s.UpAt(-80));  // before the phase: the same cycle backwards
  EXPECT_DOUBLE_EQ(s.NextUpAt(0), 10);
  EXPECT_DOUBLE_EQ(s.NextUpAt(20), 20);
  EXPECT_DOUBLE_EQ(s.NextUpAt(40), 100);
  EXPECT_DOUBLE_EQ(s.DutyCycle(), 1.0 / 3.0);
  EXPECT_EQ(s.Describe(), "30 s every 90 s (33% up)");
}

TEST(LinkSchedule, ExplicitWindowsAreUpOnlyInsideThem) {
  LinkSchedule s;
  s.windows = {{100, 110}, {200, 220}, {300, 330}};
  EXPECT_FALSE(s.UpAt(99));
  EXPECT_TRUE(s.UpAt(105));
  EXPECT_FALSE(s.UpAt(110));
  EXPECT_DOUBLE_EQ(s.NextUpAt(150), 200);
  EXPECT_EQ(s.NextUpAt(400), std::numeric_limits<double>::infinity());
  // Open 20 s on average; gaps (200-100-10 + 300-200-20) / 2 = 85 s.
  EXPECT_NEAR(s.DutyCycle(), 20.0 / 105.0, 1e-12);
}

TEST(LinkSchedule, ATransferWaitsForAWindowAndSitsOutTheGapsItOutlasts) {
  const LinkSchedule always;
  EXPECT_DOUBLE_EQ(always.ExpectedTransferSeconds(2.0), 2.0);
  const LinkSchedule s = Periodic(90, 30);  // gap 60 s, met 2/3 of the time
  EXPECT_DOUBLE_EQ(s.ExpectedTransferSeconds(1.0), 1.0 + 60.0 * (60.0 / 90.0) / 2.0);
  EXPECT_DOUBLE_EQ(s.ExpectedTransferSeconds(70.0), 20.0 + 70.0 + 2 * 60.0);
  // A transfer that takes longer than the link is ever up on average runs
  // at no more than the duty cycle's share of the rate.
  EXPECT_GE(s.ExpectedTransferSeconds(300.0), 300.0 / s.DutyCycle() - 60.0);
}

TEST(LinkSchedule, ValidationNamesTheField) {
  EXPECT_TRUE(ValidateLinkSchedule(Periodic(90, 30), "links[0]").ok());
  Status s = ValidateLinkSchedule(Periodic(90, 120), "links[0]");
  EXPECT_NE(s.message().find("links[0].window.up_s = 120"), std::string::npos) << s.message();
  LinkSchedule overlapping;
  overlapping.windows = {{0, 10}, {5, 20}};
  s = ValidateLinkSchedule(overlapping, "links[1]");
  EXPECT_NE(s.message().find("links[1].windows[1]"), std::string::npos) << s.message();
  LinkSchedule both = Periodic(90, 30);
  both.windows = {{0, 10}};
  EXPECT_FALSE(ValidateLinkSchedule(both, "links[2]").ok());
}

TEST(WindowSpec, APeriodicWindowKeepsItsText) {
  EXPECT_EQ(FormatWindowSpec(Periodic(60, 20, 7)), "60:20:7");
  EXPECT_EQ(FormatWindowSpec(Periodic(5400, 600)), "5400:600:0");
  EXPECT_EQ(FormatWindowSpec(LinkSchedule{}), "");
  Result<LinkSchedule> s = ParseWindowSpec("5400:600", "--wan-window");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_DOUBLE_EQ(s->period_s, 5400);
  EXPECT_DOUBLE_EQ(s->up_s, 600);
  EXPECT_TRUE(s->windows.empty());
}

TEST(WindowSpec, AListOfWindowsReadsAsUnixSecondsWithDecimals) {
  Result<LinkSchedule> s = ParseWindowSpec("@1796000000-1796000600.5,1796005400.25-1.796006e9", "--wan-window");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->period_s, 0.0);
  ASSERT_EQ(s->windows.size(), 2u);
  EXPECT_EQ(s->windows[0], std::make_pair(1796000000.0, 1796000600.5));
  EXPECT_EQ(s->windows[1], std::make_pair(1796005400.25, 1796006000.0));
  // A number's own sign goes with it: before the epoch too.
  s = ParseWindowSpec("@-10--5,0-2.5", "--wan-window");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->windows[0], std::make_pair(-10.0, -5.0));
  EXPECT_EQ(s->windows[1], std::make_pair(0.0, 2.5));
}

TEST(WindowSpec, AListOfWindowsRoundTripsExactly) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> gap(1e-3, 5400.0), up(1e-3, 600.0);
  LinkSchedule s;
  double t = 1796000000.0 + gap(rng);
  for (int i = 0; i < 200; ++i) {
    const double open = t, close = open + up(rng);
    s.windows.emplace_back(open, close);
    t = close + gap(rng);
  }
  s.windows.emplace_back(t, t + 0.1);  // 0.1 has no exact binary form
  const std::string text = FormatWindowSpec(s);
  ASSERT_EQ(text[0], '@');
  Result<LinkSchedule> back = ParseWindowSpec(text, "--wan-window");
  ASSERT_TRUE(back.ok()) << back.status().message();
  ASSERT_EQ(back->windows.size(), s.windows.size());
  for (size_t i = 0; i < s.windows.size(); ++i) {
    EXPECT_EQ(back->windows[i].first, s.windows[i].first) << i;
    EXPECT_EQ(back->windows[i].second, s.windows[i].second) << i;
  }
  EXPECT_EQ(FormatWindowSpec(*back), text);
  const LinkSchedule negative = Windows({{-10.5, -5}, {0.1, 0.2}});
  back = ParseWindowSpec(FormatWindowSpec(negative), "--wan-window");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->windows, negative.windows);
}

TEST(WindowSpec, RefusalsNameTheOptionAndTheValue) {
  auto refusal = [](const std::string& text) {
    Result<LinkSchedule> s = ParseWindowSpec(text, "--wan-window");
    return s.ok() ? std::string("accepted") : s.status().message();
  };
  for (const char* text : {"@", "@10", "@10-", "@-10", "@0-10,", "@0-10;20-30", "@0-10 ", "@ 0-10", "@0-10x",
                           "@0-inf", "@nan-1", "@+0-10", "@0-10,,20-30"}) {
    const std::string m = refusal(text);
    EXPECT_EQ(m.rfind(std::string("--wan-window = ") + text + ": ", 0), 0u) << text << ": " << m;
  }
  EXPECT_NE(refusal("@0-10;20-30").find("windows[0]: expected ','"), std::string::npos) << refusal("@0-10;20-30");
  EXPECT_NE(refusal("@0-10,20").find("windows[1]: expected OPEN-CLOSE"), std::string::npos);
  EXPECT_EQ(refusal("@10-5"), "--wan-window = @10-5: windows[0] = 10: must close after it opens");
  EXPECT_EQ(refusal("@1796000000-1796000600,1796000500-1796001000"),
            "--wan-window = @1796000000-1796000600,1796000500-1796001000: windows[1] = 1796000500: must open after "
            "the previous window closes");
  // Windows that touch are in order: [0, 10) then [10, 20).
  EXPECT_EQ(refusal("@0-10,10-20"), "accepted");
  EXPECT_NE(refusal("10-20").find("or @OPEN-CLOSE,OPEN-CLOSE,..."), std::string::npos) << refusal("10-20");
}

TEST(WindowSpec, AListHoldsAtMostTenThousandWindows) {
  std::string text = "@";
  for (size_t i = 0; i < kMaxLinkWindows; ++i)
    text += (i ? "," : "") + std::to_string(2 * i) + "-" + std::to_string(2 * i + 1);
  Result<LinkSchedule> s = ParseWindowSpec(text, "--wan-window");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->windows.size(), kMaxLinkWindows);
  EXPECT_TRUE(ValidateLinkSchedule(*s, "links[0]").ok());
  text += ",1000000-1000001";
  s = ParseWindowSpec(text, "--wan-window");
  ASSERT_FALSE(s.ok());
  // The message shows the start of the list, not all of it.
  EXPECT_NE(s.status().message().find("more than 10000 windows"), std::string::npos) << s.status().message();
  EXPECT_LT(s.status().message().size(), 200u) << s.status().message();
  LinkSchedule many;
  for (size_t i = 0; i <= kMaxLinkWindows; ++i) many.windows.emplace_back(2.0 * i, 2.0 * i + 1);
  const Status v = ValidateLinkSchedule(many, "links[0]");
  EXPECT_NE(v.message().find("links[0].windows: 10001 windows, more than 10000"), std::string::npos) << v.message();
}

constexpr char kWindowedCluster[] = R"(
data_centers:
  - {name: ground, nodes: [{name: g0, host: 10.0.0.1, gpus: 2}]}
  - {name: orbit, nodes: [{name: o0, host: 10.0.1.1, gpus: 2}]}
  - {name: relay, nodes: [{name: r0, host: 10.0.2.1, gpus: 2}]}
links:
  - {a: ground, b: orbit, gbps: 10, latency_ms: 20, window: {period_s: 5400, up_s: 600, phase_s: 120}}
  - {a: ground, b: relay, gbps: 1, latency_ms: 40, windows: [[0, 60], [600, 700]]}
)";

TEST(ClusterFile, LinksTakeAPeriodicWindowOrAListOfWindows) {
  Result<Topology> t = ParseClusterYaml(kWindowedCluster, "c.yaml");
  ASSERT_TRUE(t.ok()) << t.status().message();
  ASSERT_EQ(t->links.size(), 2u);
  EXPECT_DOUBLE_EQ(t->links[0].schedule.period_s, 5400);
  EXPECT_DOUBLE_EQ(t->links[0].schedule.up_s, 600);
  EXPECT_DOUBLE_EQ(t->links[0].schedule.phase_s, 120);
  EXPECT_EQ(t->links[1].schedule.windows.size(), 2u);

  std::string bad = kWindowedCluster;
  bad.replace(bad.find("up_s: 600"), 9, "up_s: 6000");
  Result<Topology> e = ParseClusterYaml(bad, "c.yaml");
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("c.yaml: links[0].window.up_s = 6000"), std::string::npos)
      << e.status().message();
  bad = kWindowedCluster;
  bad.replace(bad.find("[[0, 60]"), 8, "[[0, -1]");
  e = ParseClusterYaml(bad, "c.yaml");
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("links[1].windows[0]"), std::string::npos) << e.status().message();
  bad = kWindowedCluster;
  bad.replace(bad.find("phase_s"), 7, "phaze_s");
  e = ParseClusterYaml(bad, "c.yaml");
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("links[0].window.phaze_s: unknown field"), std::string::npos)
      << e.status().message();
}

// Two data centers of CPU slots joined by a link up a third of the time.
Topology WindowedPair(const LinkSchedule& schedule) {
  Topology topo;
  topo.data_centers = {MakeDc("a"), MakeDc("b")};
  topo.nodes = {MakeNode("a0", "a", 2, "cpu", 16, 0.1), MakeNode("b0", "b", 2, "cpu", 16, 0.1)};
  topo.links = {InterDcLink{"a", "b", 1.0, 25.0, schedule}};
  return topo;
}

TEST(PlaceJob, ContactWindowsMakeEveryStepSyncPayTheWaitAndDilocoPayItOncePerRound) {
  JobRequest job = SmallJob(4, 1);
  job.dp_sync = DpSync::kHierarchical;
  Result<Placement> up = PlaceJob(WindowedPair(LinkSchedule{}), {}, job);
  Result<Placement> windowed = PlaceJob(WindowedPair(Periodic(60, 20)), {}, job);
  ASSERT_TRUE(up.ok() && windowed.ok());
  // Hierarchical crosses the WAN every step: ~13 s of expected wait a step.
  EXPECT_GT(windowed->dp_comm_s, up->dp_comm_s + 10.0);
  job.dp_sync = DpSync::kDiloco;
  job.diloco_h = 100;
  Result<Placement> diloco = PlaceJob(WindowedPair(Periodic(60, 20)), {}, job);
  ASSERT_TRUE(diloco.ok());
  EXPECT_LT(diloco->dp_comm_s, windowed->dp_comm_s / 50.0);
  // Left to choose, the placement takes a DiLoCo mode over this link, and
  // hands the ranks the window to wait for.
  job.dp_sync.reset();
  Result<Placement> automatic = PlaceJob(WindowedPair(Periodic(60, 20, 7)), {}, job);
  ASSERT_TRUE(automatic.ok());
  EXPECT_EQ(automatic->dp_sync, DpSync::kDiloco);
  EXPECT_EQ(automatic->wan_window, "60:20:7");
  EXPECT_EQ(up->wan_window, "");
}

TEST(PlaceJob, AListOfWindowsReachesTheRanksExactly) {
  JobRequest job = SmallJob(4, 1);
  job.dp_sync = DpSync::kDiloco;
  job.diloco_h = 100;
  const LinkSchedule passes = Windows({{1796000000.5, 1796000600.25}, {1796005400, 1796006000.1}});
  Result<Placement> p = PlaceJob(WindowedPair(passes), {}, job);
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->wan_window, "@1796000000.5-1796000600.25,1796005400-1796006000.0999999");
  Result<LinkSchedule> back = ParseWindowSpec(p->wan_window, "--wan-window");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->windows, passes.windows);
}

// Three data centers in a ring, every replica in a different one: the
// DP group crosses both scheduled links, and the ranks wait for the one
// that is up least, whichever kind it is.
TEST(PlaceJob, TheRanksWaitForTheLeastUpScheduleWhetherPeriodicOrAList) {
  auto ring = [](const LinkSchedule& ab, const LinkSchedule& bc) {
    Topology topo;
    topo.data_centers = {MakeDc("a"), MakeDc("b"), MakeDc("c")};
    topo.nodes = {MakeNode("a0", "a", 1, "cpu", 16, 0.1), MakeNode("b0", "b", 1, "cpu", 16, 0.1),
                  MakeNode("c0", "c", 1, "cpu", 16, 0.1)};
    topo.links = {InterDcLink{"a", "b", 1.0, 25.0, ab}, InterDcLink{"b", "c", 1.0, 25.0, bc},
                  InterDcLink{"a", "c", 1.0, 25.0, LinkSchedule{}}};
    return topo;
  };
  JobRequest job = SmallJob(3, 1);
  job.dp_sync = DpSync::kDiloco;
  job.diloco_h = 100;
  const LinkSchedule third = Periodic(60, 20);                           // up 33%
  const LinkSchedule tenth = Windows({{0, 10}, {100, 110}});             // up 10%
  const LinkSchedule half = Windows({{0, 50}, {100, 150}, {200, 250}});  // up 50%
  Result<Placement> p = PlaceJob(ring(third, tenth), {}, job);
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->wan_window, "@0-10,100-110");
  p = PlaceJob(ring(third, half), {}, job);
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->wan_window, "60:20:0");
  p = PlaceJob(ring(LinkSchedule{}, half), {}, job);
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->wan_window, "@0-50,100-150,200-250");
}

TEST(ClusterFile, ALinkListsAtMostTenThousandWindows) {
  std::string many = "[";
  for (size_t i = 0; i <= kMaxLinkWindows; ++i)
    many += (i ? ", [" : "[") + std::to_string(2 * i) + ", " + std::to_string(2 * i + 1) + "]";
  many += "]";
  std::string yaml = kWindowedCluster;
  yaml.replace(yaml.find("[[0, 60], [600, 700]]"), 21, many);
  Result<Topology> t = ParseClusterYaml(yaml, "c.yaml");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("links[1].windows = 10001 windows: at most 10000"), std::string::npos)
      << t.status().message().substr(0, 300);
}

// The example constellation: a job over ground and orbit plans, and its
// cross-data-center modes pay for the passes.
TEST(PlaceJob, TheConstellationExamplePlansAJobOverGroundAndOrbit) {
  Result<Topology> topo = LoadClusterFile(std::string(MERIDIAN_SOURCE_DIR) + "/examples/clusters/constellation.yaml");
  ASSERT_TRUE(topo.ok()) << topo.status().message();
  ASSERT_EQ(topo->links.size(), 3u);
  EXPECT_NEAR(topo->links[1].schedule.DutyCycle(), 600.0 / 5400.0, 1e-12);
  // 80 GPUs: more than the two ground data centers hold.
  JobRequest job = GptJob(80, 1, "d4");
  job.dp_sync = DpSync::kDiloco;
  job.diloco_h = 500;
  Result<Placement> p = PlaceJob(*topo, {}, job);
  ASSERT_TRUE(p.ok()) << p.status().message();
  bool in_orbit = false;
  for (const RankPlacement& r : p->ranks) in_orbit = in_orbit || r.data_center == "orbit";
  EXPECT_TRUE(in_orbit);
  const ModePrice* hierarchical = nullptr;
  for (const ModePrice& m : p->modes) hierarchical = m.mode == "hierarchical" ? &m : hierarchical;
  ASSERT_NE(hierarchical, nullptr);
  EXPECT_GT(hierarchical->dp_comm_s, 1000.0);  // every step waits for a pass
  EXPECT_LT(p->dp_comm_s, hierarchical->dp_comm_s / 100.0);
}

}  // namespace
}  // namespace meridian::scheduler
