// The scheduling pass (SchedulerCore::Schedule): the waiting jobs, taken
// under the core's lock, are searched outside it against a snapshot of the
// nodes and their occupancy, then committed under it again if nothing
// changed meanwhile. Restarting jobs may shrink to fit; the first job that
// finds no room may preempt jobs of lower priority (preemption.cc).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <limits>
#include <optional>

#include "scheduler/placement/baselines.h"
#include "scheduler/service/job_placement.h"
#include "scheduler/service/proto_convert.h"
#include "scheduler/service/quotas.h"
#include "scheduler/service/scheduler_core.h"

namespace meridian::scheduler {

// A waiting job's outcome in a pass.
struct SchedulerCore::Found {
  std::string id;
  v1::JobState state = v1::JOB_STATE_UNSPECIFIED;
  int launches = 0;
  int priority = 0;
  v1::JobSpec spec;  // what runs (a shrink changes it)
  Result<Placement> placement = Status::Unavailable("not searched");
  std::string shrunk;  // the shrink's note, when there was one
  // Not searched: it would take its tenant past its quota; why, in the
  // job's words (empty: not held).
  std::string quota_note;
  bool over_quota() const { return !quota_note.empty(); }
};

// What a pass reads, taken under the lock (its large parts shared, not copied).
struct SchedulerCore::Snapshot {
  std::shared_ptr<const Topology> topology;  // every node
  std::shared_ptr<const Topology> healthy;   // nodes on probation count as dead: where jobs may start now
  std::shared_ptr<const TopologyIndex> healthy_index;  // healthy, indexed for its searches
  std::shared_ptr<const Occupancy> occupancy;
  uint64_t version = 0, capacity_version = 0;
  std::vector<JobRecord> waiting;  // copies of the jobs to search
  // The pass's order (RESTARTING first, then QUEUED, each by priority
  // then submission): an index into `waiting`, or ~k for too_few[k], a
  // queued job needing more GPUs than were free as the pass began, which
  // no search could place: neither copied nor searched.
  std::vector<long> order;
  std::vector<Found> too_few;
  // The lowest priority of the placed and running jobs (for preemption:
  // without quotas only a job above it can stop one).
  int lowest_running = std::numeric_limits<int>::max();
  std::string reserved_for;        // a preemption's GPUs, held for this job (reserved_)
  Occupancy reserved;
  bool victims_gone = false;       // no preemption's victim was still exiting
  std::map<std::string, long long> tenant_gpus;  // with quotas: GPUs each tenant's jobs hold
  // The occupancy's changes since the last pass's marks (all kept: false
  // when the registry dropped some), up to gpu_changes_end.
  std::vector<NodeRegistry::GpuChange> gpu_changes;
  bool gpu_changes_kept = false;
  uint64_t gpu_changes_end = 0;
  const TakenGpus* held = nullptr;  // the occupancy marked on healthy_index
};

namespace {

// The reserved GPUs the occupancy does not hold: a pass takes them apart
// from it, never copying the occupancy.
Occupancy ReservedApart(const Occupancy& reserved, const Occupancy& held) {
  Occupancy out;
  for (const auto& [node, gpus] : reserved) {
    auto n = held.find(node);
    for (const auto& [gpu, holder] : gpus)
      if (n == held.end() || !n->second.count(gpu)) out[node][gpu] = holder;
  }
  return out;
}

}  // namespace

void SchedulerCore::Schedule() {
  std::lock_guard<std::mutex> pass(scheduling_mu_);
  for (;;) {
    Snapshot snapshot;
    {
      std::lock_guard<TimedMutex> lock(mu_);
      if (!schedule_wanted_) return;
      schedule_wanted_ = false;
      snapshot.topology = nodes_.Shared();
      snapshot.healthy = nodes_.HealthyNow(options_.now());
      snapshot.occupancy = nodes_.SharedOccupancy();
      snapshot.version = nodes_.version();
      snapshot.capacity_version = nodes_.capacity_version();
      snapshot.reserved_for = reserved_for_;
      snapshot.reserved = reserved_;
      snapshot.victims_gone = preempting_ == 0;
      if (options_.quotas.enabled()) snapshot.tenant_gpus = TenantGpusLocked();
      // Priority, then first-in first-out, with backfill: every waiting
      // job, the higher priorities first and equal ones in submission
      // order, is placed if it fits now; one that does not fit does not
      // block the jobs behind it. Jobs restarting after a failure go
      // before all. One that failed at this capacity is not tried again
      // (in strict order it still holds back the jobs after it).
      TakeWaitingLocked(snapshot);
    }
    if (snapshot.order.empty()) continue;
    if (!healthy_index_ || &IndexedTopology(*healthy_index_) != snapshot.healthy.get()) {
      healthy_index_ = IndexTopology(snapshot.healthy);
      taken_.reset();
    }
    snapshot.healthy_index = healthy_index_;
    // The held GPUs marked on the index: moved by what changed since the
    // last pass (unless done under the lock), or marked anew after the
    // topology changed.
    if (taken_ && snapshot.gpu_changes_kept) {
      if (taken_changes_end_ != snapshot.gpu_changes_end)
        for (const NodeRegistry::GpuChange& c : snapshot.gpu_changes) taken_->Set(c.node, c.gpu, c.taken);
    } else {
      taken_.emplace(healthy_index_, *snapshot.occupancy);
    }
    taken_changes_end_ = snapshot.gpu_changes_end;
    snapshot.held = &*taken_;
    // The searches, outside the lock; each placement found holds its GPUs
    // for the jobs after it. They read the snapshot's occupancy as it is,
    // and what the pass takes apart from it (`added`: never a GPU the
    // snapshot has), so no pass copies every held GPU.
    const Occupancy& held = *snapshot.occupancy;
    Occupancy added = ReservedApart(snapshot.reserved, held);  // a victim's GPUs while it still holds them
    auto take = [&](const std::string& node, int gpu, const std::string& holder) {
      auto n = held.find(node);
      if (n == held.end() || !n->second.count(gpu)) added[node][gpu] = holder;
    };
    auto free_now = [&] { return FreeGpuCounts::OfDataCenters(healthy_index_->index, taken_->FreePerDc(&added)); };
    FreeGpuCounts free = free_now();
    std::vector<Found> found;
    for (long entry : snapshot.order) {
      if (entry < 0) {
        found.push_back(std::move(snapshot.too_few[~entry]));
        continue;
      }
      const JobRecord& waiting = snapshot.waiting[entry];
      // A job that would take its tenant past guarantee + borrow waits for
      // the tenant's own jobs to end; it holds back no one.
      const std::string& tenant = waiting.job.spec().tenant();
      const long long wants = JobGpus(waiting.job.spec());
      const TenantQuota quota = options_.quotas.For(tenant);
      if (options_.quotas.enabled() && snapshot.tenant_gpus[tenant] + wants > quota.limit()) {
        Found over;
        over.id = waiting.job.id();
        over.state = waiting.job.state();
        over.launches = waiting.job.launches();
        over.priority = waiting.job.spec().priority();
        over.quota_note = "waits for its tenant's quota: " + (tenant.empty() ? std::string("the default tenant") : tenant) +
                          "'s jobs hold " + std::to_string(snapshot.tenant_gpus[tenant]) + " GPUs, and " +
                          std::to_string(wants) + " more would pass its limit of " + std::to_string(quota.limit()) +
                          " (" + std::to_string(quota.gpus) + " guaranteed + " + std::to_string(quota.borrow) +
                          " to borrow)";
        found.push_back(std::move(over));
        continue;
      }
      found.push_back(PlaceWaitingJob(snapshot, added, free, waiting));
      if (const Result<Placement>& p = found.back().placement; p.ok()) {
        snapshot.tenant_gpus[tenant] += (long long)p->ranks.size();
        for (const RankPlacement& r : p->ranks) take(r.node, r.gpu, waiting.job.id());
        // The held GPUs it took were counted as taken already.
        if (waiting.job.id() == snapshot.reserved_for) free = free_now();
        else free.Take(*p);
      }
      // Strict order: the rest wait behind a job that does not fit.
      if (!options_.policy.backfill && !found.back().placement.ok() && !found.back().over_quota()) break;
    }

    // Its readers are done: committing changes the occupancy in place
    // rather than copying it away from this pass.
    snapshot.occupancy.reset();
    std::lock_guard<TimedMutex> lock(mu_);
    if (nodes_.version() != snapshot.version) {
      schedule_wanted_ = true;  // nodes or GPUs changed meanwhile: search again
      continue;
    }
    bool reservation_done = !snapshot.reserved_for.empty() && snapshot.victims_gone;
    for (Found& f : found) {
      if (f.id == snapshot.reserved_for && f.placement.ok()) reservation_done = true;
      JobRecord* record = jobs_.Find(f.id);
      // Cancelled, or otherwise moved on meanwhile: whatever freed up is
      // seen by the next pass.
      if (record == nullptr || record->job.state() != f.state || record->job.launches() != f.launches) {
        schedule_wanted_ = true;
        continue;
      }
      if (!f.placement.ok()) {
        record->tried_at_capacity = snapshot.capacity_version;  // nothing freed since it last failed
        // Held by its quota: said once while it waits, as Slurm's pending
        // reason says it (the numbers in later passes may differ).
        if (f.over_quota() && !record->quota_wait_noted) {
          record->quota_wait_noted = true;
          journal_.Record(*record, record->job.state(), f.quota_note, nullptr);
        }
        continue;
      }
      record->quota_wait_noted = false;
      CommitPlacementLocked(*record, f);
      snapshot.lowest_running = std::min(snapshot.lowest_running, record->job.spec().priority());
    }
    if (reservation_done && reserved_for_ == snapshot.reserved_for) {
      reserved_for_.clear();
      reserved_.clear();
      // Jobs that found no room while the GPUs were held may fit now.
      for (JobRecord* r : jobs_.Unfinished()) r->tried_at_capacity = 0;
      schedule_wanted_ = true;
    }
    // The first job that found no room (in the pass's order: priority,
    // then submission) may take it from jobs of lower priority.
    // Without quotas only a job above the lowest running priority can
    // preempt (the lowest as the snapshot saw it, or of a job placed
    // since: jobs that ended meanwhile only raise it).
    int highest_unplaced = std::numeric_limits<int>::min();
    for (const Found& f : found)
      if (!f.placement.ok()) highest_unplaced = std::max(highest_unplaced, f.priority);
    const bool may_preempt = options_.quotas.enabled() || highest_unplaced > snapshot.lowest_running;
    if (options_.policy.preemption && preempting_ == 0 && may_preempt) {
      std::optional<std::vector<JobRecord*>> stoppable;  // walked once, when a job found no room
      int lowest = std::numeric_limits<int>::max();  // their lowest priority
      for (const Found& f : found) {
        if (f.placement.ok() || f.over_quota()) continue;
        const JobRecord* record = jobs_.Find(f.id);
        if (record == nullptr || record->job.state() != f.state) continue;
        if (!stoppable) {
          stoppable = StoppableLocked();
          for (const JobRecord* r : *stoppable) lowest = std::min(lowest, r->job.spec().priority());
        }
        // Without quotas only a lower priority is stopped: none, when
        // none runs below this job's.
        if (!options_.quotas.enabled() && record->job.spec().priority() <= lowest) continue;
        if (PreemptForLocked(*snapshot.healthy_index, *record, *stoppable)) break;
      }
    }
  }
}

// The waiting jobs a pass tries, in its order, into `snapshot`; moves the
// held-GPU marks to the snapshot's occupancy where it can. Under mu_.
void SchedulerCore::TakeWaitingLocked(Snapshot& snapshot) {
  // One walk over the unfinished jobs: the waiting ones to try, and
  // the lowest priority running.
  std::vector<JobRecord*> restarting, queued;
  for (JobRecord* r : jobs_.Unfinished()) {
    const v1::JobState s = r->job.state();
    if (s == v1::RUNNING || s == v1::PLACED) {
      snapshot.lowest_running = std::min(snapshot.lowest_running, r->job.spec().priority());
    } else if ((s == v1::RESTARTING || s == v1::QUEUED) &&
               (!options_.policy.backfill || r->tried_at_capacity != snapshot.capacity_version)) {
      (s == v1::RESTARTING ? restarting : queued).push_back(r);
    }
  }
  bool marked = false;  // taken_ is up to date with the snapshot's occupancy
  if (!restarting.empty() || !queued.empty()) {
    snapshot.gpu_changes_end = nodes_.gpu_changes_end();
    snapshot.gpu_changes_kept = nodes_.GpuChangesSince(taken_changes_end_, &snapshot.gpu_changes);
    nodes_.ForgetGpuChanges(snapshot.gpu_changes_end);
    // Moving the marks costs what changed since the last pass: done
    // here when the topology they are on still holds, so that the jobs
    // too large for the free GPUs are neither copied nor searched.
    if (taken_ && snapshot.gpu_changes_kept && &IndexedTopology(*healthy_index_) == snapshot.healthy.get()) {
      for (const NodeRegistry::GpuChange& c : snapshot.gpu_changes) taken_->Set(c.node, c.gpu, c.taken);
      taken_changes_end_ = snapshot.gpu_changes_end;
      marked = true;
    }
  }
  // Free GPUs only shrink as a pass places jobs, so a queued job
  // needing more than are free now would fail its check in the pass:
  // it is marked as failed at this capacity here, and kept in the
  // pass only if it might preempt (a priority above the lowest any
  // job may run at after the pass). Not so with quotas (a quota's
  // hold is said first) or in strict order (the first failure stops
  // the pass), nor for a restarting job (it may shrink) or the job
  // GPUs are held for.
  struct Candidate {
    JobRecord* record;
    bool too_few;  // judged here: neither copied nor searched
  };
  std::vector<Candidate> candidates;
  if (marked && options_.policy.backfill && !options_.quotas.enabled()) {
    const Occupancy reserved = ReservedApart(snapshot.reserved, *snapshot.occupancy);
    const FreeGpuCounts free = FreeGpuCounts::OfDataCenters(healthy_index_->index, taken_->FreePerDc(&reserved));
    int lowest_after = snapshot.lowest_running;
    for (const auto* list : {&restarting, &queued})
      for (const JobRecord* r : *list) lowest_after = std::min(lowest_after, r->job.spec().priority());
    for (JobRecord* r : queued) {
      const auto& dcs = r->job.spec().data_centers();
      const long long available =
          dcs.empty() ? free.In({}) : free.In(std::vector<std::string>(dcs.begin(), dcs.end()));
      if (JobGpus(r->job.spec()) <= available || r->job.id() == snapshot.reserved_for) {
        candidates.push_back({r, false});
        continue;
      }
      r->tried_at_capacity = snapshot.capacity_version;
      if (options_.policy.preemption && r->job.spec().priority() > lowest_after) candidates.push_back({r, true});
    }
  } else {
    for (JobRecord* r : queued) candidates.push_back({r, false});
  }
  // Sorted as pointers, copied once in order; in strict order only up
  // to the first job that already failed at this capacity, where the
  // pass stops.
  std::stable_sort(restarting.begin(), restarting.end(), [](const JobRecord* a, const JobRecord* b) {
    return a->job.spec().priority() > b->job.spec().priority();
  });
  std::stable_sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    return a.record->job.spec().priority() > b.record->job.spec().priority();
  });
  std::vector<Candidate> in_order;
  in_order.reserve(restarting.size() + candidates.size());
  for (JobRecord* r : restarting) in_order.push_back({r, false});
  in_order.insert(in_order.end(), candidates.begin(), candidates.end());
  for (const Candidate& c : in_order) {
    const JobRecord* r = c.record;
    if (!options_.policy.backfill && r->tried_at_capacity == snapshot.capacity_version) break;
    if (c.too_few) {
      Found f;
      f.id = r->job.id();
      f.state = r->job.state();
      f.launches = r->job.launches();
      f.priority = r->job.spec().priority();
      f.placement = Status::Unavailable(std::to_string(JobGpus(r->job.spec())) + " GPUs needed, more than are free");
      snapshot.order.push_back(~(long)snapshot.too_few.size());
      snapshot.too_few.push_back(std::move(f));
      continue;
    }
    snapshot.order.push_back((long)snapshot.waiting.size());
    snapshot.waiting.push_back(*r);
  }
}

