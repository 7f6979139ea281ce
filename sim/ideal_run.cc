#include "sim/ideal_run.h"

#include "scheduler/placement/placement.h"
#include "scheduler/service/scheduler_core.h"
#include "sim/simulation.h"

namespace meridian::sim {

double IdealRun::SecondsPerToken(const TraceJob& job) {
  const std::string shape = job.model + "/" + std::to_string(job.dp) + "x" + std::to_string(job.pp) + "/" +
                            std::to_string(job.gpus) + "/" + std::to_string(job.batch) + "/" +
                            std::to_string(job.seq) + "/" + std::to_string(job.microbatches);
  auto it = seconds_per_token_.find(shape);
  if (it != seconds_per_token_.end()) return it->second;
  double per_token = 0;
  Result<scheduler::JobRequest> request = scheduler::SchedulerCore::ToJobRequest(SpecFor(job));
  if (request.ok()) {
    Result<scheduler::Placement> p = scheduler::PlaceJob(cluster_, scheduler::Occupancy{}, *request);
    // Tokens per step as SimLauncher counts them: the placed dp's.
    if (p.ok()) per_token = p->predicted_step_s / TokensPerStep(p->dp, job.microbatches, job.batch, job.seq);
  }
  seconds_per_token_.emplace(shape, per_token);
  return per_token;
}

double IdealRun::RunSeconds(const TraceJob& job) {
  return job.duration_s > 0 ? job.duration_s : job.tokens * SecondsPerToken(job);
}

void DurationsToTokens(const scheduler::Topology& cluster, std::vector<TraceJob>* jobs) {
  IdealRun ideal(cluster);
  for (TraceJob& job : *jobs) {
    const double per_token = job.duration_s > 0 ? ideal.SecondsPerToken(job) : 0;
    if (per_token <= 0) continue;
    job.tokens = job.duration_s / per_token;
    job.duration_s = 0;
  }
}

}  // namespace meridian::sim
