#include "sim/simulation.h"

#include <stdlib.h>  // mkdtemp

#include <chrono>
#include <climits>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <system_error>

#include "scheduler/service/proto_convert.h"
#include "scheduler/service/scheduler_core.h"
#include "scheduler/store/state_store.h"
#include "sim/event_queue.h"
#include "sim/ideal_run.h"
#include "sim/memory_store.h"
#include "sim/sim_launcher.h"

namespace meridian::sim {

namespace {

using scheduler::SchedulerCore;

// A liveness check runs this long after the moment it looks for (a node is
// dead once silent for more than the timeout).
constexpr double kAfter = 1e-3;

}  // namespace

v1::JobSpec SpecFor(const TraceJob& t) {
  v1::JobSpec spec;
  spec.set_name(t.name);
  spec.set_priority(t.priority);
  spec.set_tenant(t.tenant);
  spec.mutable_model()->set_preset(t.model);
  v1::TrainingOptions* training = spec.mutable_training();
  training->set_batch(t.batch);
  training->set_seq(t.seq);
  training->set_microbatches(t.microbatches);
  training->set_steps(1);
  training->set_data("sim/tokens/*.bin");
  training->set_device(v1::DEVICE_CUDA);
  training->set_dtype(v1::DTYPE_BF16);
  v1::Layout* layout = spec.mutable_layout();
  if (t.gpus > 0) {
    layout->set_auto_layout(true);
    layout->set_gpus(t.gpus);
  } else {
    layout->set_dp(t.dp);
    layout->set_pp(t.pp);
  }
  return spec;
}

namespace {

// A scratch directory for the SQLite store, removed with this object.
class ScratchDir {
 public:
  Status Make() {
    std::string path = (std::filesystem::temp_directory_path() / "meridian-sim.XXXXXX").string();
    if (mkdtemp(path.data()) == nullptr) return Status::IOError("mkdtemp " + path + " failed");
    path_ = path;
    return Status::OK();
  }
  ~ScratchDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The run's state: the queue, the launcher and the core over them.
class Run {
 public:
  explicit Run(const SimulationOptions& options) : options_(options) {}

  Result<SimulationResult> Go() {
    const auto wall_start = std::chrono::steady_clock::now();
    MERIDIAN_RETURN_IF_ERROR(OpenStore());
    for (const scheduler::Node& n : options_.cluster.nodes)
      if (n.alive) result_.total_gpus += (int)n.gpus.size();
    result_.timeline.push_back(UsagePoint{});
    launcher_ = std::make_unique<SimLauncher>(&queue_, options_.checkpoint_interval_s,
                                              [this](const std::string&, int gpus, bool starts) { Usage(gpus, starts); });
    scheduler::SchedulerCoreOptions core_options;
    core_options.now = [this] { return options_.start_unix_s + queue_.now(); };
    core_options.node_timeout_s = options_.node_timeout_s;
    core_options.node_probation_s = options_.node_probation_s;
    core_options.max_waiting_jobs = INT_MAX;
    core_options.max_waiting_per_owner = INT_MAX;
    core_options.on_placement = [this](double seconds, bool) { result_.placement_wall_s.push_back(seconds); };
    core_options.on_lock_held = [this](double seconds) {
      if (recording_holds_) result_.lock_hold_s.push_back(seconds);
    };
    core_options.policy = options_.policy;
    core_options.quotas = options_.quotas;
    core_ = std::make_unique<SchedulerCore>(options_.cluster, store_.get(), launcher_.get(), core_options);
    MERIDIAN_RETURN_IF_ERROR(core_->Recover());
    MERIDIAN_RETURN_IF_ERROR(ScheduleFailures());
    // The lock holds reported are the run's: not the core's start (its
    // first copy of the topology) nor reading the results back.
    recording_holds_ = true;

    result_.jobs.resize(options_.jobs.size());
    for (size_t i = 0; i < options_.jobs.size(); ++i)
      queue_.Schedule(options_.jobs[i].submit_s, EventClass::kSubmit, [this, i] { Submit(i); });
    while (!queue_.empty()) queue_.RunNext();
    result_.end_s = queue_.now();
    result_.wan_bytes = launcher_->wan_bytes();
    result_.lost_gpu_s = launcher_->lost_gpu_s();
    recording_holds_ = false;
    Collect();
    core_.reset();
    result_.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
    return std::move(result_);
  }

 private:
  Status OpenStore() {
    if (options_.store == "memory") {
      store_ = std::make_unique<MemoryStateStore>();
      return Status::OK();
    }
    if (options_.store != "sqlite")
      return Status::InvalidArgument("store = " + options_.store + ": expected sqlite or memory");
    MERIDIAN_RETURN_IF_ERROR(dir_.Make());
    MERIDIAN_ASSIGN_OR_RETURN(store_, scheduler::OpenSqliteStateStore(dir_.path()));
    return Status::OK();
  }