bool SchedulerCore::TooSlow(const JobRecord& waiting, const Placement& placement) const {
  const double slowdown = options_.policy.max_slowdown;
  return waiting.job.state() == v1::QUEUED && slowdown > 0 && waiting.best_step_s > 0 &&
         placement.predicted_step_s > slowdown * waiting.best_step_s;
}

SchedulerCore::Found SchedulerCore::PlaceWaitingJob(const Snapshot& snapshot, const Occupancy& added,
                                                    const FreeGpuCounts& free, const JobRecord& waiting) const {
  const Occupancy& held = *snapshot.occupancy;
  Found f;
  f.id = waiting.job.id();
  f.state = waiting.job.state();
  f.launches = waiting.job.launches();
  f.priority = waiting.job.spec().priority();
  f.spec = waiting.job.spec();
  Result<JobRequest> request = ToJobRequest(f.spec);
  if (!request.ok()) {
    f.placement = request.status();
    return f;
  }
  const long long needs = JobGpus(f.spec);
  const long long available =
      free.In(std::vector<std::string>(f.spec.data_centers().begin(), f.spec.data_centers().end()));
  if (f.id != snapshot.reserved_for && needs > available) {
    // Too few GPUs free for any search to find room (a job restarting may
    // still shrink to fit).
    f.placement = Status::Unavailable(std::to_string(needs) + " GPUs needed, " + std::to_string(available) + " free");
  } else if (f.id == snapshot.reserved_for) {
    // The GPUs held for it are its own to take.
    Occupancy own = Merged(held, added);
    Vacate(own, f.id);
    f.placement = Search(*snapshot.healthy, own, f.spec, *request, snapshot.healthy_index.get());
  } else {
    f.placement = Search(*snapshot.healthy, held, f.spec, *request, snapshot.healthy_index.get(), &added, snapshot.held);
  }
  if (!f.placement.ok() && f.state == v1::RESTARTING)
    f.placement = Shrink(snapshot, added, &f.spec, *request, &f.shrunk);
  if (f.placement.ok() && TooSlow(waiting, *f.placement)) {
    char why[160];
    std::snprintf(why, sizeof why, "waits for a placement within %g x its best step time (%.3g s; now %.3g s)",
                  options_.policy.max_slowdown, waiting.best_step_s, f.placement->predicted_step_s);
    f.placement = Status::Unavailable(why);
  }
  return f;
}

