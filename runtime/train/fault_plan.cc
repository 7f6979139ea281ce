#include "runtime/train/fault_plan.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace meridian {

std::optional<Fault> ParseFault(const char* text) {
  Fault f;
  if (text == nullptr || std::sscanf(text, "%d:%ld:%d", &f.rank, &f.step, &f.attempt) < 2) return std::nullopt;
  return f;
}

FaultPlan FaultPlan::FromEnvironment() {
  FaultPlan plan;
  plan.fail = ParseFault(std::getenv("MERIDIAN_FAULT_FAIL"));
  plan.stall = ParseFault(std::getenv("MERIDIAN_FAULT_STALL"));
  return plan;
}

Status FaultPlan::AtStepStart(int rank, long step, int attempt) const {
  if (fail && fail->At(rank, step, attempt))
    return Status::Internal("MERIDIAN_FAULT_FAIL: rank " + std::to_string(rank) + " fails at step " + std::to_string(step));
  if (!stall || !stall->At(rank, step, attempt)) return Status::OK();
  std::fprintf(stderr, "[rank %d] MERIDIAN_FAULT_STALL: stalling at step %ld\n", rank, step);
  if (stall_wait) {
    stall_wait();
    return Status::OK();
  }
  for (;;) sleep(60);
}

}  // namespace meridian
