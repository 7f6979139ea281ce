// The scheduler core with a cluster of many hosts: cluster-file nodes that
// wait for their agents, agents that bring their own nodes, deregistration,
// restarts; jobs restricted to data centers, never spanning launchers, and
// refused at submit when their data matches no file.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>

#include "scheduler/service/job_placement.h"
#include "tests/scheduler/core_fixture.h"
#include "tests/scheduler/tiny_job.h"

namespace meridian::scheduler {
namespace {

// dc-a and dc-b over SSH (2 one-slot hosts each, waiting for agents),
// dc-s under Slurm (2 two-slot hosts).
constexpr const char* kCluster = R"(
data_centers:
  - name: dc-a
    launcher: ssh
    nodes: [{name: hosta, gpus: 1, agent: true}, {name: hostb, gpus: 1, agent: true}]
  - name: dc-b
    launcher: ssh
    nodes: [{name: hostc, gpus: 1, agent: true}, {name: hostd, gpus: 1, agent: true}]
  - name: dc-s
    launcher: slurm
    slurm: {conf: /etc/slurm/slurm.conf, partition: batch}
    nodes: [{name: hoste, gpus: 2, host: 10.0.3.2}, {name: hostf, gpus: 2, host: 10.0.3.3}]
agents:
  - {name: "extra*", data_center: dc-a, max_gpus: 4}
  - {name: "extra*", data_center: dc-b, max_gpus: 4}
)";

v1::JobSpec Dp2Pp2(const std::string& data) { return TinyJob(2, 2, data); }

v1::Node AgentNode(const std::string& name, const std::string& dc, const std::string& host, int slots = 1) {
  v1::Node n;
  n.set_name(name);
  n.set_data_center(dc);
  n.set_host(host);
  n.set_hostname(name);
  for (int i = 0; i < slots; ++i) n.add_gpus()->set_model("cpu");
  return n;
}

class NodesTest : public CoreFixture {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_ / "data");
    std::ofstream(dir_ / "data" / "train_000.bin") << "x";
    cluster_ = ParseClusterYaml(kCluster, "cluster.yaml").value();
    options_.check_data_paths = true;
    StartCore();
  }
  std::string Data() const { return (dir_ / "data" / "train_*.bin").string(); }
  const v1::Node* FindNode(const std::string& name) {
    pools_ = core_->ListPools();
    for (const auto& p : pools_.pools())
      for (const auto& n : p.nodes())
        if (n.name() == name) return &n;
    return nullptr;
  }
  void RegisterDcAB() {
    ASSERT_TRUE(core_->RegisterNode(AgentNode("hosta", "dc-a", "10.0.1.2")).ok());
    ASSERT_TRUE(core_->RegisterNode(AgentNode("hostb", "dc-a", "10.0.1.3")).ok());
    ASSERT_TRUE(core_->RegisterNode(AgentNode("hostc", "dc-b", "10.0.2.2")).ok());
    ASSERT_TRUE(core_->RegisterNode(AgentNode("hostd", "dc-b", "10.0.2.3")).ok());
  }

  v1::ListPoolsResponse pools_;
};

TEST_F(NodesTest, AFileNodeWaitsForItsAgentAndTakesItsAddress) {
  ASSERT_NE(FindNode("hosta"), nullptr);
  EXPECT_FALSE(FindNode("hosta")->alive());
  EXPECT_TRUE(FindNode("hoste")->alive());  // no agent: alive as the file says
  // No agent yet: a heartbeat is answered NOT_FOUND so the agent registers.
  EXPECT_EQ(core_->Heartbeat("hosta").code(), Status::Code::kNotFound);
  ASSERT_TRUE(core_->RegisterNode(AgentNode("hosta", "dc-a", "10.0.1.2")).ok());
  const v1::Node* a = FindNode("hosta");
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(a->alive());
  EXPECT_EQ(a->host(), "10.0.1.2");
  EXPECT_EQ(a->hostname(), "hosta");
  EXPECT_TRUE(core_->Heartbeat("hosta").ok());
  // The agent of a file node must name the file's data center.
  Result<v1::Node> wrong = core_->RegisterNode(AgentNode("hostb", "dc-b", "10.0.1.3"));
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("belongs to dc-a"), std::string::npos) << wrong.status().message();
}

