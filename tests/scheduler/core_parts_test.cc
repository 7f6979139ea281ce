// The parts SchedulerCore is made of, each on its own, and the promise
// the split makes: a placement search runs outside the core's lock, so a
// heartbeat answers while one is in progress.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>

#include "scheduler/service/free_gpu_counts.h"
#include "scheduler/service/job_journal.h"
#include "scheduler/service/node_registry.h"
#include "scheduler/service/proto_convert.h"
#include "scheduler/service/scheduler_core.h"
#include "tests/scheduler/fake_launcher.h"
#include "tests/scheduler/tiny_job.h"

namespace meridian::scheduler {
namespace {

// An in-memory store whose writes fail while `failing` is set.
class MemoryStore : public StateStore {
 public:
  Status PutNode(const v1::Node& node) override {
    if (failing) return Status::IOError("state.db: disk full (test)");
    nodes[node.name()] = node;
    return Status::OK();
  }
  Status DeleteNode(const std::string& name) override {
    nodes.erase(name);
    return Status::OK();
  }
  Result<std::vector<v1::Node>> ListNodes() override {
    std::vector<v1::Node> out;
    for (const auto& [name, node] : nodes) out.push_back(node);
    return out;
  }
  Status PutJob(const v1::Job& job, const std::vector<v1::JobEvent>& events) override {
    if (failing) return Status::IOError("state.db: disk full (test)");
    jobs[job.id()] = job;
    for (const v1::JobEvent& e : events) this->events[job.id()].push_back(e);
    return Status::OK();
  }
  Result<std::vector<v1::Job>> ListJobs() override {
    std::vector<v1::Job> out;
    for (const auto& [id, job] : jobs) out.push_back(job);
    return out;
  }
  Result<std::vector<v1::JobEvent>> ListEvents(const std::string& id, int64_t after) override {
    std::vector<v1::JobEvent> out;
    for (const v1::JobEvent& e : events[id])
      if (e.sequence() > after) out.push_back(e);
    return out;
  }
  Status FoldEvents(const v1::Job&, int64_t) override { return Status::OK(); }
  Status DeleteJob(const std::string& id) override {
    jobs.erase(id);
    events.erase(id);
    return Status::OK();
  }
  Result<int64_t> NextJobNumber() override { return ++counter; }

