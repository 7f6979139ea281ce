#include "scheduler/service/scheduler_core.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "common/log.h"
#include "scheduler/service/job_options.h"
#include "scheduler/service/job_placement.h"
#include "scheduler/service/node_checks.h"
#include "scheduler/service/proto_convert.h"
#include "scheduler/service/request_checks.h"

namespace meridian::scheduler {

namespace {

constexpr int kDefaultMaxRestarts = 3;

// How the job's launcher (mpirun, or sbatch for Slurm) ended.
std::string LauncherExitText(int exit_code) {
  std::string text = "the launcher exited with status " + std::to_string(exit_code);
  if (exit_code > 128 && exit_code < 160) text += " (signal " + std::to_string(exit_code - 128) + ")";
  return text;
}

}  // namespace

bool Terminal(v1::JobState s) { return s == v1::SUCCEEDED || s == v1::FAILED || s == v1::CANCELLED; }

double NowUnixSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

int GrpcCodeFor(Status::Code code) {
  switch (code) {
    case Status::Code::kOk: return 0;                   // OK
    case Status::Code::kInvalidArgument: return 3;      // INVALID_ARGUMENT
    case Status::Code::kDeadlineExceeded: return 4;     // DEADLINE_EXCEEDED
    case Status::Code::kNotFound: return 5;             // NOT_FOUND
    case Status::Code::kFailedPrecondition: return 9;   // FAILED_PRECONDITION
    case Status::Code::kUnavailable: return 14;         // UNAVAILABLE
    case Status::Code::kCorruption: return 15;          // DATA_LOSS
    case Status::Code::kIOError: return 13;             // INTERNAL
    case Status::Code::kInternal: return 13;            // INTERNAL
    case Status::Code::kUnauthenticated: return 16;     // UNAUTHENTICATED
    case Status::Code::kPermissionDenied: return 7;     // PERMISSION_DENIED
    case Status::Code::kResourceExhausted: return 8;    // RESOURCE_EXHAUSTED
  }
  return 2;  // UNKNOWN
}


SchedulerCore::SchedulerCore(Topology cluster, StateStore* store, Launcher* launcher, SchedulerCoreOptions options)
    : topology_(std::move(cluster)), store_(store), launcher_(launcher), options_(options) {
  file_nodes_ = topology_.nodes;
  launcher_->SetExitCallback([this](const std::string& id, int code) { OnJobExit(id, code); });
}

v1::Job* SchedulerCore::FindLocked(const std::string& id) {
  for (v1::Job& j : jobs_)
    if (j.id() == id) return &j;
  return nullptr;
}

v1::JobEvent SchedulerCore::NextEventLocked(v1::Job& job, v1::JobState state, const std::string& message,
                                            const v1::Progress* progress) {
  job.set_state(state);
  if (!message.empty()) job.set_message(message);
  if (Terminal(state)) job.set_finished_unix_s(NowUnixSeconds());
  if (progress != nullptr) *job.mutable_last_progress() = *progress;
  v1::JobEvent event;
  event.set_sequence(last_sequence_[job.id()] + 1);
  event.set_unix_s(NowUnixSeconds());
  event.set_state(state);
  event.set_message(message);
  if (progress != nullptr) *event.mutable_progress() = *progress;
  return event;
}

Status SchedulerCore::CommitLocked(v1::Job& job, v1::Job next, v1::JobState state, const std::string& message) {
  MERIDIAN_RETURN_IF_ERROR(FlushJobLocked(job.id()));  // its events stay in order
  const v1::JobEvent event = NextEventLocked(next, state, message, nullptr);
  if (Status s = store_->PutJob(next, {event}); !s.ok()) {
    store_failing_ = true;  // FlushLocked finds out when it works again
    return s;
  }
  job = std::move(next);
  last_sequence_[job.id()] = event.sequence();
  events_cv_.notify_all();
  return Status::OK();
}

void SchedulerCore::RecordLocked(v1::Job& job, v1::JobState state, const std::string& message,
                                 const v1::Progress* progress) {
  const v1::JobEvent event = NextEventLocked(job, state, message, progress);
  unsaved_[job.id()].push_back(event);
  last_sequence_[job.id()] = event.sequence();
  events_cv_.notify_all();
  if (progress == nullptr) (void)FlushJobLocked(job.id());  // progress waits for the next flush
}

Status SchedulerCore::FlushJobLocked(const std::string& id) {
  auto it = unsaved_.find(id);
  if (it == unsaved_.end()) return Status::OK();
  const v1::Job* job = FindLocked(id);
  Status s = job == nullptr ? Status::OK() : store_->PutJob(*job, it->second);
  if (!s.ok()) {
    if (!store_failing_)
      Logger("store")->error("the state store failed ({}); job states are kept in memory and written again "
                             "until it works", s.ToString());
    store_failing_ = true;
    return s;
  }
  unsaved_.erase(it);
  return Status::OK();
}

void SchedulerCore::FlushLocked() {
  last_flush_s_ = NowUnixSeconds();
  std::vector<std::string> ids;
  for (const auto& [id, events] : unsaved_) ids.push_back(id);
  bool failed = false;
  for (const std::string& id : ids) failed |= !FlushJobLocked(id).ok();
  if (store_failing_ && !failed) {
    store_failing_ = false;
    Logger("store")->info("the state store works again; every job state is written");
    ++capacity_version_;  // jobs that could not be placed while it failed are tried again
    ScheduleLocked();
  }
}

Status SchedulerCore::Recover() {
  std::lock_guard<std::mutex> lock(mu_);
  MERIDIAN_ASSIGN_OR_RETURN(std::vector<v1::Node> nodes, store_->ListNodes());
  const double now = NowUnixSeconds();
  for (const v1::Node& p : nodes) {
    Node n = NodeFromProto(p);
    // Only agents' registrations are kept; the cluster file defines the rest.
    if (!n.from_agent || topology_.FindDataCenter(n.data_center) == nullptr) continue;
    // The agent gets a full timeout to heartbeat to the new daemon.
    if (n.alive) n.last_heartbeat_s = now;
    auto it = std::find_if(topology_.nodes.begin(), topology_.nodes.end(), [&](const Node& x) { return x.name == n.name; });
    if (it != topology_.nodes.end()) {
      n.wait_for_agent = it->wait_for_agent;
      *it = n;
    } else {
      topology_.nodes.push_back(n);
    }
  }
  MERIDIAN_ASSIGN_OR_RETURN(jobs_, store_->ListJobs());
  for (v1::Job& job : jobs_) {
    MERIDIAN_ASSIGN_OR_RETURN(std::vector<v1::JobEvent> events, store_->ListEvents(job.id(), 0));
    last_sequence_[job.id()] = std::max<int64_t>(job.events_folded(), events.empty() ? 0 : events.back().sequence());
    if (job.state() == v1::PLACED || job.state() == v1::RUNNING) ReattachLocked(job);
  }
  ScheduleLocked();
  return Status::OK();
}

void SchedulerCore::ReattachLocked(v1::Job& job) {
  const std::string attempt = "attempt " + std::to_string(job.launches());
  const Orphan found = launcher_->Reattach(job);
  for (const auto& r : job.placement().ranks()) occupancy_[r.node()][r.gpu()] = job.id();
  switch (found.state) {
    case Orphan::State::kRunning:
      job.set_launcher_pid(found.process_group);
      job.set_log_path(launcher_->LogPath(job.id()));
      RecordLocked(job, v1::RUNNING, "the scheduler restarted and adopted " + attempt + ", still running", nullptr);
      return;
    case Orphan::State::kExited:
      EndAttemptLocked(job, found.exit_code, " (" + attempt + " ended while the scheduler was down)");
      return;
    case Orphan::State::kGone:
      // Not the job's fault: no restart is used up.
      ReleaseLocked(job);
      job.set_launcher_pid(0);
      job.clear_placement();
      RecordLocked(job, v1::RESTARTING,
                   "the scheduler restarted and " + attempt + " had left no process; restarting from the newest "
                   "checkpoint",
                   nullptr);
      return;
  }
}

Result<v1::Node> SchedulerCore::RegisterNode(const v1::Node& request) {
  std::lock_guard<std::mutex> lock(mu_);
  MERIDIAN_RETURN_IF_ERROR(CheckNodeClaim(request, topology_, file_nodes_));
  auto it = std::find_if(topology_.nodes.begin(), topology_.nodes.end(),
                         [&](const Node& x) { return x.name == request.name(); });
  if (it != topology_.nodes.end() && it->data_center != request.data_center()) {
    return Invalid("node.data_center", request.data_center(),
                   "node " + request.name() + " belongs to " + it->data_center);
  }
  Node n = NodeFromProto(request);
  for (size_t i = 0; i < n.gpus.size(); ++i) n.gpus[i].index = (int)i;
  n.alive = true;
  n.from_agent = true;
  n.last_heartbeat_s = NowUnixSeconds();
  if (it != topology_.nodes.end()) {
    // A cluster-file node keeps what the agent cannot know.
    n.wait_for_agent = it->wait_for_agent;
    n.failed = it->failed;
    n.probation_until_s = it->probation_until_s;
    if (request.intra_node_gbps() <= 0) n.intra_node_gbps = it->intra_node_gbps;
    n.intra_node_latency_us = it->intra_node_latency_us;
  }
  NodeBackLocked(n, n.last_heartbeat_s);
  const v1::Node stored = NodeToProto(n);
  MERIDIAN_RETURN_IF_ERROR(store_->PutNode(stored));
  if (it != topology_.nodes.end()) *it = n;
  else topology_.nodes.push_back(n);
  Logger("core")->info("node {} registered in {}: host {} ({}), {} {}", n.name, n.data_center, n.host,
                       n.hostname.empty() ? "?" : n.hostname.c_str(), n.gpus.size(),
                       n.gpus.empty() || n.gpus[0].model == "cpu" ? "CPU slots" : n.gpus[0].model.c_str());
  ++capacity_version_;
  ScheduleLocked();
  return stored;
}

Status SchedulerCore::Heartbeat(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  for (Node& n : topology_.nodes) {
    if (n.name != name) continue;
    if (!n.from_agent) break;  // a file node whose agent has not registered yet
    // Heartbeats are frequent and only refresh liveness: kept in memory; the
    // store learns of a node's death or revival, not of every beat.
    n.last_heartbeat_s = NowUnixSeconds();
    if (!n.alive) {
      n.alive = true;
      NodeBackLocked(n, n.last_heartbeat_s);
      MERIDIAN_RETURN_IF_ERROR(store_->PutNode(NodeToProto(n)));
      ++capacity_version_;
      ScheduleLocked();
    }
    return Status::OK();
  }
  return Status::NotFound("node '" + name + "' is not registered");
}

Status SchedulerCore::DeregisterNode(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = std::find_if(topology_.nodes.begin(), topology_.nodes.end(), [&](const Node& x) { return x.name == name; });
  if (it == topology_.nodes.end() || !it->from_agent)
    return Status::NotFound("node '" + name + "' has no agent registered");
  MERIDIAN_RETURN_IF_ERROR(store_->DeleteNode(name));
  auto file = std::find_if(file_nodes_.begin(), file_nodes_.end(), [&](const Node& x) { return x.name == name; });
  if (file != file_nodes_.end()) *it = *file;  // alive unless it waits for an agent
  else it->alive = false;                       // forgotten below
  Logger("core")->info("node {} deregistered by its agent", name);
  StopJobsOnNodeLocked(name, "the agent of node " + name + " left");
  if (file == file_nodes_.end()) topology_.nodes.erase(it);
  ++capacity_version_;
  ScheduleLocked();
  return Status::OK();
}

void SchedulerCore::StopJobsOnNodeLocked(const std::string& node, const std::string& why) {
  for (v1::Job& job : jobs_) {
    if (job.state() != v1::RUNNING && job.state() != v1::PLACED) continue;
    bool uses = false;
    for (const auto& r : job.placement().ranks()) uses |= r.node() == node;
    if (!uses) continue;
    stopped_because_[job.id()] = why;
    (void)launcher_->Kill(job.id());
  }
}

void SchedulerCore::CheckLiveness(double now) {
  std::vector<v1::Job> forgotten;
  {
    std::lock_guard<std::mutex> lock(mu_);
    CheckLivenessLocked(now);
    forgotten = ApplyRetentionLocked(now);
  }
  // Their files go outside the lock: a large job directory must not stall
  // heartbeats and submits.
  for (const v1::Job& job : forgotten) launcher_->RemoveJobFiles(job);
}

void SchedulerCore::CheckLivenessLocked(double now) {
  if ((!unsaved_.empty() || store_failing_) && std::abs(now - last_flush_s_) >= options_.flush_interval_s)
    FlushLocked();
  for (Node& n : topology_.nodes) {
    if (!n.alive || n.last_heartbeat_s <= 0 || now - n.last_heartbeat_s <= options_.node_timeout_s) continue;
    n.alive = false;
    (void)store_->PutNode(NodeToProto(n));
    n.failed = true;
    Logger("core")->warn("node {} missed heartbeats for {:.0f} s: marked dead", n.name, now - n.last_heartbeat_s);
    StopJobsOnNodeLocked(n.name, "node " + n.name + " stopped heartbeating");
  }
  bool ended = false;
  for (Node& n : topology_.nodes) {
    if (n.probation_until_s <= 0 || now < n.probation_until_s) continue;
    n.probation_until_s = 0;
    ended = true;
    Logger("core")->info("node {} stayed alive through its probation: it takes jobs again", n.name);
  }
  if (ended) {
    ++capacity_version_;
    ScheduleLocked();
  }
}

void SchedulerCore::NodeBackLocked(Node& n, double now) {
  if (!n.failed) return;
  n.failed = false;
  n.probation_until_s = now + options_.node_probation_s;
  Logger("core")->info("node {} is back after it failed: no new job on it for {:.0f} s", n.name,
                       options_.node_probation_s);
}

v1::ListPoolsResponse SchedulerCore::ListPools() {
  std::lock_guard<std::mutex> lock(mu_);
  v1::ListPoolsResponse out;
  for (const DataCenter& dc : topology_.data_centers) {
    v1::Pool* pool = out.add_pools();
    pool->set_data_center(dc.name);
    pool->set_fabric_gbps(dc.fabric_gbps);
    pool->set_launcher(LauncherKindName(dc.launcher));
    int total = 0, free = 0;
    for (const Node& n : topology_.nodes) {
      if (n.data_center != dc.name) continue;
      v1::Node* p = pool->add_nodes();
      *p = NodeToProto(n);
      for (v1::Gpu& g : *p->mutable_gpus()) {
        auto node_it = occupancy_.find(n.name);
        if (node_it != occupancy_.end()) {
          auto gpu_it = node_it->second.find(g.index());
          if (gpu_it != node_it->second.end()) g.set_job_id(gpu_it->second);
        }
        if (n.alive) {
          ++total;
          free += g.job_id().empty();
        }
      }
    }
    pool->set_total_gpus(total);
    pool->set_free_gpus(free);
  }
  for (const InterDcLink& l : topology_.links) {
    v1::InterDcLink* p = out.add_links();
    p->set_a(l.a);
    p->set_b(l.b);
    p->set_gbps(l.gbps);
    p->set_latency_ms(l.latency_ms);
  }
  out.set_insecure(options_.insecure);
  return out;
}

Result<v1::Job> SchedulerCore::SubmitJob(const v1::JobSpec& spec, const std::string& owner,
                                         const std::vector<std::string>& owner_data_roots) {
  MERIDIAN_RETURN_IF_ERROR(ValidateSpec(spec));
  // The daemon's roots, then the token's own, which narrow them.
  MERIDIAN_RETURN_IF_ERROR(CheckSpecUnderRoots(spec, options_.data_roots, "--data-root"));
  MERIDIAN_RETURN_IF_ERROR(CheckSpecUnderRoots(spec, owner_data_roots, "this token's data_roots"));
  if (options_.check_data_paths) {
    MERIDIAN_RETURN_IF_ERROR(CheckDataGlob("spec.training.data", spec.training().data()));
    if (!spec.training().val_data().empty())
      MERIDIAN_RETURN_IF_ERROR(CheckDataGlob("spec.training.val_data", spec.training().val_data()));
  }
  const long ranks = spec.layout().auto_layout() ? spec.layout().gpus() : (long)spec.layout().dp() * spec.layout().pp();
  if (ranks > options_.max_ranks_per_job)
    return Invalid("spec.layout", std::to_string(ranks) + " ranks",
                   "more than this daemon allows a job (--max-ranks-per-job " +
                       std::to_string(options_.max_ranks_per_job) + ")");
  std::lock_guard<std::mutex> lock(mu_);
  MERIDIAN_RETURN_IF_ERROR(CheckDataCenters(spec));
  MERIDIAN_RETURN_IF_ERROR(CheckWaitingLimitsLocked(owner));
  // A job that can never fit is refused now rather than queued forever.
  MERIDIAN_ASSIGN_OR_RETURN(JobRequest request, ToJobRequest(spec));
  Result<Placement> empty_fit = PlaceLocked(spec, request, Occupancy{}, /*now=*/false);
  if (!empty_fit.ok() && empty_fit.status().code() != Status::Code::kUnavailable) {
    return Status::InvalidArgument("spec does not fit this cluster: " + empty_fit.status().message());
  }
  MERIDIAN_ASSIGN_OR_RETURN(int64_t number, store_->NextJobNumber());
  char id[32];
  std::snprintf(id, sizeof(id), "job-%06lld", (long long)number);
  v1::Job job;
  job.set_id(id);
  *job.mutable_spec() = spec;
  job.set_submitted_unix_s(NowUnixSeconds());
  job.set_owner(owner);
  for (const std::string& root : owner_data_roots) job.add_owner_data_roots(root);
  jobs_.push_back(job);
  Status s = CommitLocked(jobs_.back(), job, v1::QUEUED, "submitted");
  if (!s.ok()) {
    jobs_.pop_back();
    last_sequence_.erase(job.id());
    return s;
  }
  ScheduleLocked();
  return *FindLocked(id);
}

Status SchedulerCore::CheckWaitingLimitsLocked(const std::string& owner) const {
  int waiting = 0, of_owner = 0;
  for (const v1::Job& j : jobs_) {
    if (j.state() != v1::QUEUED && j.state() != v1::RESTARTING) continue;
    ++waiting;
    of_owner += j.owner() == owner;
  }
  if (waiting >= options_.max_waiting_jobs)
    return Status::ResourceExhausted("the queue is full: " + std::to_string(waiting) +
                                     " jobs wait (--max-queued-jobs " + std::to_string(options_.max_waiting_jobs) +
                                     ")");
  if (!owner.empty() && of_owner >= options_.max_waiting_per_owner)
    return Status::ResourceExhausted("this token has " + std::to_string(of_owner) +
                                     " jobs waiting (--max-queued-per-token " +
                                     std::to_string(options_.max_waiting_per_owner) + ")");
  return Status::OK();
}

void SchedulerCore::ScheduleLocked() {
  // First-in first-out with backfill: every waiting job, in submission
  // order, is placed if it fits now; one that does not fit does not block
  // smaller jobs behind it. Jobs restarting after a failure go first.
  for (v1::JobState waiting : {v1::RESTARTING, v1::QUEUED})
  for (v1::Job& job : jobs_) {
    if (job.state() != waiting) continue;
    uint64_t& tried = tried_at_version_[job.id()];
    if (tried == capacity_version_) continue;  // nothing freed since it last failed
    Result<JobRequest> request = ToJobRequest(job.spec());
    if (!request.ok()) continue;
    v1::Job next = job;  // what it becomes once placed (a shrink changes its spec)
    Result<Placement> placement = PlaceLocked(next.spec(), *request, occupancy_);
    std::string shrunk;
    if (!placement.ok() && job.state() == v1::RESTARTING) placement = ShrinkLocked(next, *request, &shrunk);
    if (!placement.ok()) {
      tried = capacity_version_;
      continue;
    }
    for (const RankPlacement& r : placement->ranks) occupancy_[r.node][r.gpu] = job.id();
    *next.mutable_placement() = PlacementToProto(*placement, topology_);
    next.set_launches(next.launches() + 1);
    char msg[160];
    std::snprintf(msg, sizeof(msg), "placed: dp %d x pp %d, %s sync, predicted %.3f s/step", placement->dp,
                  placement->pp, DpSyncName(placement->dp_sync), placement->predicted_step_s);
    // Durable before the launch, with the attempt's number: a daemon that
    // restarts knows which attempt may be running.
    if (!CommitLocked(job, std::move(next), v1::PLACED, shrunk + msg).ok()) {
      ReleaseLocked(job);
      tried = capacity_version_;  // tried again once the store works (FlushLocked)
      continue;
    }
    tried_at_version_.erase(job.id());
    Status launched = LaunchLocked(job);
    if (!launched.ok()) {
      ReleaseLocked(job);
      RecordLocked(job, v1::FAILED, "launch failed: " + launched.message(), nullptr);
    }
  }
}

Result<Placement> SchedulerCore::ShrinkLocked(v1::Job& job, const JobRequest& request, std::string* note) {
  const v1::Layout& layout = job.spec().layout();
  if (layout.auto_layout() || layout.dp() <= 1) return Status::Unavailable("cannot shrink");
  // Only when the old size cannot be placed on the healthy cluster even
  // once every other job has ended: otherwise it waits for its GPUs.
  if (PlaceLocked(job.spec(), request, Occupancy{}, /*now=*/false).ok())
    return Status::Unavailable("waits for its old size");
  const int old_dp = layout.dp();
  const int old_micro = std::max(1, job.spec().training().microbatches());
  for (int dp = old_dp - 1; dp >= 1; --dp) {
    if (old_dp % dp != 0) continue;
    // Fewer replicas, more micro-batches each: the same global batch, so
    // the loss curve goes on as it would have.
    v1::JobSpec smaller = job.spec();
    smaller.mutable_layout()->set_dp(dp);
    smaller.mutable_training()->set_microbatches(old_micro * (old_dp / dp));
    Result<JobRequest> smaller_request = ToJobRequest(smaller);
    if (!smaller_request.ok()) continue;
    Result<Placement> p = PlaceLocked(smaller, *smaller_request, occupancy_);
    if (!p.ok()) continue;
    *note = "shrunk from dp " + std::to_string(old_dp) + " to dp " + std::to_string(dp) + " with " +
            std::to_string(smaller.training().microbatches()) +
            " micro-batches a step (the same global batch): the old size no longer fits; ";
    *job.mutable_spec() = std::move(smaller);
    return p;
  }
  return Status::Unavailable("no smaller data-parallel degree fits either");
}

Result<Placement> SchedulerCore::PlaceLocked(const v1::JobSpec& spec, const JobRequest& request,
                                             const Occupancy& occupied, bool now_only) {
  const std::vector<std::string> dcs(spec.data_centers().begin(), spec.data_centers().end());
  const double now = NowUnixSeconds();
  const bool probation = now_only && std::any_of(topology_.nodes.begin(), topology_.nodes.end(),
                                                 [&](const Node& n) { return n.probation_until_s > now; });
  const auto start = std::chrono::steady_clock::now();
  Result<Placement> placement = [&] {
    if (!probation) return PlaceWithinLaunchers(topology_, occupied, request, dcs);
    Topology healthy = topology_;
    for (Node& n : healthy.nodes) n.alive = n.alive && n.probation_until_s <= now;
    return PlaceWithinLaunchers(healthy, occupied, request, dcs);
  }();
  if (options_.on_placement) {
    options_.on_placement(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
                          placement.ok());
  }
  return placement;
}

Status SchedulerCore::CheckDataCenters(const v1::JobSpec& spec) const {
  for (int i = 0; i < spec.data_centers_size(); ++i) {
    if (topology_.FindDataCenter(spec.data_centers(i)) == nullptr)
      return Invalid("spec.data_centers[" + std::to_string(i) + "]", spec.data_centers(i), "unknown data center");
  }
  return Status::OK();
}

Status SchedulerCore::LaunchLocked(v1::Job& job) {
  // The files may have changed since the submit (a link swapped in): the
  // roots are checked again at every launch, and by the ranks.
  MERIDIAN_RETURN_IF_ERROR(CheckSpecUnderRoots(job.spec(), options_.data_roots, "--data-root"));
  MERIDIAN_RETURN_IF_ERROR(CheckSpecUnderRoots(
      job.spec(), {job.owner_data_roots().begin(), job.owner_data_roots().end()}, "this token's data_roots"));
  MERIDIAN_ASSIGN_OR_RETURN(int64_t pgid, launcher_->Launch(job));
  job.set_launcher_pid(pgid);
  job.set_log_path(launcher_->LogPath(job.id()));
  // A fact from here on: its processes run whatever the store says.
  RecordLocked(job, v1::RUNNING, "launched (attempt " + std::to_string(job.launches()) + ")", nullptr);
  return Status::OK();
}

void SchedulerCore::ReleaseLocked(const v1::Job& job) {
  ++capacity_version_;
  for (auto& [node, gpus] : occupancy_) {
    for (auto it = gpus.begin(); it != gpus.end();) {
      if (it->second == job.id()) it = gpus.erase(it);
      else ++it;
    }
  }
}

Result<v1::Job> SchedulerCore::GetJob(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  v1::Job* job = FindLocked(id);
  if (job == nullptr) return Status::NotFound("job '" + id + "' does not exist");
  return *job;
}

std::vector<v1::Job> SchedulerCore::ListJobs(const std::vector<v1::JobState>& states) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<v1::Job> out;
  for (const v1::Job& j : jobs_)
    if (states.empty() || std::find(states.begin(), states.end(), j.state()) != states.end()) out.push_back(j);
  return out;
}