TEST_F(NodesTest, RegistrationRefusesUnknownDataCentersAndBadHosts) {
  Result<v1::Node> r = core_->RegisterNode(AgentNode("x", "mars", "10.0.0.9"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("dc-a, dc-b, dc-s"), std::string::npos) << r.status().message();
  r = core_->RegisterNode(AgentNode("x", "dc-a", "10.0.0.9; rm -rf /"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("node.host"), std::string::npos) << r.status().message();
}

// An agent token binds only the node's name: what the agent claims beyond
// it is held to what the operator allowed, and a refusal names why.
TEST_F(NodesTest, AgentsClaimOnlyWhatTheOperatorAllowed) {
  auto refused = [&](const v1::Node& n, const std::string& why) {
    Result<v1::Node> r = core_->RegisterNode(n);
    ASSERT_FALSE(r.ok()) << n.name();
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find(why), std::string::npos) << r.status().message();
  };
  // A node the file does not name, with no rule for it (or another data center's rule).
  refused(AgentNode("stranger", "dc-a", "10.0.1.9"), "no agents: rule");
  refused(AgentNode("extra-1", "dc-s", "10.0.3.9"), "no agents: rule");
  // More GPUs than the rule allows, or than any node may have.
  refused(AgentNode("extra-1", "dc-a", "10.0.1.9", 5), "the 4 the cluster file's agents rule");
  refused(AgentNode("extra-1", "dc-a", "10.0.1.9", 65), "must be 1-64");
  // A file node keeps the file's GPU count, and its host where the file gives one.
  refused(AgentNode("hosta", "dc-a", "10.0.1.2", 8), "the cluster file gives node hosta 1");
  refused(AgentNode("hoste", "dc-s", "10.9.9.9", 2), "the cluster file gives node hoste host 10.0.3.2");
  // Absurd figures and hosts read as options.
  v1::Node huge = AgentNode("extra-1", "dc-a", "10.0.1.9");
  huge.mutable_gpus(0)->set_memory_gb(1e9);
  refused(huge, "node.gpus[0].memory_gb");
  v1::Node infinite = AgentNode("extra-1", "dc-a", "10.0.1.9");
  infinite.mutable_gpus(0)->set_tflops(std::numeric_limits<double>::infinity());
  refused(infinite, "node.gpus[0].tflops");
  v1::Node nan = AgentNode("extra-1", "dc-a", "10.0.1.9");
  nan.mutable_gpus(0)->set_memory_gb(std::nan(""));
  refused(nan, "node.gpus[0].memory_gb");
  refused(AgentNode("extra-1", "dc-a", "-oProxyCommand=touch"), "must not start with '-'");
  // What the rules allow still registers.
  EXPECT_TRUE(core_->RegisterNode(AgentNode("extra-1", "dc-a", "10.0.1.9", 4)).ok());
  EXPECT_TRUE(core_->RegisterNode(AgentNode("hoste", "dc-s", "10.0.3.2", 2)).ok());
}

TEST_F(NodesTest, DeregisterForgetsAgentNodesAndResetsFileNodes) {
  ASSERT_TRUE(core_->RegisterNode(AgentNode("extra", "dc-a", "10.0.1.9", 2)).ok());
  ASSERT_TRUE(core_->RegisterNode(AgentNode("hosta", "dc-a", "10.0.1.2")).ok());
  ASSERT_TRUE(core_->DeregisterNode("extra").ok());
  EXPECT_EQ(FindNode("extra"), nullptr);
  ASSERT_TRUE(core_->DeregisterNode("hosta").ok());
  ASSERT_NE(FindNode("hosta"), nullptr);
  EXPECT_FALSE(FindNode("hosta")->alive());  // back to waiting for its agent
  EXPECT_EQ(core_->DeregisterNode("hoste").code(), Status::Code::kNotFound);
  // Neither comes back after a restart: only live registrations are kept.
  RestartCore();
  EXPECT_EQ(FindNode("extra"), nullptr);
  EXPECT_FALSE(FindNode("hosta")->alive());
}

TEST_F(NodesTest, AgentRegistrationsSurviveARestart) {
  ASSERT_TRUE(core_->RegisterNode(AgentNode("extra", "dc-b", "10.0.2.9", 3)).ok());
  ASSERT_TRUE(core_->RegisterNode(AgentNode("hostc", "dc-b", "10.0.2.2")).ok());
  RestartCore();
  ASSERT_NE(FindNode("extra"), nullptr);
  EXPECT_EQ(FindNode("extra")->gpus_size(), 3);
  EXPECT_TRUE(FindNode("hostc")->alive());
  EXPECT_EQ(FindNode("hostc")->host(), "10.0.2.2");
}

TEST_F(NodesTest, AJobOnANodeWhoseAgentLeavesRestarts) {
  RegisterDcAB();
  v1::JobSpec spec = Dp2Pp2(Data());
  spec.add_data_centers("dc-a");
  spec.add_data_centers("dc-b");
  Result<v1::Job> job = core_->SubmitJob(spec);
  ASSERT_TRUE(job.ok()) << job.status().message();
  ASSERT_EQ(core_->GetJob(job->id())->state(), v1::RUNNING);
  ASSERT_TRUE(core_->DeregisterNode("hostc").ok());
  ASSERT_EQ(launcher_.killed.size(), 1u);
  launcher_.Exit(job->id(), 143);
  // Three one-slot hosts are left in dc-a and dc-b: the job restarts at
  // dp 1 x pp 2 with twice the micro-batches, away from hostc.
  const v1::Job after = core_->GetJob(job->id()).value();
  EXPECT_EQ(after.state(), v1::RUNNING);
  EXPECT_EQ(after.restarts(), 1);
  EXPECT_EQ(after.spec().layout().dp(), 1);
  ASSERT_EQ(after.placement().ranks_size(), 2);
  for (const auto& r : after.placement().ranks()) EXPECT_NE(r.node(), "hostc");
}

TEST_F(NodesTest, DataCentersRestrictThePlacement) {
  RegisterDcAB();
  v1::JobSpec spec = Dp2Pp2(Data());
  spec.add_data_centers("dc-b");
  spec.add_data_centers("dc-a");
  Result<v1::Job> job = core_->SubmitJob(spec);
  ASSERT_TRUE(job.ok()) << job.status().message();
  std::set<std::string> hosts;
  for (const auto& r : job->placement().ranks()) {
    EXPECT_NE(r.data_center(), "dc-s");
    hosts.insert(r.host());
  }
  EXPECT_EQ(hosts.size(), 4u);  // one slot on each of the four hosts
  spec.clear_data_centers();
  spec.add_data_centers("dc-s");
  job = core_->SubmitJob(spec);
  ASSERT_TRUE(job.ok()) << job.status().message();
  for (const auto& r : job->placement().ranks()) EXPECT_EQ(r.data_center(), "dc-s");
  spec.clear_data_centers();
  spec.add_data_centers("dc-x");
  job = core_->SubmitJob(spec);
  ASSERT_FALSE(job.ok());
  EXPECT_NE(job.status().message().find("spec.data_centers[0]"), std::string::npos) << job.status().message();
}

TEST_F(NodesTest, AJobNeverSpansLaunchers) {
  RegisterDcAB();
  // 8 ranks fit only across dc-a, dc-b (4 slots over SSH) and dc-s (4, Slurm).
  v1::JobSpec spec = Dp2Pp2(Data());
  spec.mutable_layout()->set_dp(4);
  spec.mutable_model()->set_n_layer(4);
  Result<v1::Job> job = core_->SubmitJob(spec);
  ASSERT_FALSE(job.ok());
  EXPECT_NE(job.status().message().find("launcher"), std::string::npos) << job.status().message();
}

TEST_F(NodesTest, AJobOfOneWorldPerDataCenterSpansLaunchers) {
  RegisterDcAB();
  // The same 8 ranks as one world per data center: DiLoCo, each replica
  // inside one data center (pp 1), SSH and Slurm data centers mixed.
  v1::JobSpec spec = Dp2Pp2(Data());
  spec.mutable_layout()->set_dp(8);
  spec.mutable_layout()->set_pp(1);
  spec.mutable_layout()->set_dp_sync(v1::DP_SYNC_DILOCO);
  spec.set_dc_worlds(true);
  Result<v1::Job> job = core_->SubmitJob(spec);
  ASSERT_TRUE(job.ok()) << job.status().message();
  std::set<std::string> dcs;
  for (const auto& r : job->placement().ranks()) dcs.insert(r.data_center());
  EXPECT_EQ(dcs, (std::set<std::string>{"dc-a", "dc-b", "dc-s"}));
  EXPECT_TRUE(job->placement().dc_worlds());
  EXPECT_GE(job->placement().wan_port(), kWanPortBase);
  EXPECT_LT(job->placement().wan_port(), kWanPortBase + 125 * kWanPortsPerJob);
  // Worlds meet only at DiLoCo's rounds: another sync mode is refused.
  spec.mutable_layout()->set_dp_sync(v1::DP_SYNC_SYNC);
  job = core_->SubmitJob(spec);
  ASSERT_FALSE(job.ok());
  EXPECT_NE(job.status().message().find("spec.dc_worlds"), std::string::npos) << job.status().message();
  // Strict rounds are between worlds: asked of a job of one world, refused.
  spec.mutable_layout()->set_dp_sync(v1::DP_SYNC_DILOCO);
  spec.mutable_training()->add_extra_args("--wan-strict");
  EXPECT_TRUE(core_->SubmitJob(spec).ok());
  spec.set_dc_worlds(false);
  job = core_->SubmitJob(spec);
  ASSERT_FALSE(job.ok());
  EXPECT_NE(job.status().message().find("--wan-strict"), std::string::npos) << job.status().message();
  EXPECT_NE(job.status().message().find("dc_worlds"), std::string::npos) << job.status().message();
}

v1::JobSpec WorldsSpec(const std::string& data, int dp) {
  v1::JobSpec spec = TinyJob(dp, 1, data);
  spec.mutable_layout()->set_dp_sync(v1::DP_SYNC_DILOCO);
  spec.set_dc_worlds(true);
  return spec;
}

// A lost node stops only the world on it: that world is placed again on its
// own data center's free node and relaunched alone; the job keeps its
// attempt, and the other world's ranks stay where they are.
TEST_F(NodesTest, AWorldOnALostNodeIsPlacedAgainInItsDataCenter) {
  RegisterDcAB();
  v1::JobSpec spec = WorldsSpec(Data(), 3);
  spec.add_data_centers("dc-a");
  spec.add_data_centers("dc-b");
  const v1::Job job = core_->SubmitJob(spec).value();
  ASSERT_TRUE(job.placement().dc_worlds());
  // The world of one rank: its data center has a node to spare.
  std::map<std::string, std::vector<const v1::RankAssignment*>> by_dc;
  for (const auto& r : job.placement().ranks()) by_dc[r.data_center()].push_back(&r);
  ASSERT_EQ(by_dc.size(), 2u);
  const auto& [dc, ranks] = *std::find_if(by_dc.begin(), by_dc.end(), [](const auto& e) { return e.second.size() == 1; });
  const std::string lost = ranks[0]->node();
  const int moved_rank = ranks[0]->rank();
  ASSERT_TRUE(core_->DeregisterNode(lost).ok());
  const v1::Job after = core_->GetJob(job.id()).value();
  EXPECT_TRUE(launcher_.killed.empty()) << "the whole job was stopped";
  ASSERT_EQ(launcher_.relaunched_worlds.size(), 1u);
  EXPECT_EQ(after.state(), v1::RUNNING);
  EXPECT_EQ(after.launches(), job.launches());
  EXPECT_EQ(after.restarts(), 0);
  for (int i = 0; i < after.placement().ranks_size(); ++i) {
    const v1::RankAssignment& r = after.placement().ranks(i);
    EXPECT_EQ(r.rank(), job.placement().ranks(i).rank());
    EXPECT_EQ(r.data_center(), job.placement().ranks(i).data_center());
    if (r.rank() == moved_rank) {
      EXPECT_NE(r.node(), lost);
    } else {
      EXPECT_EQ(r.node(), job.placement().ranks(i).node()) << "a rank of the other world moved";
    }
  }
  const int world = launcher_.relaunched_worlds[0].back() - '0';
  EXPECT_EQ(launcher_.relaunched_worlds[0], job.id() + ":" + std::to_string(world));
  bool said = false;
  bool done = false;
  const std::vector<v1::JobEvent> events = core_->WaitForEvents(job.id(), 0, 0, &done).value();
  for (const v1::JobEvent& e : events)
    said |= e.message().find("world " + dc + " placed again on " + dc) != std::string::npos;
  EXPECT_TRUE(said);
}

// Where its own data center cannot hold it any more, the world goes to
// another one the job may use and no other world of it uses; where none
// can, the job restarts as a whole, as any job does.
TEST_F(NodesTest, AWorldMovesToAnotherDataCenterOrTheJobRestarts) {
  RegisterDcAB();
  // dc-s is busy when the job is placed, so its worlds go to dc-a and dc-b.
  v1::JobSpec filler = TinyJob(4, 1, Data());
  filler.add_data_centers("dc-s");
  const v1::Job busy = core_->SubmitJob(filler).value();
  ASSERT_EQ(busy.state(), v1::RUNNING);
  const v1::Job job = core_->SubmitJob(WorldsSpec(Data(), 4)).value();
  ASSERT_EQ(job.state(), v1::RUNNING);
  for (const auto& r : job.placement().ranks()) ASSERT_NE(r.data_center(), "dc-s");
  ASSERT_TRUE(core_->CancelJob(busy.id()).ok());
  launcher_.Exit(busy.id(), 143);
  launcher_.killed.clear();
  ASSERT_TRUE(core_->DeregisterNode("hostc").ok());
  v1::Job after = core_->GetJob(job.id()).value();
  ASSERT_TRUE(launcher_.killed.empty()) << "the whole job was stopped";
  EXPECT_EQ(after.restarts(), 0);
  for (int i = 0; i < after.placement().ranks_size(); ++i) {
    const std::string was = job.placement().ranks(i).data_center();
    EXPECT_EQ(after.placement().ranks(i).data_center(), was == "dc-b" ? "dc-s" : was);
  }
  // Now dc-a loses a node: nothing is left that holds its two ranks.
  ASSERT_TRUE(core_->DeregisterNode("hosta").ok());
  EXPECT_EQ(launcher_.killed, std::vector<std::string>{job.id()});
  EXPECT_EQ(launcher_.relaunched_worlds.size(), 1u);
}

TEST(JobPlacementTest, WorldsAreMarkedOnlyAcrossDataCenters) {
  v1::Placement p;
  for (const char* dc : {"dc-a", "dc-a"}) p.add_ranks()->set_data_center(dc);
  MarkWorlds("job-1", kWanPortBase, &p);
  EXPECT_FALSE(p.dc_worlds());  // one data center: one world anyway
  p.add_ranks()->set_data_center("dc-b");
  MarkWorlds("job-1", kWanPortBase, &p);
  EXPECT_TRUE(p.dc_worlds());
  const int port = p.wan_port();
  MarkWorlds("job-1", kWanPortBase, &p);
  EXPECT_EQ(p.wan_port(), port);  // the job's, at every attempt
  EXPECT_EQ((port - kWanPortBase) % kWanPortsPerJob, 0);
}

// kCluster's data centers joined by links in contact windows: dc-a to
// dc-b periodic, dc-a to dc-s a list, dc-b to dc-s always up.
std::string ClusterWithWindows() {
  return std::string(kCluster) + R"(
links:
  - {a: dc-b, b: dc-a, gbps: 10, latency_ms: 8, window: {period_s: 5400, up_s: 600, phase_s: 120}}
  - {a: dc-a, b: dc-s, gbps: 1, latency_ms: 40, windows: [[1796000000, 1796000600.5], [1796005400, 1796006000]]}
  - {a: dc-b, b: dc-s, gbps: 5, latency_ms: 20}
)";
}
constexpr const char* kAbWindow = "5400:600:120";
constexpr const char* kAsWindow = "@1796000000-1796000600.5,1796005400-1796006000";