  void Submit(size_t i) {
    const TraceJob& t = options_.jobs[i];
    JobOutcome& out = result_.jobs[i];
    out.trace_line = t.line;
    out.name = t.name;
    out.gpus = TraceJobGpus(t);
    out.submit_s = queue_.now();
    out.priority = t.priority;
    out.tenant = t.tenant;
    out.ideal_run_s = ideal_.RunSeconds(t);
    Result<v1::Job> job = core_->SubmitJob(SpecFor(t), t.tenant);
    if (!job.ok()) {
      out.state = "REFUSED";
      out.error = job.status().message();
      return;
    }
    out.id = job->id();
    index_[out.id] = i;
    launcher_->Bind(out.id, &t);
  }

  void Usage(int gpus, bool starts) {
    busy_ += starts ? gpus : -gpus;
    running_ += starts ? 1 : -1;
    UsagePoint p{queue_.now(), busy_, running_};
    if (result_.timeline.back().t_s == p.t_s) {
      result_.timeline.back() = p;
    } else {
      result_.timeline.push_back(p);
    }
  }

  // Failing nodes get an agent (the simulation) that heartbeats them
  // before every liveness check while they are up.
  Status ScheduleFailures() {
    for (const NodeFailure& f : options_.failures) {
      const scheduler::Node* node = nullptr;
      for (const scheduler::Node& n : options_.cluster.nodes)
        if (n.name == f.node) node = &n;
      if (node == nullptr) return Status::InvalidArgument("failures: node = " + f.node + ": not in the cluster");
      if (!agents_.count(f.node)) {
        MERIDIAN_RETURN_IF_ERROR(core_->RegisterNode(scheduler::NodeToProto(*node)).status());
        agents_[f.node] = true;
      }
      queue_.Schedule(f.at_s, EventClass::kNode, [this, f] { NodeDown(f); });
    }
    return Status::OK();
  }

  void NodeDown(const NodeFailure& f) {
    (void)core_->Heartbeat(f.node);  // its last word
    agents_[f.node] = false;
    queue_.Schedule(queue_.now() + options_.node_timeout_s + kAfter, EventClass::kLiveness, [this] { Liveness(); });
    queue_.Schedule(queue_.now() + f.down_s, EventClass::kNode, [this, f] {
      agents_[f.node] = true;
      (void)core_->Heartbeat(f.node);  // back: on probation
      queue_.Schedule(queue_.now() + options_.node_probation_s + kAfter, EventClass::kLiveness, [this] { Liveness(); });
    });
  }

  void Liveness() {
    for (const auto& [name, up] : agents_)
      if (up) (void)core_->Heartbeat(name);
    core_->CheckLiveness(options_.start_unix_s + queue_.now());
  }

  void Collect() {
    for (const v1::Job& job : core_->ListJobs({})) {
      auto it = index_.find(job.id());
      if (it == index_.end()) continue;
      JobOutcome& out = result_.jobs[it->second];
      out.state = v1::JobState_Name(job.state());
      out.restarts = job.restarts();
      out.preemptions = Preemptions(job.id());
      if (scheduler::Terminal(job.state())) out.end_s = job.finished_unix_s() - options_.start_unix_s;
    }
    for (const auto& [id, at] : launcher_->first_start()) {
      auto it = index_.find(id);
      if (it != index_.end()) result_.jobs[it->second].start_s = at;
    }
  }

  // The core says "preempted by ..." in the job's events each time.
  int Preemptions(const std::string& id) {
    bool done = false;
    Result<std::vector<v1::JobEvent>> events = core_->WaitForEvents(id, 0, 0, &done);
    int n = 0;
    if (events.ok())
      for (const v1::JobEvent& e : *events) n += e.message().find("preempted by ") != std::string::npos;
    return n;
  }

  const SimulationOptions& options_;
  IdealRun ideal_{options_.cluster};
  EventQueue queue_;
  ScratchDir dir_;
  std::unique_ptr<scheduler::StateStore> store_;
  std::unique_ptr<SimLauncher> launcher_;
  bool recording_holds_ = false;
  std::unique_ptr<SchedulerCore> core_;
  std::map<std::string, size_t> index_;  // job id -> trace index
  std::map<std::string, bool> agents_;   // failing nodes: up (heartbeating) or not
  int busy_ = 0, running_ = 0;
  SimulationResult result_;
};

}  // namespace

Result<SimulationResult> RunSimulation(const SimulationOptions& options) {
  Run run(options);
  return run.Go();
}

}  // namespace meridian::sim