Result<v1::Job> SchedulerCore::CancelJob(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  v1::Job* job = FindLocked(id);
  if (job == nullptr) return Status::NotFound("job '" + id + "' does not exist");
  if (Terminal(job->state())) return Status::FailedPrecondition("job '" + id + "' has already ended");
  if (job->state() == v1::QUEUED || job->state() == v1::RESTARTING) {
    MERIDIAN_RETURN_IF_ERROR(CommitLocked(*job, *job, v1::CANCELLED, "cancelled while waiting to be placed"));
    return *job;
  }
  cancel_requested_[id] = true;
  MERIDIAN_RETURN_IF_ERROR(launcher_->Kill(id));  // OnJobExit records CANCELLED
  return *job;
}

Result<v1::PlanResponse> SchedulerCore::Plan(const v1::JobSpec& spec) {
  MERIDIAN_RETURN_IF_ERROR(ValidateSpec(spec));
  MERIDIAN_ASSIGN_OR_RETURN(JobRequest request, ToJobRequest(spec));
  std::lock_guard<std::mutex> lock(mu_);
  MERIDIAN_RETURN_IF_ERROR(CheckDataCenters(spec));
  v1::PlanResponse out;
  Result<Placement> now = PlaceLocked(spec, request, occupancy_);
  if (now.ok()) {
    *out.mutable_placement() = PlacementToProto(*now, topology_);
    out.set_fits_now(true);
    return out;
  }
  if (now.status().code() != Status::Code::kUnavailable)
    return Status::InvalidArgument("spec does not fit this cluster: " + now.status().message());
  Result<Placement> empty = PlaceLocked(spec, request, Occupancy{}, /*now=*/false);
  if (!empty.ok()) return Status::InvalidArgument("spec does not fit this cluster: " + empty.status().message());
  *out.mutable_placement() = PlacementToProto(*empty, topology_);
  out.set_fits_now(false);
  out.set_message("would queue: " + now.status().message());
  return out;
}

