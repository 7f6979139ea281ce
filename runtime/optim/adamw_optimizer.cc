#include "runtime/optim/adamw_optimizer.h"

#include <algorithm>

#include "kernels/cpu/adamw.h"

namespace meridian {

AdamWOptimizer::AdamWOptimizer(const ParameterLayout& layout, const AdamWConfig& config, size_t begin, size_t end)
    : layout_(layout), config_(config), begin_(begin), end_(std::min(end, layout.total())) {
  m_.assign(end_ - begin_, 0.0f);
  v_.assign(end_ - begin_, 0.0f);
}

void AdamWOptimizer::Step(float* params, const float* grads, float lr, float grad_scale) {
  ++step_;
  cpu::AdamWParams hp;
  hp.lr = lr;
  hp.beta1 = config_.beta1;
  hp.beta2 = config_.beta2;
  hp.eps = config_.eps;
  hp.grad_scale = grad_scale;
  hp.step = step_;
  // Walk the tensors that overlap [begin_, end_); each gets its own decay.
  for (const ParamTensorInfo& t : layout_.tensors()) {
    const size_t lo = std::max(begin_, t.offset), hi = std::min(end_, t.offset + t.count);
    if (lo >= hi) continue;
    hp.weight_decay = t.weight_decay ? config_.weight_decay : 0.0f;
    cpu::AdamWUpdate(params + lo, grads + lo, m_.data() + (lo - begin_), v_.data() + (lo - begin_), hi - lo, hp);
  }
}

}  // namespace meridian