  bool failing = false;
  std::map<std::string, v1::Node> nodes;
  std::map<std::string, v1::Job> jobs;
  std::map<std::string, std::vector<v1::JobEvent>> events;
  int64_t counter = 0;
};

TEST(JobJournal, ANodeWriteTheStoreRefusesIsWrittenAtTheNextFlush) {
  MemoryStore store;
  JobJournal journal(&store, [] {}, [] { return 50.0; });
  JobTable jobs;
  v1::Node node;
  node.set_name("east-0");
  node.set_alive(false);
  store.failing = true;
  journal.RecordNode(node);
  EXPECT_TRUE(store.nodes.empty());
  EXPECT_TRUE(journal.FlushDue(100.0, 1.0));
  EXPECT_FALSE(journal.Flush(jobs, 100.0));  // still failing: kept
  store.failing = false;
  EXPECT_TRUE(journal.Flush(jobs, 101.0));  // works again: written, and said so
  ASSERT_EQ(store.nodes.count("east-0"), 1u);
  EXPECT_FALSE(store.nodes["east-0"].alive());
  EXPECT_FALSE(journal.FlushDue(200.0, 1.0));
}

TEST(JobJournal, RecordedEventsAreNumberedInOrderAndKeptUntilWritten) {
  MemoryStore store;
  int told = 0;
  JobJournal journal(&store, [&] { ++told; }, [] { return 1234.5; });
  JobTable jobs;
  v1::Job job;
  job.set_id("job-000001");
  JobRecord& record = jobs.Add(job);
  ASSERT_TRUE(journal.Commit(record, record.job, v1::QUEUED, "submitted").ok());
  store.failing = true;
  journal.Record(record, v1::RUNNING, "launched", nullptr);
  EXPECT_EQ(record.job.state(), v1::RUNNING);  // a fact: memory moves at once
  EXPECT_EQ(record.last_sequence, 2);
  EXPECT_EQ(record.unsaved.size(), 1u);
  // A commit while the store fails changes nothing.
  EXPECT_FALSE(journal.Commit(record, record.job, v1::CANCELLED, "cancelled").ok());
  EXPECT_EQ(record.job.state(), v1::RUNNING);
  store.failing = false;
  EXPECT_TRUE(journal.Flush(jobs, 1.0));
  EXPECT_TRUE(record.unsaved.empty());
  ASSERT_EQ(store.events["job-000001"].size(), 2u);
  EXPECT_EQ(store.events["job-000001"][1].sequence(), 2);
  EXPECT_EQ(store.events["job-000001"][1].unix_s(), 1234.5);  // stamped by the journal's clock
  EXPECT_EQ(told, 2);
}

TEST(JobTable, FindsByIdAndKeepsSubmissionOrder) {
  JobTable jobs;
  for (const char* id : {"job-000003", "job-000001", "job-000002"}) {
    v1::Job job;
    job.set_id(id);
    jobs.Add(job);
  }
  jobs.Remove("job-000001");
  ASSERT_NE(jobs.Find("job-000002"), nullptr);
  EXPECT_EQ(jobs.Find("job-000001"), nullptr);
  std::vector<std::string> order;
  for (const JobRecord& r : jobs) order.push_back(r.job.id());
  EXPECT_EQ(order, (std::vector<std::string>{"job-000003", "job-000002"}));
}

// A pass walks the unfinished jobs, not the history: a job drops out of
// them once finished (or removed), the others keep submission order.
TEST(JobTable, WalksTheUnfinishedJobsInSubmissionOrder) {
  JobTable jobs;
  for (const auto& [id, state] : std::vector<std::pair<std::string, v1::JobState>>{
           {"job-000001", v1::QUEUED}, {"job-000002", v1::SUCCEEDED}, {"job-000003", v1::RUNNING},
           {"job-000004", v1::RESTARTING}, {"job-000005", v1::QUEUED}}) {
    v1::Job job;
    job.set_id(id);
    job.set_state(state);
    jobs.Add(job);
  }
  auto ids = [&] {
    std::vector<std::string> out;
    for (const JobRecord* r : jobs.Unfinished()) out.push_back(r->job.id());
    return out;
  };
  EXPECT_EQ(ids(), (std::vector<std::string>{"job-000001", "job-000003", "job-000004", "job-000005"}));
  jobs.Find("job-000003")->job.set_state(v1::FAILED);
  jobs.Remove("job-000004");
  EXPECT_EQ(ids(), (std::vector<std::string>{"job-000001", "job-000005"}));
  EXPECT_EQ(jobs.size(), 4u);  // the history keeps the finished ones
}

// The registry numbers each GPU taken or freed, so a pass catches up
// with what changed since its last look; changes it forgot, or dropped
// past its bound, are refused and the pass marks anew.
TEST(NodeRegistry, NumbersEachGpuTakenOrFreedForThePassToCatchUp) {
  NodeRegistry nodes(DefaultCluster(2), /*probation_s=*/30);
  const std::string node = nodes.topology().nodes.front().name;
  v1::Placement placement;
  for (int gpu : {0, 1}) {
    v1::RankAssignment* r = placement.add_ranks();
    r->set_node(node);
    r->set_gpu(gpu);
  }
  EXPECT_EQ(nodes.gpu_changes_end(), 0u);
  nodes.Occupy("job-a", placement);
  nodes.Release("job-a");
  nodes.Release("job-b");  // holds nothing: no change
  std::vector<NodeRegistry::GpuChange> changes;
  ASSERT_TRUE(nodes.GpuChangesSince(1, &changes));
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[0].gpu, 1);
  EXPECT_TRUE(changes[0].taken);
  EXPECT_EQ(changes[1].node, node);
  EXPECT_FALSE(changes[1].taken);
  nodes.ForgetGpuChanges(2);
  EXPECT_FALSE(nodes.GpuChangesSince(1, &changes));
  ASSERT_TRUE(nodes.GpuChangesSince(4, &changes));
  EXPECT_TRUE(changes.empty());
}

TEST(NodeRegistry, OnlyWhatPlacementReadsMovesTheVersion) {
  NodeRegistry nodes(DefaultCluster(2), /*probation_s=*/30);
  v1::Node request;
  request.set_name("agent-0");
  request.set_data_center(nodes.topology().data_centers[0].name);
  request.set_host("10.0.0.9");
  request.add_gpus()->set_model("cpu");
  Result<Node> n = nodes.Registration(request, 100.0);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  const uint64_t before = nodes.version();
  nodes.Put(*n);
  EXPECT_GT(nodes.version(), before);
  bool revived = true;
  uint64_t v = nodes.version();
  ASSERT_TRUE(nodes.Heartbeat("agent-0", 101.0, &revived).ok());
  EXPECT_FALSE(revived);
  EXPECT_EQ(nodes.version(), v);  // a plain beat changes nothing a placement reads
  EXPECT_EQ(nodes.MarkSilentDead(200.0, 30.0).size(), 1u);
  EXPECT_GT(nodes.version(), v);
  v = nodes.version();
  const uint64_t capacity = nodes.capacity_version();
  ASSERT_TRUE(nodes.Heartbeat("agent-0", 201.0, &revived).ok());
  EXPECT_TRUE(revived);
  EXPECT_GT(nodes.version(), v);
  EXPECT_GT(nodes.capacity_version(), capacity);
  EXPECT_GT(nodes.Find("agent-0")->probation_until_s, 201.0);  // back after a failure: on probation
  EXPECT_EQ(nodes.Heartbeat("nobody", 1.0, &revived).status().code(), Status::Code::kNotFound);
}

TEST(NodeRegistry, SearchesShareOneCopyOfTheTopologyUntilItChanges) {
  NodeRegistry nodes(DefaultCluster(2), /*probation_s=*/30);
  v1::Node request;
  request.set_name("agent-0");
  request.set_data_center(nodes.topology().data_centers[0].name);
  request.add_gpus()->set_model("cpu");
  nodes.Put(*nodes.Registration(request, 100.0));
  const std::shared_ptr<const Topology> first = nodes.Shared();
  EXPECT_EQ(first->nodes.size(), nodes.topology().nodes.size());
  bool revived = false;
  ASSERT_TRUE(nodes.Heartbeat("agent-0", 101.0, &revived).ok());
  EXPECT_EQ(nodes.Shared(), first);  // a plain beat: the same copy
  const std::shared_ptr<const Topology> healthy = nodes.HealthyNow(101.0);
  EXPECT_EQ(nodes.HealthyNow(102.0), healthy);  // no probation ends between
  nodes.MarkSilentDead(200.0, 30.0);
  const std::shared_ptr<const Topology> after = nodes.Shared();
  EXPECT_NE(after, first);
  EXPECT_TRUE(first->FindNode("agent-0")->alive);  // a search holding the old copy keeps it whole
  EXPECT_FALSE(after->FindNode("agent-0")->alive);
  // Back, on probation until 231: dead to placement until then, then alive,
  // with no other change between.
  ASSERT_TRUE(nodes.Heartbeat("agent-0", 201.0, &revived).ok());
  EXPECT_FALSE(nodes.HealthyNow(201.0)->FindNode("agent-0")->alive);
  EXPECT_FALSE(nodes.HealthyNow(230.9)->FindNode("agent-0")->alive);
  EXPECT_TRUE(nodes.HealthyNow(231.0)->FindNode("agent-0")->alive);
  EXPECT_TRUE(nodes.Shared()->FindNode("agent-0")->alive);
}

TEST(NodeRegistry, FindsNodesByNameAfterOthersLeave) {
  NodeRegistry nodes(DefaultCluster(2), /*probation_s=*/30);
  for (const char* name : {"agent-0", "agent-1", "agent-2"}) {
    v1::Node request;
    request.set_name(name);
    request.set_data_center(nodes.topology().data_centers[0].name);
    request.add_gpus()->set_model("cpu");
    nodes.Put(*nodes.Registration(request, 100.0));
  }
  nodes.RemoveAgent("agent-0");  // the nodes after it move up
  EXPECT_EQ(nodes.Find("agent-0"), nullptr);
  ASSERT_NE(nodes.Find("agent-2"), nullptr);
  EXPECT_EQ(nodes.Find("agent-2")->name, "agent-2");
  bool revived = false;
  ASSERT_TRUE(nodes.Heartbeat("agent-1", 101.0, &revived).ok());
  EXPECT_EQ(nodes.Find("agent-1")->last_heartbeat_s, 101.0);
  EXPECT_EQ(nodes.Heartbeat("agent-0", 101.0, &revived).status().code(), Status::Code::kNotFound);
}

TEST(NodeRegistry, APassKeepsTheOccupancyItReadWhileJobsComeAndGo) {
  NodeRegistry nodes(DefaultCluster(2), /*probation_s=*/30);
  const std::string node = nodes.topology().nodes[0].name;
  auto placement = [&](int gpu) {
    v1::Placement p;
    v1::RankAssignment* r = p.add_ranks();
    r->set_node(node);
    r->set_gpu(gpu);
    return p;
  };
  nodes.Occupy("job-1", placement(0));
  const std::shared_ptr<const Occupancy> read = nodes.SharedOccupancy();  // a pass's snapshot
  nodes.Occupy("job-2", placement(1));
  nodes.Release("job-1");
  EXPECT_EQ(read->at(node), (std::map<int, std::string>{{0, "job-1"}}));  // as it was read
  EXPECT_EQ(nodes.occupancy().at(node), (std::map<int, std::string>{{1, "job-2"}}));
  nodes.Release("job-2");
  EXPECT_TRUE(nodes.occupancy().empty());
  nodes.Release("job-3");  // holds nothing: nothing changes
  EXPECT_TRUE(nodes.occupancy().empty());
}

TEST(FreeGpuCounts, CountsTheFreeGpusOfAliveNodesPerDataCenter) {
  Topology t = DefaultCluster(4);  // two data centers, one node of 4 slots each
  t.nodes[1].alive = false;
  Occupancy occupied;
  occupied[t.nodes[0].name] = {{0, "job-1"}, {2, "job-1"}};
  FreeGpuCounts free = FreeGpuCounts::Empty(t).Minus(occupied);
  const std::string east = t.nodes[0].data_center, west = t.nodes[1].data_center;
  EXPECT_EQ(free.In({}), 2);
  EXPECT_EQ(free.In({east}), 2);
  EXPECT_EQ(free.In({west}), 0);  // its only node is dead
  EXPECT_EQ(free.In({"nowhere"}), 0);
  Placement p;
  p.ranks.push_back(RankPlacement{.data_center = east, .node = t.nodes[0].name, .gpu = 1});
  free.Take(p);
  EXPECT_EQ(free.In({}), 1);
  EXPECT_EQ(free.In({east, west}), 1);
  // Counted once with nothing held, then minus what is held: the same.
  const FreeGpuCounts all = FreeGpuCounts::Empty(t);
  EXPECT_EQ(all.In({}), 4);
  const FreeGpuCounts less = all.Minus(occupied);
  EXPECT_EQ(less.In({}), 2);
  EXPECT_EQ(less.In({east}), 2);
  EXPECT_EQ(less.In({west}), 0);
  occupied[t.nodes[1].name] = {{0, "job-2"}};  // on the dead node: it frees nothing that was counted
  EXPECT_EQ(all.Minus(occupied).In({}), 2);
  Occupancy also;  // a pass's own placements, apart from what was held
  also[t.nodes[0].name] = {{1, "job-3"}};
  EXPECT_EQ(all.Minus(occupied, &also).In({east}), 1);
  EXPECT_EQ(all.Minus(occupied, &also).In({}), 1);
}

// A submit whose placement pass is held open inside its search: a
// heartbeat and a listing answer meanwhile.
TEST(SchedulerCoreLocking, HeartbeatsDoNotWaitOnAPlacementSearch) {
  MemoryStore store;
  FakeLauncher launcher;
  std::mutex mu;
  std::condition_variable cv;
  bool searching = false, release = false;
  int searches = 0;
  SchedulerCoreOptions options;
  options.on_placement = [&](double, bool) {
    std::unique_lock<std::mutex> lock(mu);
    // The submit's first search asks whether the job can ever fit; the
    // second is the placement pass's.
    if (release || ++searches < 2) return;
    searching = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
  };
  SchedulerCore core(DefaultCluster(2), &store, &launcher, options);
  ASSERT_TRUE(core.Recover().ok());
  v1::Node agent;
  agent.set_name("agent-0");
  agent.set_data_center(core.ListPools().pools(0).data_center());
  agent.set_host("10.0.0.9");
  agent.add_gpus()->set_model("cpu");
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;  // the registration's own searches run freely
  }
  ASSERT_TRUE(core.RegisterNode(agent).ok());
  {
    std::lock_guard<std::mutex> lock(mu);
    release = false;
  }
  auto submitted = std::async(std::launch::async, [&] { return core.SubmitJob(TinyJob(1, 1)); });
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return searching; }));
  }
  // The search is in progress; these must not wait for it.
  auto beat = std::async(std::launch::async, [&] { return core.Heartbeat("agent-0"); });
  ASSERT_EQ(beat.wait_for(std::chrono::seconds(30)), std::future_status::ready) << "a heartbeat waited on a search";
  EXPECT_TRUE(beat.get().ok());
  std::vector<v1::Job> listed = core.ListJobs({});
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].state(), v1::QUEUED);  // submitted, its placement being searched
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  Result<v1::Job> job = submitted.get();
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  EXPECT_EQ(job->state(), v1::RUNNING);
}

