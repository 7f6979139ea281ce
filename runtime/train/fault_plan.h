// Faults the failure tests inject into a training run, given to the
// trainer rather than read by it: meridian-train builds the plan from its
// environment, a test or benchmark passes its own (or none).
//
//   MERIDIAN_FAULT_FAIL="RANK:STEP[:ATTEMPT]"   world rank RANK fails at the
//       start of step STEP with an error (the job must end at once, not
//       when the watchdog fires)
//   MERIDIAN_FAULT_STALL="RANK:STEP[:ATTEMPT]"  it hangs there instead (the
//       watchdog must end the job)
// ATTEMPT limits the fault to that launch of a scheduled job, so the
// restarted job gets past the step; without it every launch trips.
#pragma once

#include <functional>
#include <optional>

#include "common/status.h"

namespace meridian {

struct Fault {
  int rank = -1;
  long step = -1;
  int attempt = 0;  // 0: every attempt
  bool At(int r, long s, int a) const { return rank == r && step == s && (attempt == 0 || attempt == a); }
};

// "RANK:STEP[:ATTEMPT]"; nullopt for a missing or malformed text.
std::optional<Fault> ParseFault(const char* text);

struct FaultPlan {
  std::optional<Fault> fail, stall;
  // How a stall waits: for ever by default; tests give a short one.
  std::function<void()> stall_wait;

  static FaultPlan FromEnvironment();

  // At the start of step `step` (from 1) of launch `attempt` on world rank
  // `rank`: OK, or the injected failure; a stall does not return.
  Status AtStepStart(int rank, long step, int attempt) const;
};

}  // namespace meridian