void SchedulerCore::CommitPlacementLocked(JobRecord& record, Found& f) {
  v1::Job next = record.job;  // what it becomes once placed
  *next.mutable_spec() = f.spec;
  *next.mutable_placement() =
      PlacementToProto(*f.placement, [this](const std::string& name) { return nodes_.Find(name); });
  if (f.spec.dc_worlds()) {
    MarkWorlds(f.id, kWanPortBase, next.mutable_placement());
    MarkLinkWindows(nodes_.topology(), next.mutable_placement());
  }
  next.set_launches(next.launches() + 1);
  char msg[160];
  std::snprintf(msg, sizeof(msg), "placed: dp %d x pp %d, %s sync, predicted %.3f s/step", f.placement->dp,
                f.placement->pp, DpSyncName(f.placement->dp_sync), f.placement->predicted_step_s);
  nodes_.Occupy(f.id, next.placement());
  // Durable before the launch, with the attempt's number: a daemon that
  // restarts knows which attempt may be running.
  if (!journal_.Commit(record, std::move(next), v1::PLACED, f.shrunk + msg).ok()) {
    nodes_.Release(f.id);
    record.tried_at_capacity = nodes_.capacity_version();  // tried again once the store works (FlushLocked)
    return;
  }
  record.tried_at_capacity = 0;
  Status launched = LaunchLocked(record);
  if (!launched.ok()) {
    nodes_.Release(f.id);
    journal_.Record(record, v1::FAILED, "launch failed: " + launched.message(), nullptr);
  }
}

