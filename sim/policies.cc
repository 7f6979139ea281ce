#include "sim/policies.h"

namespace meridian::sim {

const std::vector<NamedPolicy>& Policies() {
  using Policy = scheduler::SchedulerCoreOptions::Policy;
  static const std::vector<NamedPolicy> kPolicies = {
      {"fifo-first-fit", Policy{.backfill = false, .topology_aware = false, .preemption = false}},
      {"backfill-first-fit", Policy{.backfill = true, .topology_aware = false, .preemption = false}},
      {"backfill-topology", Policy{.backfill = true, .topology_aware = true, .preemption = false}},
      {"backfill-topology-preempt", Policy{.backfill = true, .topology_aware = true, .preemption = true}},
  };
  return kPolicies;
}

Result<scheduler::SchedulerCoreOptions::Policy> PolicyNamed(const std::string& name) {
  std::string known;
  for (const NamedPolicy& p : Policies()) {
    if (p.name == name) return p.policy;
    known += (known.empty() ? "" : ", ") + p.name;
  }
  return Status::InvalidArgument("--policy " + name + ": unknown (expected one of " + known + ")");
}

}  // namespace meridian::sim
