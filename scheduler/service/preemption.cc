// SchedulerCore's preemption: a waiting job of higher priority takes the
// GPUs of running jobs of lower priority, which go back to the queue (as
// Slurm's PreemptMode=REQUEUE and Kueue's preemption within a cohort do).
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "common/log.h"
#include "scheduler/service/scheduler_core.h"

namespace meridian::scheduler {

bool SchedulerCore::PreemptForLocked(const Topology& healthy, const JobRecord& waiting) {
  const int priority = waiting.job.spec().priority();
  std::vector<JobRecord*> candidates;
  for (JobRecord& r : jobs_) {
    const v1::JobState s = r.job.state();
    if ((s == v1::RUNNING || s == v1::PLACED) && r.job.spec().priority() < priority && !r.cancel_requested &&
        !r.preempted)
      candidates.push_back(&r);
  }
  if (candidates.empty()) return false;
  // Lowest priority first; of equal ones the newest, which has the least
  // work to lose since it started.
  std::stable_sort(candidates.begin(), candidates.end(), [](const JobRecord* a, const JobRecord* b) {
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
  for (JobRecord* c : candidates) {
    const std::string& id = c->job.id();
    Vacate(occupied, id);
    freed.insert(id);
    placement = Search(healthy, occupied, waiting.job.spec(), *request);
    if (placement.ok()) break;
  }
  if (!placement.ok()) return false;
  // Only the jobs whose GPUs the placement takes are stopped.
  const Occupancy before = nodes_.occupancy();
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
