#include "scheduler/core/synthetic_cluster.h"

#include <cstdio>

namespace meridian::scheduler {

Topology SyntheticCluster(const SyntheticClusterSpec& spec) {
  Topology topo;
  topo.default_inter_dc_gbps = spec.inter_dc_gbps;
  topo.default_inter_dc_latency_ms = spec.inter_dc_latency_ms;
  char name[64];
  for (int d = 0; d < spec.data_centers; ++d) {
    DataCenter dc;
    std::snprintf(name, sizeof(name), "dc-%03d", d);
    dc.name = name;
    dc.fabric_gbps = spec.fabric_gbps;
    dc.fabric_latency_us = spec.fabric_latency_us;
    for (int n = 0; n < spec.nodes_per_dc; ++n) {
      Node node;
      std::snprintf(name, sizeof(name), "%s-n%03d", dc.name.c_str(), n);
      node.name = name;
      node.data_center = dc.name;
      node.intra_node_gbps = spec.nvlink_gbps;
      for (int g = 0; g < spec.gpus_per_node; ++g)
        node.gpus.push_back(Gpu{g, spec.gpu_model, spec.gpu_memory_gb, spec.gpu_tflops});
      topo.nodes.push_back(std::move(node));
    }
    topo.data_centers.push_back(std::move(dc));
  }
  if (spec.region_size > 1) {
    for (int a = 0; a < spec.data_centers; ++a) {
      for (int b = a + 1; b < spec.data_centers && b / spec.region_size == a / spec.region_size; ++b) {
        topo.links.push_back(InterDcLink{topo.data_centers[a].name, topo.data_centers[b].name, spec.region_gbps,
                                         spec.region_latency_ms});
      }
    }
  }
  return topo;
}

}  // namespace meridian::scheduler
