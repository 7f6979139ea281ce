// Where a rank's math runs, and in what precision.
#pragma once

#include "common/closed_set.h"

namespace meridian {

enum class Device { kCpu, kCuda };
// cuda: one GPU per rank, NCCL between ranks.
inline constexpr ClosedSet<Device, 2> kDevices{"device", {{{Device::kCpu, "cpu"}, {Device::kCuda, "cuda"}}}};

// bf16 keeps float master weights and optimizer state; cuda only.
enum class DType { kFp32, kBf16 };
inline constexpr ClosedSet<DType, 2> kDTypes{"dtype", {{{DType::kFp32, "fp32"}, {DType::kBf16, "bf16"}}}};

}  // namespace meridian