Result<Placement> SchedulerCore::Shrink(const Snapshot& snapshot, const Occupancy& added, v1::JobSpec* spec,
                                        const JobRequest& request, std::string* note) const {
  const v1::Layout& layout = spec->layout();
  if (layout.auto_layout() || layout.dp() <= 1) return Status::Unavailable("cannot shrink");
  // Only when the old size cannot be placed on the healthy cluster even
  // once every other job has ended: otherwise it waits for its GPUs.
  if (Search(*snapshot.topology, Occupancy{}, *spec, request).ok()) return Status::Unavailable("waits for its old size");
  const int old_dp = layout.dp();
  const int old_micro = std::max(1, spec->training().microbatches());
  for (int dp = old_dp - 1; dp >= 1; --dp) {
    if (old_dp % dp != 0) continue;
    // Fewer replicas, more micro-batches each: the same global batch, so
    // the loss curve goes on as it would have.
    v1::JobSpec smaller = *spec;
    smaller.mutable_layout()->set_dp(dp);
    smaller.mutable_training()->set_microbatches(old_micro * (old_dp / dp));
    Result<JobRequest> smaller_request = ToJobRequest(smaller);
    if (!smaller_request.ok()) continue;
    Result<Placement> p =
        Search(*snapshot.healthy, *snapshot.occupancy, smaller, *smaller_request, snapshot.healthy_index.get(), &added,
               snapshot.held);
    if (!p.ok()) continue;
    *note = "shrunk from dp " + std::to_string(old_dp) + " to dp " + std::to_string(dp) + " with " +
            std::to_string(smaller.training().microbatches()) +
            " micro-batches a step (the same global batch): the old size no longer fits; ";
    *spec = std::move(smaller);
    return p;
  }
  return Status::Unavailable("no smaller data-parallel degree fits either");
}