// "a-b schedule" for each of the placement's link windows; with
// `by_name`, the pair's names in alphabetical order (where the order of
// the worlds is the placement's choice).
std::vector<std::string> LinkWindows(const v1::Placement& p, bool by_name = false) {
  std::vector<std::string> out;
  for (const v1::LinkWindow& w : p.link_windows()) {
    const bool swap = by_name && w.b() < w.a();
    out.push_back((swap ? w.b() : w.a()) + "-" + (swap ? w.a() : w.b()) + " " + w.schedule());
  }
  return out;
}

TEST(JobPlacementTest, WorldsLearnTheWindowOfEachLinkBetweenThem) {
  const Topology topo = ParseClusterYaml(ClusterWithWindows(), "cluster.yaml").value();
  v1::Placement p;
  for (const char* dc : {"dc-a", "dc-b"}) p.add_ranks()->set_data_center(dc);
  MarkLinkWindows(topo, &p);
  EXPECT_EQ(p.link_windows_size(), 0);  // not one world per data center: wan_window says it
  MarkWorlds("job-1", kWanPortBase, &p);
  MarkLinkWindows(topo, &p);
  EXPECT_EQ(LinkWindows(p), std::vector<std::string>{std::string("dc-a-dc-b ") + kAbWindow});
  // Three worlds, dc-s first: each pair once, in world order; dc-b to dc-s
  // is always up and left out. Marking again replaces, never adds.
  v1::Placement three;
  for (const char* dc : {"dc-s", "dc-a", "dc-b", "dc-a"}) three.add_ranks()->set_data_center(dc);
  MarkWorlds("job-2", kWanPortBase, &three);
  MarkLinkWindows(topo, &three);
  MarkLinkWindows(topo, &three);
  EXPECT_EQ(LinkWindows(three), (std::vector<std::string>{std::string("dc-s-dc-a ") + kAsWindow,
                                                          std::string("dc-a-dc-b ") + kAbWindow}));
  // The text reads back to the link's schedule.
  const LinkSchedule back = ParseWindowSpec(three.link_windows(0).schedule(), "test").value();
  EXPECT_EQ(back.windows, topo.FindLink("dc-a", "dc-s")->schedule.windows);
}

