#include "scheduler/service/scheduler_core.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>

#include "common/log.h"
#include "scheduler/service/job_options.h"
#include "scheduler/service/job_placement.h"
#include "scheduler/service/node_checks.h"
#include "scheduler/service/proto_convert.h"
#include "scheduler/service/request_checks.h"
#include "scheduler/service/world_replacement.h"

namespace meridian::scheduler {

namespace {

constexpr int kDefaultMaxRestarts = 3;
// Bounds SubmitJob's cache of empty-cluster searches (job shapes).
constexpr size_t kMaxEmptyFits = 4096;

// How the job's launcher (mpirun, or sbatch for Slurm) ended.
std::string LauncherExitText(int exit_code) {
  std::string text = "the launcher exited with status " + std::to_string(exit_code);
  if (exit_code > 128 && exit_code < 160) text += " (signal " + std::to_string(exit_code - 128) + ")";
  return text;
}

// The options with the wall clock where none was given.
SchedulerCoreOptions WithClock(SchedulerCoreOptions options) {
  if (!options.now) options.now = NowUnixSeconds;
  return options;
}

}  // namespace

double NowUnixSeconds() {  // the default clock
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
    : store_(store),
      launcher_(launcher),
      options_(WithClock(std::move(options))),
      nodes_(std::move(cluster), options_.node_probation_s),
      journal_(store, [this] { events_cv_.notify_all(); }, options_.now) {
  if (options_.on_lock_held) mu_.OnRelease(options_.on_lock_held);
  launcher_->SetExitCallback([this](const std::string& id, int code) { OnJobExit(id, code); });
}

void SchedulerCore::FlushLocked(double now) {
  if (journal_.Flush(jobs_, now)) {
    nodes_.CapacityMayHaveGrown();  // jobs that could not be placed while it failed are tried again
    schedule_wanted_ = true;
  }
}

Status SchedulerCore::Recover() {
  {
    std::lock_guard<TimedMutex> lock(mu_);
    MERIDIAN_ASSIGN_OR_RETURN(std::vector<v1::Node> nodes, store_->ListNodes());
    const double now = options_.now();
    for (const v1::Node& p : nodes) nodes_.Restore(p, now);
    MERIDIAN_ASSIGN_OR_RETURN(std::vector<v1::Job> jobs, store_->ListJobs());
    for (v1::Job& job : jobs) {
      MERIDIAN_ASSIGN_OR_RETURN(std::vector<v1::JobEvent> events, store_->ListEvents(job.id(), 0));
      JobRecord& record = jobs_.Add(std::move(job));
      record.last_sequence =
          std::max<int64_t>(record.job.events_folded(), events.empty() ? 0 : events.back().sequence());
      if (record.job.state() == v1::PLACED || record.job.state() == v1::RUNNING) ReattachLocked(record);
    }
    schedule_wanted_ = true;
  }
  Schedule();
  return Status::OK();
}

void SchedulerCore::ReattachLocked(JobRecord& record) {
  v1::Job& job = record.job;
  const std::string attempt = "attempt " + std::to_string(job.launches());
  const Orphan found = launcher_->Reattach(job);
  nodes_.Occupy(job.id(), job.placement());
  switch (found.state) {
    case Orphan::State::kRunning:
      job.set_launcher_pid(found.process_group);
      job.set_log_path(launcher_->LogPath(job.id()));
      journal_.Record(record, v1::RUNNING, "the scheduler restarted and adopted " + attempt + ", still running",
                      nullptr);
      return;
    case Orphan::State::kExited:
      EndAttemptLocked(record, found.exit_code, " (" + attempt + " ended while the scheduler was down)");
      return;
    case Orphan::State::kGone:
      // Not the job's fault: no restart is used up.
      nodes_.Release(job.id());
      job.set_launcher_pid(0);
      job.clear_placement();
      journal_.Record(record, v1::RESTARTING,
                      "the scheduler restarted and " + attempt +
                          " had left no process; restarting from the newest checkpoint",
                      nullptr);
      return;
  }
}

Result<v1::Node> SchedulerCore::RegisterNode(const v1::Node& request) {
  v1::Node stored;
  {
    std::lock_guard<TimedMutex> lock(mu_);
    MERIDIAN_ASSIGN_OR_RETURN(Node n, nodes_.Registration(request, options_.now()));
    stored = NodeToProto(n);
    MERIDIAN_RETURN_IF_ERROR(journal_.CommitNode(stored));
    nodes_.Put(n);
    Logger("core")->info("node {} registered in {}: host {} ({}), {} {}", n.name, n.data_center, n.host,
                         n.hostname.empty() ? "?" : n.hostname.c_str(), n.gpus.size(),
                         n.gpus.empty() || n.gpus[0].model == "cpu" ? "CPU slots" : n.gpus[0].model.c_str());
    schedule_wanted_ = true;
  }
  Schedule();
  return stored;
}

Status SchedulerCore::Heartbeat(const std::string& name) {
  bool revived = false;
  {
    std::lock_guard<TimedMutex> lock(mu_);
    MERIDIAN_ASSIGN_OR_RETURN(const Node* n, nodes_.Heartbeat(name, options_.now(), &revived));
    if (!revived) return Status::OK();
    // The store learns of a node's death or revival, not of every beat.
    journal_.RecordNode(NodeToProto(*n));
    schedule_wanted_ = true;
  }
  Schedule();
  return Status::OK();
}

Status SchedulerCore::DeregisterNode(const std::string& name) {
  {
    std::lock_guard<TimedMutex> lock(mu_);
    MERIDIAN_RETURN_IF_ERROR(nodes_.CheckHasAgent(name));
    MERIDIAN_RETURN_IF_ERROR(journal_.CommitNodeRemoval(name));
    nodes_.RemoveAgent(name);
    Logger("core")->info("node {} deregistered by its agent", name);
    StopJobsOnNodeLocked(name, "the agent of node " + name + " left", options_.now());
    schedule_wanted_ = true;
  }
  Schedule();
  return Status::OK();
}

void SchedulerCore::StopJobsOnNodeLocked(const std::string& node, const std::string& why, double now) {
  for (JobRecord* running : std::vector<JobRecord*>(jobs_.Unfinished())) {  // a copy: stopping may end a job
    JobRecord& record = *running;
    const v1::Job& job = record.job;
    if (job.state() != v1::RUNNING && job.state() != v1::PLACED) continue;
    bool uses = false;
    for (const auto& r : job.placement().ranks()) uses |= r.node() == node;
    if (!uses) continue;
    if (ReplaceWorldLocked(record, node, why, now)) continue;
    record.stopped_because = why;
    (void)launcher_->Kill(job.id());
  }
}

bool SchedulerCore::ReplaceWorldLocked(JobRecord& record, const std::string& node, const std::string& why,
                                       double now) {
  const v1::Job& job = record.job;
  if (!job.placement().dc_worlds() || job.state() != v1::RUNNING) return false;
  Result<JobRequest> request = ToJobRequest(job.spec());
  if (!request.ok()) return false;
  Occupancy others = nodes_.occupancy();  // every job's GPUs but this one's
  Vacate(others, job.id());
  Result<WorldMove> move = ReplaceWorld(*nodes_.HealthyNow(now), others, job, *request, node);
  if (!move.ok()) {
    Logger("core")->warn("{}: {}; the job restarts as a whole", job.id(), move.status().message());
    return false;
  }
  v1::Job next = job;
  *next.mutable_placement() = move->placement;
  // The world may have moved to another data center: its links changed.
  MarkLinkWindows(nodes_.topology(), next.mutable_placement());
  // The lost world's last word is stale now; it reports again once it runs.
  auto* worlds = next.mutable_worlds();
  for (int i = worlds->size() - 1; i >= 0; --i)
    if (worlds->Get(i).world() == move->from_dc) worlds->DeleteSubrange(i, 1);
  const std::string msg = why + ": world " + move->from_dc + " placed again on " + move->to_dc + " (" + move->nodes +
                          ") and relaunched alone; the other worlds train on";
  if (!journal_.Commit(record, std::move(next), v1::RUNNING, msg).ok()) return false;
  nodes_.Release(job.id());
  nodes_.Occupy(job.id(), record.job.placement());
  if (Status s = launcher_->RelaunchWorld(record.job, move->world); !s.ok()) {
    Logger("core")->warn("{}: relaunching world {}: {}; the job restarts as a whole", job.id(), move->to_dc,
                         s.message());
    return false;
  }
  Logger("core")->info("{}: {}", job.id(), msg);
  return true;
}

void SchedulerCore::CheckLiveness(double now) {
  std::vector<v1::Job> forgotten;
  {
    std::lock_guard<TimedMutex> lock(mu_);
    if (journal_.FlushDue(now, options_.flush_interval_s)) FlushLocked(now);
    for (const Node& dead : nodes_.MarkSilentDead(now, options_.node_timeout_s)) {
      journal_.RecordNode(NodeToProto(dead));
      StopJobsOnNodeLocked(dead.name, "node " + dead.name + " stopped heartbeating", now);
    }
    if (nodes_.EndProbations(now)) schedule_wanted_ = true;
    forgotten = ApplyRetentionLocked(now);
  }
  // Their files go outside the lock: a large job directory must not stall
  // heartbeats and submits.
  for (const v1::Job& job : forgotten) launcher_->RemoveJobFiles(job);
  Schedule();
}

v1::ListPoolsResponse SchedulerCore::ListPools() {
  std::lock_guard<TimedMutex> lock(mu_);
  const Topology& topology = nodes_.topology();
  const Occupancy& occupancy = nodes_.occupancy();
  v1::ListPoolsResponse out;
  for (const DataCenter& dc : topology.data_centers) {
    v1::Pool* pool = out.add_pools();
    pool->set_data_center(dc.name);
    pool->set_fabric_gbps(dc.fabric_gbps);
    pool->set_launcher(LauncherKindName(dc.launcher));
    int total = 0, free = 0;
    for (const Node& n : topology.nodes) {
      if (n.data_center != dc.name) continue;
      v1::Node* p = pool->add_nodes();
      *p = NodeToProto(n);
      for (v1::Gpu& g : *p->mutable_gpus()) {
        auto node_it = occupancy.find(n.name);
        if (node_it != occupancy.end()) {
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
  for (const InterDcLink& l : topology.links) {
    v1::InterDcLink* p = out.add_links();
    p->set_a(l.a);
    p->set_b(l.b);
    p->set_gbps(l.gbps);
    p->set_latency_ms(l.latency_ms);
    p->set_duty_cycle(l.schedule.DutyCycle());
    p->set_schedule(l.schedule.Describe());
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
  const long ranks = JobGpus(spec);
  if (ranks > options_.max_ranks_per_job)
    return Invalid("spec.layout", std::to_string(ranks) + " ranks",
                   "more than this daemon allows a job (--max-ranks-per-job " +
                       std::to_string(options_.max_ranks_per_job) + ")");
  if (options_.quotas.enabled() && ranks > options_.quotas.For(spec.tenant()).limit()) {
    const TenantQuota q = options_.quotas.For(spec.tenant());
    return Status::FailedPrecondition("spec.layout: " + std::to_string(ranks) + " GPUs, more than tenant '" +
                                      spec.tenant() + "' may ever hold (--quota-file: gpus " + std::to_string(q.gpus) +
                                      " + borrow " + std::to_string(q.borrow) + ")");
  }
  MERIDIAN_ASSIGN_OR_RETURN(JobRequest request, ToJobRequest(spec));
  const SearchShape key = ShapeOf(spec, request);
  std::shared_ptr<const Topology> topology;
  std::optional<EmptyFit> empty_fit;
  {
    std::lock_guard<TimedMutex> lock(mu_);
    MERIDIAN_RETURN_IF_ERROR(CheckDataCenters(spec));
    topology = nodes_.Shared();
    if (empty_fits_topology_ == topology)
      if (auto it = empty_fits_.find(key); it != empty_fits_.end()) empty_fit = it->second;
  }
  if (!empty_fit) {
    Result<Placement> searched = Search(*topology, Occupancy{}, spec, request);
    empty_fit = EmptyFit{searched.status(), searched.ok() ? searched->predicted_step_s : 0.0};
    std::lock_guard<TimedMutex> lock(mu_);
    if (empty_fits_topology_ != topology || empty_fits_.size() >= kMaxEmptyFits) {
      empty_fits_.clear();
      empty_fits_topology_ = topology;
    }
    empty_fits_[key] = *empty_fit;
  }
  // A job that can never fit is refused now rather than queued forever.
  if (!empty_fit->status.ok() && empty_fit->status.code() != Status::Code::kUnavailable) {
    return Status::InvalidArgument("spec does not fit this cluster: " + empty_fit->status.message());
  }
  std::string id;
  {
    std::lock_guard<TimedMutex> lock(mu_);
    MERIDIAN_RETURN_IF_ERROR(CheckWaitingLimitsLocked(owner));
    MERIDIAN_ASSIGN_OR_RETURN(int64_t number, store_->NextJobNumber());
    char text[32];
    std::snprintf(text, sizeof(text), "job-%06lld", (long long)number);
    id = text;
    v1::Job job;
    job.set_id(id);
    *job.mutable_spec() = spec;
    job.set_submitted_unix_s(options_.now());
    job.set_owner(owner);
    for (const std::string& root : owner_data_roots) job.add_owner_data_roots(root);
    JobRecord& record = jobs_.Add(job);
    if (empty_fit->status.ok()) record.best_step_s = empty_fit->predicted_step_s;
    if (Status s = journal_.Commit(record, std::move(job), v1::QUEUED, "submitted"); !s.ok()) {
      jobs_.Remove(id);
      return s;
    }
    schedule_wanted_ = true;
  }
  Schedule();
  return GetJob(id);
}

Status SchedulerCore::CheckWaitingLimitsLocked(const std::string& owner) {
  int waiting = 0, of_owner = 0;
  for (const JobRecord* r : jobs_.Unfinished()) {
    if (r->job.state() != v1::QUEUED && r->job.state() != v1::RESTARTING) continue;
    ++waiting;
    of_owner += r->job.owner() == owner;
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

void SchedulerCore::SetQuotas(Quotas quotas) {
  {
    // A pass reads the quotas outside mu_, under scheduling_mu_ (taken first).
    std::lock_guard<std::mutex> pass(scheduling_mu_);
    std::lock_guard<TimedMutex> lock(mu_);
    options_.quotas = std::move(quotas);
    for (JobRecord* r : jobs_.Unfinished()) {
      r->tried_at_capacity = 0;  // a limit may have grown
      r->quota_wait_noted = false;  // and if still held, the new numbers are said
    }
    schedule_wanted_ = true;
  }
  Schedule();
}

Status SchedulerCore::CheckDataCenters(const v1::JobSpec& spec) const {
  for (int i = 0; i < spec.data_centers_size(); ++i) {
    if (nodes_.topology().FindDataCenter(spec.data_centers(i)) == nullptr)
      return Invalid("spec.data_centers[" + std::to_string(i) + "]", spec.data_centers(i), "unknown data center");
  }
  return Status::OK();
}

Status SchedulerCore::LaunchLocked(JobRecord& record) {
  v1::Job& job = record.job;
  // The files may have changed since the submit (a link swapped in): the
  // roots are checked again at every launch, and by the ranks.
  MERIDIAN_RETURN_IF_ERROR(CheckSpecUnderRoots(job.spec(), options_.data_roots, "--data-root"));
  MERIDIAN_RETURN_IF_ERROR(CheckSpecUnderRoots(
      job.spec(), {job.owner_data_roots().begin(), job.owner_data_roots().end()}, "this token's data_roots"));
  MERIDIAN_ASSIGN_OR_RETURN(int64_t pgid, launcher_->Launch(job));
  job.set_launcher_pid(pgid);
  job.set_log_path(launcher_->LogPath(job.id()));
  // A fact from here on: its processes run whatever the store says.
  journal_.Record(record, v1::RUNNING, "launched (attempt " + std::to_string(job.launches()) + ")", nullptr);
  return Status::OK();
}

Result<v1::Job> SchedulerCore::GetJob(const std::string& id) {
  std::lock_guard<TimedMutex> lock(mu_);
  JobRecord* record = jobs_.Find(id);
  if (record == nullptr) return Status::NotFound("job '" + id + "' does not exist");
  return record->job;
}

std::vector<v1::Job> SchedulerCore::ListJobs(const std::vector<v1::JobState>& states) {
  std::lock_guard<TimedMutex> lock(mu_);
  std::vector<v1::Job> out;
  auto wanted = [&](const JobRecord& r) {
    return states.empty() || std::find(states.begin(), states.end(), r.job.state()) != states.end();
  };
  // Only unfinished states asked for: the history is not walked.
  if (!states.empty() && std::none_of(states.begin(), states.end(), Terminal)) {
    for (const JobRecord* r : jobs_.Unfinished())
      if (wanted(*r)) out.push_back(r->job);
    return out;
  }
  for (const JobRecord& r : jobs_)
    if (wanted(r)) out.push_back(r.job);
  return out;
}

std::map<v1::JobState, int> SchedulerCore::CountJobsByState() {
  std::lock_guard<TimedMutex> lock(mu_);
  std::map<v1::JobState, int> out;
  for (const JobRecord& r : jobs_) ++out[r.job.state()];
  return out;
}

Result<v1::Job> SchedulerCore::CancelJob(const std::string& id) {
  std::lock_guard<TimedMutex> lock(mu_);
  JobRecord* record = jobs_.Find(id);
  if (record == nullptr) return Status::NotFound("job '" + id + "' does not exist");
  const v1::Job& job = record->job;
  if (Terminal(job.state())) return Status::FailedPrecondition("job '" + id + "' has already ended");
  if (job.state() == v1::QUEUED || job.state() == v1::RESTARTING) {
    MERIDIAN_RETURN_IF_ERROR(journal_.Commit(*record, job, v1::CANCELLED, "cancelled while waiting to be placed"));
    return record->job;
  }
  record->cancel_requested = true;
  MERIDIAN_RETURN_IF_ERROR(launcher_->Kill(id));  // OnJobExit records CANCELLED
  return record->job;
}

Result<v1::PlanResponse> SchedulerCore::Plan(const v1::JobSpec& spec) {
  MERIDIAN_RETURN_IF_ERROR(ValidateSpec(spec));
  MERIDIAN_ASSIGN_OR_RETURN(JobRequest request, ToJobRequest(spec));
  std::shared_ptr<const Topology> shared, healthy;
  Occupancy occupancy;
  {
    std::lock_guard<TimedMutex> lock(mu_);
    MERIDIAN_RETURN_IF_ERROR(CheckDataCenters(spec));
    shared = nodes_.Shared();
    healthy = nodes_.HealthyNow(options_.now());
    occupancy = nodes_.occupancy();
  }
  const Topology& topology = *shared;
  v1::PlanResponse out;
  Result<Placement> now = Search(*healthy, occupancy, spec, request);
  if (now.ok()) {
    *out.mutable_placement() = PlacementToProto(*now, topology);
    if (spec.dc_worlds()) {
      MarkWorlds(spec.name(), kWanPortBase, out.mutable_placement());
      MarkLinkWindows(topology, out.mutable_placement());
    }
    out.set_fits_now(true);
    return out;
  }
  if (now.status().code() != Status::Code::kUnavailable)
    return Status::InvalidArgument("spec does not fit this cluster: " + now.status().message());
  Result<Placement> empty = Search(topology, Occupancy{}, spec, request);
  if (!empty.ok()) return Status::InvalidArgument("spec does not fit this cluster: " + empty.status().message());
  *out.mutable_placement() = PlacementToProto(*empty, topology);
  if (spec.dc_worlds()) {
    MarkWorlds(spec.name(), kWanPortBase, out.mutable_placement());
    MarkLinkWindows(topology, out.mutable_placement());
  }
  out.set_fits_now(false);
  out.set_message("would queue: " + now.status().message());
  return out;
}

Result<v1::GetAssignmentResponse> SchedulerCore::GetAssignment(const std::string& job_id, int rank) {
  std::lock_guard<TimedMutex> lock(mu_);
  JobRecord* record = jobs_.Find(job_id);
  if (record == nullptr) return Status::NotFound("job '" + job_id + "' does not exist");
  const v1::Job& job = record->job;
  if (job.state() != v1::PLACED && job.state() != v1::RUNNING)
    return Status::FailedPrecondition("job '" + job_id + "' is not placed (state " + v1::JobState_Name(job.state()) + ")");
  if (rank < 0 || rank >= job.placement().ranks_size())
    return Invalid("rank", std::to_string(rank), "outside the job's " + std::to_string(job.placement().ranks_size()) + " ranks");
  v1::GetAssignmentResponse out;
  *out.mutable_assignment() = job.placement().ranks(rank);
  *out.mutable_placement() = job.placement();
  *out.mutable_spec() = job.spec();
  out.set_attempt(job.launches());
  return out;
}

Result<v1::JobState> SchedulerCore::ReportProgress(const std::string& job_id, const v1::Progress& progress) {
  if (progress.step() < 0) return Invalid("progress.step", std::to_string(progress.step()), "must be >= 0");
  std::lock_guard<TimedMutex> lock(mu_);
  JobRecord* record = jobs_.Find(job_id);
  if (record == nullptr) return Status::NotFound("job '" + job_id + "' does not exist");
  if (record->cancel_requested) return v1::CANCELLED;
  const v1::Job& job = record->job;
  if (job.state() != v1::RUNNING) return job.state();
  // A straggler of an attempt that is over must not rewrite the progress.
  if (progress.attempt() != 0 && progress.attempt() != job.launches()) return job.state();
  v1::Progress p = progress;
  if (p.unix_s() == 0) p.set_unix_s(options_.now());
  // Each world's newest, for the operator: which data center trains, which
  // is silent. Only the job's own data centers (a rank's word is not trusted
  // to name new ones).
  const auto& ranks = job.placement().ranks();
  if (!p.world().empty() && job.placement().dc_worlds() &&
      std::any_of(ranks.begin(), ranks.end(), [&](const v1::RankAssignment& r) { return r.data_center() == p.world(); })) {
    auto* worlds = record->job.mutable_worlds();
    auto it = std::find_if(worlds->begin(), worlds->end(), [&](const v1::Progress& w) { return w.world() == p.world(); });
    if (it != worlds->end()) {
      *it = p;
    } else {
      *worlds->Add() = p;
    }
  }
  journal_.Record(*record, v1::RUNNING, "", &p);  // durable at the next flush: one write for many reports
  return record->job.state();
}

Result<std::vector<v1::JobEvent>> SchedulerCore::WaitForEvents(const std::string& job_id, int64_t after,
                                                               double timeout_s, bool* done) {
  std::unique_lock<TimedMutex> lock(mu_);
  *done = false;
  if (jobs_.Find(job_id) == nullptr) return Status::NotFound("job '" + job_id + "' does not exist");
  events_cv_.wait_for(lock, std::chrono::duration<double>(timeout_s), [&] {
    const JobRecord* r = jobs_.Find(job_id);
    return r == nullptr || r->last_sequence > after;
  });
  // Retention may have removed it meanwhile.
  const JobRecord* record = jobs_.Find(job_id);
  if (record == nullptr) return Status::NotFound("job '" + job_id + "' does not exist");
  MERIDIAN_ASSIGN_OR_RETURN(std::vector<v1::JobEvent> events, store_->ListEvents(job_id, after));
  // Then those not written yet (batched progress, or a failing store).
  for (const v1::JobEvent& e : record->unsaved)
    if (e.sequence() > after && (events.empty() || e.sequence() > events.back().sequence())) events.push_back(e);
  const int64_t last_seen = events.empty() ? after : events.back().sequence();
  *done = Terminal(record->job.state()) && last_seen >= record->last_sequence;
  return events;
}

void SchedulerCore::OnJobExit(const std::string& job_id, int exit_code) {
  {
    std::lock_guard<TimedMutex> lock(mu_);
    JobRecord* record = jobs_.Find(job_id);
    if (record == nullptr || Terminal(record->job.state())) return;
    EndAttemptLocked(*record, exit_code, "");
    schedule_wanted_ = true;
  }
  Schedule();
}

void SchedulerCore::EndAttemptLocked(JobRecord& record, int exit_code, const std::string& context) {
  v1::Job& job = record.job;
  const std::string job_id = job.id();
  nodes_.Release(job_id);
  job.set_exit_code(exit_code);
  job.set_launcher_pid(0);
  // Why it ended, when it did not succeed: the daemon stopped it (a node
  // failed or its agent left), a node is gone, or a rank failed.
  std::string why = std::move(record.stopped_because);
  record.stopped_because.clear();
  const bool preempted = record.preempted;
  if (preempted) {
    record.preempted = false;
    --preempting_;
  }
  for (const auto& r : job.placement().ranks()) {
    const Node* n = nodes_.Find(r.node());
    if (why.empty() && (n == nullptr || !n->alive)) why = "node " + r.node() + " is gone";
  }
  if (why.empty()) why = "a rank failed: " + LauncherExitText(exit_code);
  why += context;
  const int max_restarts = job.spec().has_max_restarts() ? job.spec().max_restarts() : kDefaultMaxRestarts;
  if (record.cancel_requested) {
    record.cancel_requested = false;
    journal_.Record(record, v1::CANCELLED, "cancelled", nullptr);
  } else if (exit_code == 0) {
    journal_.Record(record, v1::SUCCEEDED, "finished" + context, nullptr);
  } else if (preempted) {
    // Not a failure: no restart is counted, and it waits its turn again.
    job.clear_placement();
    journal_.Record(record, v1::QUEUED, why + "; requeued, resumes from its newest checkpoint", nullptr);
  } else if (job.restarts() < max_restarts) {
    job.set_restarts(job.restarts() + 1);
    job.clear_placement();
    journal_.Record(record, v1::RESTARTING,
                    why + "; restart " + std::to_string(job.restarts()) + " of " + std::to_string(max_restarts) +
                        ", from the newest checkpoint (meridianctl logs " + job_id + ")",
                    nullptr);
  } else {
    journal_.Record(record, v1::FAILED,
                    why + "; no restart left (max_restarts " + std::to_string(max_restarts) +
                        "; meridianctl logs " + job_id + ")",
                    nullptr);
  }
}

}  // namespace meridian::scheduler
