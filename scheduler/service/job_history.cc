// SchedulerCore's bounds on history: a job's oldest events folded into a
// count, and finished jobs past --retain-jobs / --retain-days forgotten
// (store and memory; the launcher removes their files).
#include <algorithm>

#include "common/log.h"
#include "scheduler/service/scheduler_core.h"

namespace meridian::scheduler {

void SchedulerCore::FoldEventsLocked(JobRecord& record) {
  v1::Job& job = record.job;
  const int64_t cap = options_.max_events_per_job;
  if (cap <= 0 || !record.unsaved.empty()) return;  // unsaved events are written first
  const int64_t last = record.last_sequence;
  // Folded in batches of a tenth of the cap, not at every event.
  if (last - job.events_folded() <= cap + std::max<int64_t>(1, cap / 10)) return;
  v1::Job next = job;
  next.set_events_folded(last - cap);
  if (!store_->FoldEvents(next, next.events_folded()).ok()) return;  // tried again at the next check
  job = std::move(next);
}

std::vector<v1::Job> SchedulerCore::ApplyRetentionLocked(double now) {
  for (JobRecord& record : jobs_) FoldEventsLocked(record);
  std::vector<v1::Job> forgotten;
  if (options_.retain_jobs <= 0 && options_.retain_days <= 0) return forgotten;
  std::vector<const v1::Job*> finished;  // newest first (by when it finished, then by submission)
  for (const JobRecord& record : jobs_)
    if (Terminal(record.job.state())) finished.push_back(&record.job);
  std::reverse(finished.begin(), finished.end());
  std::stable_sort(finished.begin(), finished.end(),
                   [](const v1::Job* a, const v1::Job* b) { return a->finished_unix_s() > b->finished_unix_s(); });
  std::vector<std::string> ids;
  for (size_t i = 0; i < finished.size(); ++i) {
    const bool beyond = options_.retain_jobs > 0 && i >= (size_t)options_.retain_jobs;
    const bool old = options_.retain_days > 0 && now - finished[i]->finished_unix_s() > options_.retain_days * 86400.0;
    if (beyond || old) ids.push_back(finished[i]->id());
  }
  for (const std::string& id : ids) {
    const JobRecord* record = jobs_.Find(id);
    if (record == nullptr || !store_->DeleteJob(id).ok()) continue;  // tried again at the next check
    forgotten.push_back(record->job);
    ForgetJobLocked(id);
  }
  if (!forgotten.empty()) Logger("core")->info("retention: removed {} finished job(s)", forgotten.size());
  return forgotten;
}

void SchedulerCore::ForgetJobLocked(const std::string& id) {
  jobs_.Remove(id);
  journal_.Forget(id);
  events_cv_.notify_all();  // its watchers find it gone
}

}  // namespace meridian::scheduler
