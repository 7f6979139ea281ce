// AdamW over a model's flat parameter buffer: decay on matrices and
// embeddings, none on biases and LayerNorm parameters (per the layout).
#pragma once

#include <cstddef>
#include <vector>

#include "runtime/model/parameter_layout.h"

namespace meridian {

struct AdamWConfig {
  float beta1 = 0.9f;
  float beta2 = 0.95f;
  float eps = 1e-8f;
  float weight_decay = 0.1f;
};

class AdamWOptimizer {
 public:
  // Holds moments for parameters [begin, end) of the layout's buffer (the
  // whole buffer by default; a shard of it under ZeRO-1).
  AdamWOptimizer(const ParameterLayout& layout, const AdamWConfig& config, size_t begin = 0, size_t end = ~size_t{0});

  // One update of params[begin, end) from grads[begin, end) (both indexed
  // like the whole buffer). grad_scale multiplies every gradient first
  // (global-norm clipping). Advances the step count t by one.
  void Step(float* params, const float* grads, float lr, float grad_scale);

  long step() const { return step_; }
  void set_step(long step) { step_ = step; }
  std::vector<float>& m() { return m_; }
  std::vector<float>& v() { return v_; }
  const std::vector<float>& m() const { return m_; }
  const std::vector<float>& v() const { return v_; }
  size_t begin() const { return begin_; }
  size_t end() const { return end_; }
  size_t state_bytes() const { return (m_.size() + v_.size()) * sizeof(float); }

 private:
  const ParameterLayout& layout_;
  AdamWConfig config_;
  size_t begin_, end_;
  std::vector<float> m_, v_;
  long step_ = 0;
};

}  // namespace meridian