// A worlds job's placement carries its links' windows, and a world that
// moves to another data center takes that data center's links.
TEST_F(NodesTest, AMovedWorldTakesTheWindowsOfItsNewLinks) {
  cluster_ = ParseClusterYaml(ClusterWithWindows(), "cluster.yaml").value();
  RestartCore();
  RegisterDcAB();
  // A plan says what the placement will.
  v1::JobSpec ab = WorldsSpec(Data(), 4);
  ab.add_data_centers("dc-a");
  ab.add_data_centers("dc-b");
  const v1::PlanResponse plan = core_->Plan(ab).value();
  EXPECT_EQ(LinkWindows(plan.placement(), true), std::vector<std::string>{std::string("dc-a-dc-b ") + kAbWindow});
  v1::JobSpec filler = TinyJob(4, 1, Data());  // dc-s busy: the worlds go to dc-a and dc-b
  filler.add_data_centers("dc-s");
  const v1::Job busy = core_->SubmitJob(filler).value();
  ASSERT_EQ(busy.state(), v1::RUNNING);
  const v1::Job job = core_->SubmitJob(WorldsSpec(Data(), 4)).value();
  ASSERT_EQ(job.state(), v1::RUNNING);
  ASSERT_TRUE(job.placement().dc_worlds());
  EXPECT_EQ(LinkWindows(job.placement(), true), std::vector<std::string>{std::string("dc-a-dc-b ") + kAbWindow});
  ASSERT_TRUE(core_->CancelJob(busy.id()).ok());
  launcher_.Exit(busy.id(), 143);
  ASSERT_TRUE(core_->DeregisterNode("hostc").ok());  // dc-b's world moves to dc-s
  const v1::Job after = core_->GetJob(job.id()).value();
  ASSERT_EQ(after.state(), v1::RUNNING);
  ASSERT_EQ(launcher_.relaunched_worlds.size(), 1u);
  EXPECT_EQ(LinkWindows(after.placement(), true), std::vector<std::string>{std::string("dc-a-dc-s ") + kAsWindow});
}

