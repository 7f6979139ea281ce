// Pipeline-parallel schedules: the order in which one stage runs the
// forward (F) and backward (B) passes of a step's micro-batches.
//   GPipe: all forwards, then all backwards; every micro-batch in flight.
//   1F1B:  (pp - stage - 1) warm-up forwards, then alternate one forward
//          and one backward, then drain; at most pp - stage in flight, so
//          activation memory no longer grows with the micro-batch count.
// With pp = 1 both reduce to plain gradient accumulation (F0 B0 F1 B1 ...
// for 1F1B).
#pragma once

#include <string>
#include <vector>

#include "common/closed_set.h"
#include "common/status.h"

namespace meridian {

enum class PipelineScheduleKind { k1F1B, kGPipe };
inline constexpr ClosedSet<PipelineScheduleKind, 2> kPipelineSchedules{
    "pp-schedule", {{{PipelineScheduleKind::k1F1B, "1f1b"}, {PipelineScheduleKind::kGPipe, "gpipe"}}}};

struct PipelineAction {
  bool forward;
  int microbatch;
  bool operator==(const PipelineAction&) const = default;
};

std::vector<PipelineAction> BuildPipelineSchedule(PipelineScheduleKind kind, int stage, int pp, int microbatches);

// Activation slots this stage needs: the most micro-batches in flight.
int PipelineSlots(PipelineScheduleKind kind, int stage, int pp, int microbatches);

// The idle share of an ideal pipeline, (p - 1) / (m + p - 1).
double IdealBubbleFraction(int pp, int microbatches);

}  // namespace meridian
