// The work a trace job needs, whatever the policy: its run time on the
// best placement (PlaceJob) of the empty cluster. A job given by duration
// needs its duration; a token budget needs tokens / tokens-per-step steps
// of the predicted step time there. Placed worse, a token budget runs
// longer than this; meridian-sim counts only this much as useful work.
#pragma once

#include <map>
#include <string>

#include "scheduler/core/topology.h"
#include "sim/trace.h"

namespace meridian::sim {

class IdealRun {
 public:
  explicit IdealRun(const scheduler::Topology& cluster) : cluster_(cluster) {}

  // 0 for a job that never fits the cluster.
  double RunSeconds(const TraceJob& job);
  // The empty cluster's best predicted step time over the tokens that
  // step trains, for the job's layout and model (cached: a generated
  // stream has few distinct shapes); 0 when it never fits.
  double SecondsPerToken(const TraceJob& job);

 private:
  const scheduler::Topology& cluster_;
  std::map<std::string, double> seconds_per_token_;  // by shape
};

// Each job's duration becomes the token budget it trains in that time on
// the empty cluster's best placement, so its run time then depends on
// where the policy puts it. Jobs that never fit keep their duration.
void DurationsToTokens(const scheduler::Topology& cluster, std::vector<TraceJob>* jobs);

}  // namespace meridian::sim
