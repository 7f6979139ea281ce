#include "runtime/parallel/gradient_buckets.h"

#include <algorithm>
#include <chrono>

namespace meridian {

GradientBuckets::GradientBuckets(Communicator* dp, const ParameterLayout& layout, size_t bucket_bytes, bool overlap)
    : dp_(dp), overlap_(overlap), num_layers_(layout.stage().num_layers()) {
  // Readiness order: the backward pass finishes the last layer first, then
  // earlier ones, then (event num_layers) the embeddings and final norm.
  std::vector<std::pair<int, BufferRange>> ordered;
  for (int l = num_layers_ - 1; l >= 0; --l) {
    const int event = num_layers_ - 1 - l;
    for (int i = 0; i < kNumParamTensors; ++i) {
      if (layout.LayerCount(i) == 0 || layout.tensor(i).count == 0) continue;
      ordered.push_back({event, BufferRange{layout.LayerOffset(i, l), layout.LayerCount(i)}});
    }
  }
  for (int i = 0; i < kNumParamTensors; ++i) {
    if (layout.LayerCount(i) != 0 || layout.tensor(i).count == 0) continue;
    ordered.push_back({num_layers_, BufferRange{layout.tensor(i).offset, layout.tensor(i).count}});
  }
  const size_t cap = std::max<size_t>(1, bucket_bytes / sizeof(float));
  size_t filled = 0;
  for (const auto& [event, seg] : ordered) {
    if (buckets_.empty() || filled + seg.count > cap) {
      if (buckets_.empty() || filled > 0) {
        buckets_.emplace_back();
        filled = 0;
      }
    }
    buckets_.back().ranges.push_back(seg);
    buckets_.back().count += seg.count;
    buckets_.back().ready_event = event;
    filled += seg.count;
  }
}

void GradientBuckets::Launch(float* grads, Bucket& b) {
  if (b.request || !error_.ok()) return;
  auto req = dp_->IAllReduceRanges(grads, b.ranges, ReduceOp::kAvg);
  if (!req.ok()) {
    error_ = req.status();
    return;
  }
  b.request = std::move(req).value();
}

void GradientBuckets::OnGradientsReady(float* grads, int layer) {
  if (!overlap_ || dp_->size() == 1) return;
  const int event = layer < 0 ? num_layers_ : num_layers_ - 1 - layer;
  for (Bucket& b : buckets_) {
    if (b.ready_event == event) Launch(grads, b);
    else if (b.request) b.request->Test();  // drive progress of earlier buckets
  }
}

Status GradientBuckets::Finish(float* grads) {
  exposed_wait_s_ = 0.0;
  if (dp_->size() == 1) return Status::OK();
  const auto t0 = std::chrono::steady_clock::now();
  for (Bucket& b : buckets_) Launch(grads, b);
  MERIDIAN_RETURN_IF_ERROR(error_);
  for (Bucket& b : buckets_) {
    MERIDIAN_RETURN_IF_ERROR(b.request->Wait());
    b.request.reset();
  }
  exposed_wait_s_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return Status::OK();
}

size_t GradientBuckets::bytes_per_step() const {
  size_t n = 0;
  for (const Bucket& b : buckets_) n += b.count;
  return n * sizeof(float);
}

}  // namespace meridian
