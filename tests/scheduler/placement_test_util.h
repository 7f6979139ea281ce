// Jobs and clusters the placement tests share.
#pragma once

#include <algorithm>
#include <random>
#include <string>

#include "scheduler/core/topology.h"
#include "scheduler/placement/placement.h"

namespace meridian::scheduler {

// The demo's model (d4 over bytes) with a CPU-sized batch.
inline JobRequest SmallJob(int dp, int pp) {
  JobRequest j;
  j.model = *PresetConfig("d4");
  j.model.vocab_size = 256;
  j.model.padded_vocab_size = 256;
  j.model.max_seq_len = 64;
  j.batch = 4;
  j.seq = 64;
  j.microbatches = 4;
  j.dp = dp;
  j.pp = pp;
  return j;
}

// GPT-2 124M in bf16 with a GPU-sized batch.
inline JobRequest GptJob(int dp, int pp, const std::string& preset = "d12") {
  JobRequest j;
  j.model = *PresetConfig(preset);
  j.batch = 8;
  j.seq = 1024;
  j.microbatches = 8;
  j.bytes_per_activation = 2;
  j.dp = dp;
  j.pp = pp;
  return j;
}

inline JobRequest AutoJob(JobRequest j, int gpus) {
  j.auto_layout = true;
  j.gpus = gpus;
  return j;
}

inline Node MakeNode(const std::string& name, const std::string& dc, int gpus, const std::string& model,
                     double memory_gb, double tflops, double nvlink_gbps = 2400) {
  Node n;
  n.name = name;
  n.data_center = dc;
  n.intra_node_gbps = nvlink_gbps;
  for (int g = 0; g < gpus; ++g) n.gpus.push_back(Gpu{g, model, memory_gb, tflops});
  return n;
}

inline DataCenter MakeDc(const std::string& name, double fabric_gbps = 400) {
  DataCenter dc;
  dc.name = name;
  dc.fabric_gbps = fabric_gbps;
  return dc;
}

// Random clusters for property tests: 1-3 data centers of 1-3 nodes with
// 1-6 GPUs of mixed sizes and speeds, some nodes dead, nodes listed in a
// shuffled order.
inline Topology RandomCluster(std::mt19937& rng) {
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  const double memories[] = {2, 4, 16, 80};
  const double speeds[] = {0.1, 1, 312, 989};
  const double fabrics[] = {10, 100, 400};
  Topology t;
  t.default_inter_dc_gbps = 1 + pick(0, 9);
  t.default_inter_dc_latency_ms = 10 + pick(0, 50);
  const int dcs = pick(1, 3);
  for (int d = 0; d < dcs; ++d) {
    const std::string dc = "dc" + std::to_string(d);
    t.data_centers.push_back(MakeDc(dc, fabrics[pick(0, 2)]));
    const int nodes = pick(1, 3);
    for (int n = 0; n < nodes; ++n) {
      Node node = MakeNode(dc + "-n" + std::to_string(n), dc, pick(1, 6), "g", memories[pick(0, 3)], speeds[pick(0, 3)],
                           100.0 * pick(1, 72));
      node.alive = pick(0, 99) >= 15;
      t.nodes.push_back(node);
    }
    if (d > 0 && pick(0, 1)) t.links.push_back(InterDcLink{"dc0", dc, 1.0 + pick(0, 99), 5.0 + pick(0, 60)});
  }
  std::shuffle(t.nodes.begin(), t.nodes.end(), rng);
  return t;
}

inline Occupancy RandomOccupancy(const Topology& t, std::mt19937& rng, int percent) {
  Occupancy occ;
  for (const Node& n : t.nodes)
    for (const Gpu& g : n.gpus)
      if (std::uniform_int_distribution<int>(0, 99)(rng) < percent) occ[n.name][g.index] = "job-other";
  return occ;
}

}  // namespace meridian::scheduler