Result<v1::GetAssignmentResponse> SchedulerCore::GetAssignment(const std::string& job_id, int rank) {
  std::lock_guard<std::mutex> lock(mu_);
  v1::Job* job = FindLocked(job_id);
  if (job == nullptr) return Status::NotFound("job '" + job_id + "' does not exist");
  if (job->state() != v1::PLACED && job->state() != v1::RUNNING)
    return Status::FailedPrecondition("job '" + job_id + "' is not placed (state " + v1::JobState_Name(job->state()) + ")");
  if (rank < 0 || rank >= job->placement().ranks_size())
    return Invalid("rank", std::to_string(rank), "outside the job's " + std::to_string(job->placement().ranks_size()) + " ranks");
  v1::GetAssignmentResponse out;
  *out.mutable_assignment() = job->placement().ranks(rank);
  *out.mutable_placement() = job->placement();
  *out.mutable_spec() = job->spec();
  out.set_attempt(job->launches());
  return out;
}

Result<v1::JobState> SchedulerCore::ReportProgress(const std::string& job_id, const v1::Progress& progress) {
  if (progress.step() < 0) return Invalid("progress.step", std::to_string(progress.step()), "must be >= 0");
  std::lock_guard<std::mutex> lock(mu_);
  v1::Job* job = FindLocked(job_id);
  if (job == nullptr) return Status::NotFound("job '" + job_id + "' does not exist");
  if (cancel_requested_.count(job_id)) return v1::CANCELLED;
  if (job->state() != v1::RUNNING) return job->state();
  // A straggler of an attempt that is over must not rewrite the progress.
  if (progress.attempt() != 0 && progress.attempt() != job->launches()) return job->state();
  v1::Progress p = progress;
  if (p.unix_s() == 0) p.set_unix_s(NowUnixSeconds());
  RecordLocked(*job, v1::RUNNING, "", &p);  // durable at the next flush: one write for many reports
  return job->state();
}

