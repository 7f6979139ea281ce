// Made-up clusters of any size, for benchmarks, tests and dry runs: many
// data centers of identical nodes, grouped into regions whose data centers
// are linked faster than data centers of different regions.
#pragma once

#include <string>

#include "scheduler/core/topology.h"

namespace meridian::scheduler {

struct SyntheticClusterSpec {
  int data_centers = 2;
  int nodes_per_dc = 1;
  int gpus_per_node = 8;
  std::string gpu_model = "H200";
  double gpu_memory_gb = 141.0;
  double gpu_tflops = 989.0;       // dense BF16 peak
  double nvlink_gbps = 7200.0;     // 900 GB/s
  double fabric_gbps = 400.0;      // one 400G NIC per GPU, as seen by one flow
  double fabric_latency_us = 10.0;
  double inter_dc_gbps = 10.0;     // between regions (the default link)
  double inter_dc_latency_ms = 60.0;
  int region_size = 0;             // data centers per region; 0: no regions
  double region_gbps = 100.0;      // listed links inside a region
  double region_latency_ms = 5.0;
};

// Data centers "dc-000", ...; nodes "dc-000-n000", ... (zero-padded, so name
// order is creation order).
Topology SyntheticCluster(const SyntheticClusterSpec& spec);

}  // namespace meridian::scheduler
