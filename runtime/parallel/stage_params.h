// Moves tensors between a whole-model buffer (llm.c order) and one stage's
// buffer: the bridge that lets a checkpoint written by any layout load into
// any other.
#pragma once

#include <vector>

#include "runtime/model/parameter_layout.h"

namespace meridian {

// A contiguous run of a stage buffer and where it lies in the whole model.
struct StageRun {
  size_t whole_offset = 0, stage_offset = 0, count = 0;
};

// The runs that make up stage-buffer range [begin, end), in stage order
// (a sharded checkpoint stores and finds a rank's part by these).
std::vector<StageRun> StageRunsIn(const ParameterLayout& whole, const ParameterLayout& stage, size_t begin,
                                  size_t end);

// dst (stage layout) = the stage's part of src (whole-model layout).
void CopyWholeToStage(const ParameterLayout& whole, const float* src, const ParameterLayout& stage, float* dst);

// The stage's part of dst (whole-model layout) = src (stage layout).
void CopyStageToWhole(const ParameterLayout& stage, const float* src, const ParameterLayout& whole, float* dst);

}  // namespace meridian
