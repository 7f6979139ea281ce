#include "runtime/optim/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace meridian {

float LrSchedule::At(long step) const {
  if (step < warmup_steps) return max_lr * (float)(step + 1) / (float)warmup_steps;
  const long decay_steps = total_steps - 1 - warmup_steps;
  if (decay_steps <= 0) return max_lr;
  const double progress = std::clamp((double)(step - warmup_steps) / (double)decay_steps, 0.0, 1.0);
  const double cosine = 0.5 * (1.0 + std::cos(3.14159265358979323846 * progress));
  return (float)(min_lr + (max_lr - min_lr) * cosine);
}

}  // namespace meridian