Result<std::vector<v1::JobEvent>> SchedulerCore::WaitForEvents(const std::string& job_id, int64_t after,
                                                               double timeout_s, bool* done) {
  std::unique_lock<std::mutex> lock(mu_);
  *done = false;
  if (FindLocked(job_id) == nullptr) return Status::NotFound("job '" + job_id + "' does not exist");
  events_cv_.wait_for(lock, std::chrono::duration<double>(timeout_s),
                      [&] { return FindLocked(job_id) == nullptr || last_sequence_[job_id] > after; });
  // Retention may have removed it meanwhile.
  if (FindLocked(job_id) == nullptr) return Status::NotFound("job '" + job_id + "' does not exist");
  MERIDIAN_ASSIGN_OR_RETURN(std::vector<v1::JobEvent> events, store_->ListEvents(job_id, after));
  // Then those not written yet (batched progress, or a failing store).
  if (auto it = unsaved_.find(job_id); it != unsaved_.end()) {
    for (const v1::JobEvent& e : it->second)
      if (e.sequence() > after && (events.empty() || e.sequence() > events.back().sequence())) events.push_back(e);
  }
  const v1::Job* job = FindLocked(job_id);
  const int64_t last_seen = events.empty() ? after : events.back().sequence();
  *done = Terminal(job->state()) && last_seen >= last_sequence_[job_id];
  return events;
}

