#include "kernels/cuda/device_info.h"

#include <cuda_runtime.h>

#include "kernels/cuda/cuda_check.h"

namespace meridian::cuda {

double DenseBf16PeakTflops(const std::string& name) {
  auto has = [&](const char* s) { return name.find(s) != std::string::npos; };
  if (has("H200")) return 989.4;
  if (has("H100") && has("PCIe")) return 756.0;
  if (has("H100")) return 989.4;
  if (has("A100")) return 312.0;
  if (has("L40S")) return 362.05;
  return 0.0;
}

std::vector<DeviceInfo> ListDevices() {
  std::vector<DeviceInfo> out;
  const int count = DeviceCount();
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
    DeviceInfo d;
    d.index = i;
    d.name = prop.name;
    d.memory_gb = prop.totalGlobalMem / 1e9;
    d.dense_bf16_tflops = DenseBf16PeakTflops(d.name);
    out.push_back(d);
  }
  return out;
}

}  // namespace meridian::cuda
