// SchedulerCore's preemption: a waiting job of higher priority takes the
// GPUs of running jobs of lower priority, and with quotas a job inside its
// tenant's guarantee takes back GPUs other tenants borrowed; the stopped
// jobs go back to the queue (as Slurm's PreemptMode=REQUEUE and Kueue's
// preemption within a cluster queue and reclaim within a cohort do).
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/log.h"
#include "scheduler/service/scheduler_core.h"

namespace meridian::scheduler {

std::map<std::string, long long> SchedulerCore::TenantGpusLocked() {
  std::map<std::string, long long> out;
  for (const JobRecord* r : jobs_.Unfinished())
    if (r->job.state() == v1::RUNNING || r->job.state() == v1::PLACED)
      out[r->job.spec().tenant()] += r->job.placement().ranks_size();
  return out;
}

std::vector<JobRecord*> SchedulerCore::StoppableLocked() {
  std::vector<JobRecord*> out;
  for (JobRecord* r : jobs_.Unfinished()) {
    const v1::JobState s = r->job.state();
    if ((s == v1::RUNNING || s == v1::PLACED) && !r->cancel_requested && !r->preempted) out.push_back(r);
  }
  return out;
}

bool SchedulerCore::PreemptForLocked(const TopologyIndex& healthy_index, const JobRecord& waiting,
                                     const std::vector<JobRecord*>& stoppable) {
  const Topology& healthy = IndexedTopology(healthy_index);
  const v1::JobSpec& spec = waiting.job.spec();
  const int priority = spec.priority();
  const Quotas& quotas = options_.quotas;
  std::map<std::string, long long> used;
  if (quotas.enabled()) used = TenantGpusLocked();
  // Inside its tenant's guarantee, a job takes back what others borrowed.
  const bool reclaims = quotas.enabled() && used[spec.tenant()] + JobGpus(spec) <= quotas.For(spec.tenant()).gpus;
  auto borrowing = [&](const std::string& tenant) { return used[tenant] > quotas.For(tenant).gpus; };
  auto reclaimable = [&](const JobRecord& r) {
    return quotas.enabled() && r.job.spec().tenant() != spec.tenant() && borrowing(r.job.spec().tenant());
  };
  std::vector<JobRecord*> candidates;
  for (JobRecord* r : stoppable) {
    const bool lower = r->job.spec().priority() < priority;
    // Of another tenant, with quotas: only a borrower's job.
    const bool allowed = (!quotas.enabled() || r->job.spec().tenant() == spec.tenant())
                             ? lower
                             : reclaimable(*r) && (reclaims || lower);
    if (allowed) candidates.push_back(r);
  }
  if (candidates.empty()) return false;
  // Borrowers' jobs first, then the lowest priority; of equal ones the
  // newest, which has the least work to lose since it started.
  std::stable_sort(candidates.begin(), candidates.end(), [&](const JobRecord* a, const JobRecord* b) {
    const bool ra = reclaimable(*a), rb = reclaimable(*b);
    if (ra != rb) return ra;
    if (a->job.spec().priority() != b->job.spec().priority())
      return a->job.spec().priority() < b->job.spec().priority();
    return a->job.submitted_unix_s() > b->job.submitted_unix_s();
  });
  Result<JobRequest> request = ToJobRequest(waiting.job.spec());
  if (!request.ok()) return false;
  // Free the candidates' GPUs one job at a time until the waiting job fits.
  Occupancy occupied = nodes_.occupancy();
  std::set<std::string> freed;
  Result<Placement> placement = Status::Unavailable("nothing freed yet");
  // No search until enough GPUs are free to hold the job at all: at scale
  // a search costs milliseconds, and this runs under the core's lock.
  long long free = FreeGpuCounts::Empty(healthy).Minus(occupied).In({});
  for (JobRecord* c : candidates) {
    const std::string& id = c->job.id();
    const std::string& owner = c->job.spec().tenant();
    if (quotas.enabled() && owner != spec.tenant()) {
      // Never below its guarantee: stop taking once it borrows no more.
      if (!borrowing(owner)) continue;
      used[owner] -= c->job.placement().ranks_size();
    }
    Vacate(occupied, id);
    freed.insert(id);
    free += c->job.placement().ranks_size();
    if (free < JobGpus(spec)) continue;
    placement = Search(healthy, occupied, waiting.job.spec(), *request, &healthy_index);
    // Only a placement it would take: one too slow would free GPUs it
    // then refuses, and the preemption would repeat.
    if (placement.ok() && !TooSlow(waiting, *placement)) break;
    placement = Status::Unavailable("too slow");
  }
  if (!placement.ok()) return false;
  // Only the jobs whose GPUs the placement takes are stopped.
  const Occupancy& before = nodes_.occupancy();
  std::set<std::string> victims;
  for (const RankPlacement& r : placement->ranks) {
    auto node = before.find(r.node);
    if (node == before.end()) continue;
    auto gpu = node->second.find(r.gpu);
    if (gpu != node->second.end() && freed.count(gpu->second)) victims.insert(gpu->second);
  }
  if (victims.empty()) return false;  // it fits already: the next pass places it
  reserved_for_ = waiting.job.id();
  reserved_.clear();
  for (const RankPlacement& r : placement->ranks) reserved_[r.node][r.gpu] = reserved_for_;
  const std::string why = "preempted by " + waiting.job.id() + " (priority " + std::to_string(priority) + ")";
  for (const std::string& id : victims) {
    JobRecord* victim = jobs_.Find(id);
    victim->preempted = true;
    victim->stopped_because = why;
    ++preempting_;
    Logger("core")->info("{}: {}", id, why);
    (void)launcher_->Kill(id);
  }
  return true;
}

}  // namespace meridian::scheduler
