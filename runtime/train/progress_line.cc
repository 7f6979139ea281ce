#include "runtime/train/progress_line.h"

#include <cstdio>

namespace meridian {

void ProgressLine::Update(long step, long total, long steps_done_here, double loss, double grad_norm, float lr,
                          double ms, double tokens_per_s, double gflops) {
  if (!enabled_) return;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double eta = steps_done_here > 0 ? elapsed / steps_done_here * (total - step) : 0.0;
  if (terminal_) {
    std::fprintf(stderr, "\r\033[Kstep %ld/%ld | loss %.4f | norm %.3f | lr %.2e | %.1f ms | %.0f tok/s | %.1f GFLOP/s | ETA %.0fs",
                 step, total, loss, grad_norm, lr, ms, tokens_per_s, gflops, eta);
    dirty_ = true;
  } else if (step == 1 || step == total || step % every_ == 0) {
    std::fprintf(stderr, "step %ld/%ld | loss %.4f | norm %.3f | lr %.2e | %.1f ms | %.0f tok/s | %.1f GFLOP/s | ETA %.0fs\n",
                 step, total, loss, grad_norm, lr, ms, tokens_per_s, gflops, eta);
  }
  std::fflush(stderr);
}

void ProgressLine::Break() {
  if (dirty_) std::fputc('\n', stderr);
  dirty_ = false;
}

}  // namespace meridian