TEST_F(NodesTest, DataThatMatchesNoFileIsRefusedAtSubmit) {
  Result<v1::Job> job = core_->SubmitJob(Dp2Pp2((dir_ / "nothing_*.bin").string()));
  ASSERT_FALSE(job.ok());
  EXPECT_EQ(job.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(job.status().message().find("spec.training.data"), std::string::npos) << job.status().message();
  v1::JobSpec spec = Dp2Pp2(Data());
  spec.mutable_training()->set_val_data((dir_ / "val_*.bin").string());
  job = core_->SubmitJob(spec);
  ASSERT_FALSE(job.ok());
  EXPECT_NE(job.status().message().find("spec.training.val_data"), std::string::npos) << job.status().message();
}

TEST(JobPlacementTest, RestrictKeepsOnlyTheNamedDataCenters) {
  const Topology topo = ParseClusterYaml(kCluster, "cluster.yaml").value();
  const Topology only = RestrictToDataCenters(topo, {"dc-s"});
  ASSERT_EQ(only.data_centers.size(), 1u);
  EXPECT_EQ(only.data_centers[0].name, "dc-s");
  EXPECT_EQ(only.data_centers[0].launcher, LauncherKind::kSlurm);
  ASSERT_EQ(only.nodes.size(), 2u);
  EXPECT_EQ(RestrictToDataCenters(topo, {}).nodes.size(), topo.nodes.size());
}

}  // namespace
}  // namespace meridian::scheduler
