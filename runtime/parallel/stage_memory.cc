#include "runtime/parallel/stage_memory.h"

#include <algorithm>

namespace meridian {

namespace {

class HostStageMemory : public StageMemory {
 public:
  Result<StageBuffer> Allocate(size_t count) override {
    return StageBuffer(new float[count], [](float* p) { delete[] p; });
  }
  Status Scale(float* data, size_t count, float factor) override {
    for (size_t i = 0; i < count; ++i) data[i] *= factor;
    return Status::OK();
  }
  Status Copy(float* dst, const float* src, size_t count) override {
    std::copy(src, src + count, dst);
    return Status::OK();
  }
  Status ToHost(float* host, const float* src, size_t count) override { return Copy(host, src, count); }
  Status FromHost(float* dst, const float* host, size_t count) override { return Copy(dst, host, count); }
};

}  // namespace

StageMemory* HostMemory() {
  static HostStageMemory memory;
  return &memory;
}

}  // namespace meridian