// A submit checks that the job fits the empty cluster with one search per
// job shape, made again once the cluster changes.
TEST(SchedulerCoreSubmit, TheEmptyClusterCheckIsSearchedOncePerShapeAndClusterChange) {
  MemoryStore store;
  FakeLauncher launcher;
  SchedulerCoreOptions options;
  int searches = 0;
  options.on_placement = [&](double, bool) { ++searches; };
  SchedulerCore core(DefaultCluster(2), &store, &launcher, options);  // 2 slots in each data center
  ASSERT_TRUE(core.Recover().ok());
  const std::string east = core.ListPools().pools(0).data_center();
  v1::JobSpec three = TinyJob(3, 1);
  three.add_data_centers(east);
  Result<v1::Job> refused = core.SubmitJob(three);
  EXPECT_EQ(refused.status().code(), Status::Code::kInvalidArgument) << refused.status().ToString();
  EXPECT_EQ(searches, 1);
  EXPECT_EQ(core.SubmitJob(three).status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(searches, 1);  // the same shape on the same cluster: no second search

  v1::Node agent;  // a third slot in the east: now it fits
  agent.set_name("agent-0");
  agent.set_data_center(east);
  agent.set_host("10.0.0.9");
  agent.add_gpus()->set_model("cpu");
  ASSERT_TRUE(core.RegisterNode(agent).ok());
  searches = 0;
  Result<v1::Job> job = core.SubmitJob(three);
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  EXPECT_EQ(searches, 2);  // the empty cluster again, then its placement
  Result<v1::Job> second = core.SubmitJob(three);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(searches, 2);  // its check reused; too few GPUs free to search for it
  EXPECT_EQ(core.GetJob(second->id())->state(), v1::QUEUED);
}

// Every time the core records or compares comes from options.now: a
// simulation moves it, and the core follows (submit and finish times,
// events, liveness, probation).
// Every hold of the core's lock is reported: the daemon's
// meridian_scheduler_lock_hold_seconds and meridian-sim's lock columns.
TEST(SchedulerCoreLocking, EveryHoldOfTheLockIsReported) {
  MemoryStore store;
  FakeLauncher launcher;
  std::mutex mu;
  std::vector<double> holds;
  SchedulerCoreOptions options;
  options.on_lock_held = [&](double seconds) {
    std::lock_guard<std::mutex> lock(mu);
    holds.push_back(seconds);
  };
  SchedulerCore core(DefaultCluster(2), &store, &launcher, options);
  ASSERT_TRUE(core.Recover().ok());
  const size_t after_recover = holds.size();
  EXPECT_GT(after_recover, 0u);
  Result<v1::Job> job = core.SubmitJob(TinyJob(1, 1));
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  ASSERT_TRUE(core.GetJob(job->id()).ok());
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_GT(holds.size(), after_recover + 1);  // the submit's, its pass's, the read's
  for (double h : holds) EXPECT_GE(h, 0.0);
}

// Metrics count every job by state without copying the history, and a
// listing of unfinished states reads only the unfinished jobs.
TEST(SchedulerCoreListing, CountsByStateAndListsTheUnfinishedInSubmissionOrder) {
  MemoryStore store;
  FakeLauncher launcher;
  SchedulerCore core(DefaultCluster(2), &store, &launcher, SchedulerCoreOptions{});
  ASSERT_TRUE(core.Recover().ok());
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    Result<v1::Job> job = core.SubmitJob(TinyJob(1, 1));
    ASSERT_TRUE(job.ok()) << job.status().ToString();
    ids.push_back(job->id());
  }
  launcher.Exit(ids[1], 0);
  std::map<v1::JobState, int> counts = core.CountJobsByState();
  EXPECT_EQ(counts[v1::SUCCEEDED], 1);
  EXPECT_EQ(counts[v1::RUNNING] + counts[v1::PLACED] + counts[v1::QUEUED], 2);
  std::vector<std::string> listed;
  for (const v1::Job& j : core.ListJobs({v1::QUEUED, v1::PLACED, v1::RUNNING, v1::RESTARTING})) listed.push_back(j.id());
  EXPECT_EQ(listed, (std::vector<std::string>{ids[0], ids[2]}));
  EXPECT_EQ(core.ListJobs({}).size(), 3u);
  EXPECT_EQ(core.ListJobs({v1::SUCCEEDED}).size(), 1u);
}