void SchedulerCore::OnJobExit(const std::string& job_id, int exit_code) {
  std::lock_guard<std::mutex> lock(mu_);
  v1::Job* job = FindLocked(job_id);
  if (job == nullptr || Terminal(job->state())) return;
  EndAttemptLocked(*job, exit_code, "");
  ScheduleLocked();
}

void SchedulerCore::EndAttemptLocked(v1::Job& job, int exit_code, const std::string& context) {
  const std::string& job_id = job.id();
  ReleaseLocked(job);
  job.set_exit_code(exit_code);
  job.set_launcher_pid(0);
  // Why it ended, when it did not succeed: the daemon stopped it (a node
  // failed or its agent left), a node is gone, or a rank failed.
  std::string why;
  if (auto it = stopped_because_.find(job_id); it != stopped_because_.end()) {
    why = it->second;
    stopped_because_.erase(it);
  }
  for (const auto& r : job.placement().ranks()) {
    const Node* n = topology_.FindNode(r.node());
    if (why.empty() && (n == nullptr || !n->alive)) why = "node " + r.node() + " is gone";
  }
  if (why.empty()) why = "a rank failed: " + LauncherExitText(exit_code);
  why += context;
  const int max_restarts = job.spec().has_max_restarts() ? job.spec().max_restarts() : kDefaultMaxRestarts;
  if (cancel_requested_.erase(job_id)) {
    RecordLocked(job, v1::CANCELLED, "cancelled", nullptr);
  } else if (exit_code == 0) {
    RecordLocked(job, v1::SUCCEEDED, "finished" + context, nullptr);
  } else if (job.restarts() < max_restarts) {
    job.set_restarts(job.restarts() + 1);
    job.clear_placement();
    RecordLocked(job, v1::RESTARTING,
                 why + "; restart " + std::to_string(job.restarts()) + " of " + std::to_string(max_restarts) +
                     ", from the newest checkpoint (meridianctl logs " + job_id + ")",
                 nullptr);
  } else {
    RecordLocked(job, v1::FAILED,
                 why + "; no restart left (max_restarts " + std::to_string(max_restarts) + "; meridianctl logs " +
                     job_id + ")",
                 nullptr);
  }
}

}  // namespace meridian::scheduler
