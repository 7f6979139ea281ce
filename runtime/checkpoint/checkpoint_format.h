// How a training checkpoint is laid out on disk.
//   sharded: every rank writes its part, in the background (the directory
//            must be shared by all hosts)
//   whole:   rank 0 gathers and writes the whole model
#pragma once

#include "common/closed_set.h"

namespace meridian {

enum class CheckpointFormat { kSharded, kWhole };
inline constexpr ClosedSet<CheckpointFormat, 2> kCheckpointFormats{
    "checkpoint-format", {{{CheckpointFormat::kSharded, "sharded"}, {CheckpointFormat::kWhole, "whole"}}}};

}  // namespace meridian
