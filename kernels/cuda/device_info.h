// What the CUDA devices of this machine are, for the scheduler's agent (the
// GPUs a node offers) and the benchmark (the peak an MFU is measured
// against). Plain C++: no CUDA types leak to callers.
#pragma once

#include <string>
#include <vector>

namespace meridian::cuda {

struct DeviceInfo {
  int index = 0;
  std::string name;          // e.g. "NVIDIA H200"
  double memory_gb = 0;      // 1 GB = 1e9 bytes
  double dense_bf16_tflops = 0;  // data-sheet peak, 0 when the card is not known
};

// Every device the runtime sees; empty without a driver or a GPU.
std::vector<DeviceInfo> ListDevices();

// Dense (no sparsity) bf16 tensor-core peak of a card from its name, in
// TFLOP/s (vendors' data sheets; SXM parts unless the name says PCIe);
// 0 for a card not in the table.
double DenseBf16PeakTflops(const std::string& name);

}  // namespace meridian::cuda
