// The human-facing training log: on a terminal, one live line rewritten in
// place (step/total, loss, tokens/s, ETA); elsewhere, a plain log line every
// N steps (and on the first and last).
#pragma once

#include <chrono>

namespace meridian {

class ProgressLine {
 public:
  // A silent line (another rank's) prints nothing.
  ProgressLine(bool terminal, long every, bool enabled = true)
      : terminal_(terminal), every_(every > 0 ? every : 1), enabled_(enabled) {}

  // steps_done_here counts steps run by this process (for the ETA).
  void Update(long step, long total, long steps_done_here, double loss, double grad_norm, float lr, double ms,
              double tokens_per_s, double gflops);

  // Ends the live line so other output starts on a fresh line.
  void Break();

 private:
  bool terminal_;
  long every_;
  bool enabled_;
  bool dirty_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace meridian