TEST(SchedulerCoreClock, TheCoreReadsTimeFromItsOptionsClock) {
  MemoryStore store;
  FakeLauncher launcher;
  double now = 1000.0;
  SchedulerCoreOptions options;
  options.now = [&] { return now; };
  options.node_timeout_s = 30;
  options.node_probation_s = 30;
  SchedulerCore core(DefaultCluster(2), &store, &launcher, options);
  ASSERT_TRUE(core.Recover().ok());
  v1::Node agent;
  agent.set_name("agent-0");
  agent.set_data_center(core.ListPools().pools(0).data_center());
  agent.set_host("10.0.0.9");
  agent.add_gpus()->set_model("cpu");
  ASSERT_TRUE(core.RegisterNode(agent).ok());

  now = 1010.0;
  Result<v1::Job> job = core.SubmitJob(TinyJob(1, 1));
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  EXPECT_EQ(job->submitted_unix_s(), 1010.0);
  now = 1050.0;
  launcher.Exit(job->id(), 0);
  job = core.GetJob(job->id());
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->state(), v1::SUCCEEDED);
  EXPECT_EQ(job->finished_unix_s(), 1050.0);

  // Silent for 31 virtual seconds: dead, though no real time has passed.
  core.CheckLiveness(now + 31);
  v1::ListPoolsResponse pools = core.ListPools();
  bool alive = true;
  for (const v1::Pool& pool : pools.pools())
    for (const v1::Node& n : pool.nodes())
      if (n.name() == "agent-0") alive = n.alive();
  EXPECT_FALSE(alive);
}

}  // namespace
}  // namespace meridian::scheduler
