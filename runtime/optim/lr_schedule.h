// Learning rate: linear warmup, then cosine decay to a floor.
#pragma once

namespace meridian {

struct LrSchedule {
  float max_lr = 3e-4f;
  float min_lr = 0.0f;
  long warmup_steps = 0;
  long total_steps = 1;

  // Learning rate of optimizer step `step` (0-based): during warmup
  // max_lr * (step+1)/warmup; then cosine from max_lr at step == warmup to
  // min_lr at the last step.
  float At(long step) const;
};

}  // namespace meridian
