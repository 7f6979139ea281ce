// The scheduling policies meridian-sim compares on one trace, each a
// setting of the core's own Policy (no second scheduler):
//
//   fifo-first-fit             strict order, first fit, no preemption
//   backfill-first-fit         backfill (no reservations), first fit
//   backfill-topology          backfill, topology-aware placement
//   backfill-topology-preempt  the daemon's: the above with priority preemption
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "scheduler/service/scheduler_core.h"

namespace meridian::sim {

struct NamedPolicy {
  std::string name;
  scheduler::SchedulerCoreOptions::Policy policy;
};

// In the order above: from the simplest to the daemon's.
const std::vector<NamedPolicy>& Policies();
// InvalidArgument naming the known ones.
Result<scheduler::SchedulerCoreOptions::Policy> PolicyNamed(const std::string& name);

}  // namespace meridian::sim
