#include "runtime/parallel/stage_params.h"

#include <algorithm>

namespace meridian {

namespace {

// Calls f(whole_offset, stage_offset, count) for every run the stage holds.
template <typename F>
void ForEachRun(const ParameterLayout& whole, const ParameterLayout& stage, F f) {
  const StageSpec& s = stage.stage();
  for (int i = 0; i < kNumParamTensors; ++i) {
    const ParamTensorInfo& t = stage.tensor(i);
    if (t.count == 0) continue;
    const size_t per_layer = stage.LayerCount(i);
    if (per_layer == 0) {
      f(whole.tensor(i).offset, t.offset, t.count);
    } else {
      f(whole.LayerOffset(i, s.layer_begin), t.offset, per_layer * s.num_layers());
    }
  }
}

}  // namespace

std::vector<StageRun> StageRunsIn(const ParameterLayout& whole, const ParameterLayout& stage, size_t begin,
                                  size_t end) {
  std::vector<StageRun> out;
  ForEachRun(whole, stage, [&](size_t w, size_t s, size_t n) {
    const size_t b = std::max(begin, s), e = std::min(end, s + n);
    if (b < e) out.push_back(StageRun{w + (b - s), b, e - b});
  });
  return out;
}

void CopyWholeToStage(const ParameterLayout& whole, const float* src, const ParameterLayout& stage, float* dst) {
  ForEachRun(whole, stage, [&](size_t w, size_t s, size_t n) { std::copy(src + w, src + w + n, dst + s); });
}

void CopyStageToWhole(const ParameterLayout& stage, const float* src, const ParameterLayout& whole, float* dst) {
  ForEachRun(whole, stage, [&](size_t w, size_t s, size_t n) { std::copy(src + s, src + s + n, dst + w); });
}

}  // namespace meridian
