#include "runtime/parallel/pipeline_schedule.h"

#include <algorithm>

namespace meridian {

std::vector<PipelineAction> BuildPipelineSchedule(PipelineScheduleKind kind, int stage, int pp, int m) {
  std::vector<PipelineAction> actions;
  if (kind == PipelineScheduleKind::kGPipe) {
    for (int i = 0; i < m; ++i) actions.push_back({true, i});
    for (int i = 0; i < m; ++i) actions.push_back({false, i});
    return actions;
  }
  const int warmup = std::min(pp - stage - 1, m);
  int next_f = 0, next_b = 0;
  for (; next_f < warmup; ++next_f) actions.push_back({true, next_f});
  while (next_f < m) {
    actions.push_back({true, next_f++});
    actions.push_back({false, next_b++});
  }
  while (next_b < m) actions.push_back({false, next_b++});
  return actions;
}

int PipelineSlots(PipelineScheduleKind kind, int stage, int pp, int m) {
  if (kind == PipelineScheduleKind::kGPipe) return m;
  return std::max(1, std::min(m, pp - stage));
}

double IdealBubbleFraction(int pp, int m) { return (double)(pp - 1) / (double)(m + pp - 1); }

}  // namespace meridian