Result<Placement> SchedulerCore::Search(const Topology& topology, const Occupancy& occupied, const v1::JobSpec& spec,
                                        const JobRequest& request, const TopologyIndex* index,
                                        const Occupancy* also, const TakenGpus* held) const {
  const std::vector<std::string> dcs(spec.data_centers().begin(), spec.data_centers().end());
  const auto start = std::chrono::steady_clock::now();
  const bool aware = options_.policy.topology_aware;
  JobPlacer place = aware ? JobPlacer(PlaceJob) : JobPlacer(FirstFitPlacement);
  if (index != nullptr && &IndexedTopology(*index) == &topology) {
    // Placed on `topology` itself (not a part of it, as one launcher's
    // data centers): the index serves.
    if (held != nullptr && &held->topology() != index) held = nullptr;
    place = [index, aware, also, held, &occupied, unindexed = place](const Topology& t, const Occupancy& o,
                                                                     const JobRequest& r) -> Result<Placement> {
      if (&t != &IndexedTopology(*index)) return also == nullptr ? unindexed(t, o, r) : unindexed(t, Merged(o, *also), r);
      if (held != nullptr && &o == &occupied)
        return aware ? PlaceJobIndexed(*held, r, also) : FirstFitPlacementIndexed(*held, r, also);
      return aware ? PlaceJobIndexed(*index, o, r, also) : FirstFitPlacementIndexed(*index, o, r, also);
    };
  } else if (also != nullptr) {
    const Occupancy merged = Merged(occupied, *also);
    return Search(topology, merged, spec, request, index);
  }
  Result<Placement> placement = spec.dc_worlds() ? PlaceAsWorlds(topology, occupied, request, dcs, place)
                                                 : PlaceWithinLaunchers(topology, occupied, request, dcs, place);
  if (options_.on_placement) {
    options_.on_placement(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
                          placement.ok());
  }
  return placement;
}

}  // namespace meridian::scheduler
