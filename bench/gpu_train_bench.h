// `meridian-bench train --device cuda`: full training steps (forward,
// backward, global grad norm, AdamW) of one GPU, with the MFU against the
// card's dense bf16 peak and against a cuBLASLt GEMM that the same run
// measures at the model's largest matmul shape.
#pragma once

#include <string>

#include "common/device.h"

namespace meridian::bench {

struct GpuTrainBenchOptions {
  std::string model = "d12";
  int n_layer = 0, n_head = 0, n_embd = 0;
  int vocab = 50257;
  int batch = 16, seq = 1024;
  int steps = 20, warmup_steps = 3;
  DType dtype = DType::kBf16;
  double peak_tflops = 0;  // 0: from the card's name
  bool json = false;
};

// Returns the process exit code: non-zero when the run fails or the loss
// check in the same run is wrong.
int RunGpuTrainBenchmark(const GpuTrainBenchOptions& options);

}  // namespace meridian::bench
