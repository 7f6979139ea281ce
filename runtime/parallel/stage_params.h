// Moves tensors between a whole-model buffer (llm.c order) and one stage's
// buffer: the bridge that lets a checkpoint written by any layout load into
// any other.
#pragma once

#include "runtime/model/parameter_layout.h"

namespace meridian {

// dst (stage layout) = the stage's part of src (whole-model layout).
void CopyWholeToStage(const ParameterLayout& whole, const float* src, const ParameterLayout& stage, float* dst);

// The stage's part of dst (whole-model layout) = src (stage layout).
void CopyStageToWhole(const ParameterLayout& stage, const float* src, const ParameterLayout& whole, float* dst);

}  // namespace meridian
