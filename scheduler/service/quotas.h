// Tenants' GPU quotas (--quota-file), as Kueue's cluster queues in one
// cohort: each tenant is guaranteed `gpus` and may borrow up to `borrow`
// more while other tenants leave theirs idle. A job that would take its
// tenant past guarantee + borrow waits; a job inside its tenant's
// guarantee takes back borrowed GPUs by preempting the borrowers' jobs.
//
//   tenants:
//     lab-a: {gpus: 64, borrow: 32}
//     lab-b: {gpus: 32}               # borrows without limit
//     "*": {gpus: 0, borrow: 16}      # every tenant not named
//
// Without a file (or without "*" for a tenant not named) a tenant has no
// guarantee and no limit.
#pragma once

#include <climits>
#include <map>
#include <string>

#include "common/status.h"
#include "meridian/v1/scheduler.pb.h"

namespace meridian::scheduler {

struct TenantQuota {
  int gpus = 0;          // guaranteed
  int borrow = INT_MAX;  // most GPUs over the guarantee
  long long limit() const { return (long long)gpus + borrow; }
};

struct Quotas {
  std::map<std::string, TenantQuota> tenants;
  bool has_default = false;  // "*": the quota of tenants not named
  TenantQuota default_quota;

  bool enabled() const { return !tenants.empty() || has_default; }
  TenantQuota For(const std::string& tenant) const;
};

// InvalidArgument naming the file, the tenant and the field.
Result<Quotas> LoadQuotaFile(const std::string& path);

// The GPUs a job asks for: dp x pp, or an auto layout's gpus.
long long JobGpus(const v1::JobSpec& spec);

}  // namespace meridian::scheduler
