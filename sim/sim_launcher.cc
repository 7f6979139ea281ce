#include "sim/sim_launcher.h"

#include <algorithm>
#include <cmath>

namespace meridian::sim {

double SimLauncher::FullRunSeconds(const v1::Job& job, const TraceJob& trace) {
  if (trace.duration_s > 0) return trace.duration_s;
  const v1::TrainingOptions& t = job.spec().training();
  return trace.tokens / TokensPerStep(job.placement().dp(), t.microbatches(), t.batch(), t.seq()) *
         job.placement().predicted_step_s();
}

void SimLauncher::Bind(const std::string& job_id, const TraceJob* trace) {
  traces_[job_id] = trace;
  auto it = unbound_.find(job_id);
  if (it == unbound_.end()) return;
  Attempt& attempt = running_[job_id];
  attempt.full_s = FullRunSeconds(it->second, *trace);
  attempt.run_s = attempt.full_s * (1.0 - done_fraction_[job_id]);
  unbound_.erase(it);
  ScheduleExit(job_id, attempt);
}

Result<int64_t> SimLauncher::Launch(const v1::Job& job) {
  const std::string& id = job.id();
  Attempt& attempt = running_[id];
  attempt = Attempt{};
  attempt.number = job.launches();
  attempt.gpus = job.placement().ranks_size();
  attempt.started = queue_->now();
  const v1::Placement& placement = job.placement();
  for (const v1::ModePrice& m : placement.modes())
    if (m.chosen() && placement.predicted_step_s() > 0)
      attempt.wan_bytes_per_s = m.wan_bytes_per_step() / placement.predicted_step_s();
  first_start_.emplace(id, queue_->now());
  listener_(id, attempt.gpus, true);
  auto trace = traces_.find(id);
  if (trace == traces_.end()) {
    unbound_[id] = job;  // its submit has not returned yet
  } else {
    attempt.full_s = FullRunSeconds(job, *trace->second);
    attempt.run_s = attempt.full_s * (1.0 - done_fraction_[id]);
    ScheduleExit(id, attempt);
  }
  return (int64_t)(100000 + running_.size());
}

void SimLauncher::ScheduleExit(const std::string& job_id, Attempt& attempt) {
  attempt.scheduled = true;
  const int number = attempt.number;
  queue_->Schedule(attempt.started + attempt.run_s, EventClass::kJobExit,
                   [this, job_id, number] { Exit(job_id, number, 0); });
}

Status SimLauncher::Kill(const std::string& job_id) {
  auto it = running_.find(job_id);
  if (it == running_.end()) return Status::NotFound("job '" + job_id + "' is not running");
  Attempt& a = it->second;
  // The work kept: whole checkpoint intervals of this attempt's run.
  const double ran = queue_->now() - a.started;
  const double kept = checkpoint_interval_s_ > 0 ? std::floor(ran / checkpoint_interval_s_) * checkpoint_interval_s_ : ran;
  if (a.full_s > 0) done_fraction_[job_id] = std::min(1.0, done_fraction_[job_id] + std::min(kept, a.run_s) / a.full_s);
  lost_gpu_s_ += (std::min(ran, a.run_s) - std::min(kept, a.run_s)) * a.gpus;
  const int number = a.number;
  queue_->Schedule(queue_->now(), EventClass::kJobExit, [this, job_id, number] { Exit(job_id, number, 143); });
  return Status::OK();
}

void SimLauncher::Exit(const std::string& job_id, int number, int code) {
  auto it = running_.find(job_id);
  if (it == running_.end() || it->second.number != number) return;  // an earlier end of this attempt won
  const int gpus = it->second.gpus;
  wan_bytes_ += (queue_->now() - it->second.started) * it->second.wan_bytes_per_s;
  running_.erase(it);
  listener_(job_id, gpus, false);
  exit_(job_id, code);
}

scheduler::Orphan SimLauncher::Reattach(const v1::Job& job) {
  (void)job;
  return scheduler::Orphan{};  // a simulation starts on an empty store: nothing to adopt
}

}  // namespace meridian::sim
