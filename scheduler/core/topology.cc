#include "scheduler/core/topology.h"

#include <fstream>
#include <sstream>

namespace meridian::scheduler {

const DataCenter* Topology::FindDataCenter(const std::string& name) const {
  for (const DataCenter& dc : data_centers)
    if (dc.name == name) return &dc;
  return nullptr;
}

const Node* Topology::FindNode(const std::string& name) const {
  for (const Node& n : nodes)
    if (n.name == name) return &n;
  return nullptr;
}

const InterDcLink* Topology::FindLink(const std::string& a, const std::string& b) const {
  for (const InterDcLink& l : links)
    if ((l.a == a && l.b == b) || (l.a == b && l.b == a)) return &l;
  return nullptr;
}

double Topology::LinkGbps(const Node& a, const Node& b) const {
  if (a.name == b.name) return a.intra_node_gbps;
  if (a.data_center == b.data_center) {
    const DataCenter* dc = FindDataCenter(a.data_center);
    return dc != nullptr ? dc->fabric_gbps : DataCenter{}.fabric_gbps;
  }
  const InterDcLink* link = FindLink(a.data_center, b.data_center);
  return link != nullptr ? link->gbps : default_inter_dc_gbps;
}

double Topology::LinkLatencyS(const Node& a, const Node& b) const {
  if (a.name == b.name) return a.intra_node_latency_us * 1e-6;
  if (a.data_center == b.data_center) {
    const DataCenter* dc = FindDataCenter(a.data_center);
    return (dc != nullptr ? dc->fabric_latency_us : DataCenter{}.fabric_latency_us) * 1e-6;
  }
  const InterDcLink* link = FindLink(a.data_center, b.data_center);
  return (link != nullptr ? link->latency_ms : default_inter_dc_latency_ms) * 1e-3;
}

int Topology::TotalGpus(bool alive_only) const {
  int total = 0;
  for (const Node& n : nodes)
    if (n.alive || !alive_only) total += (int)n.gpus.size();
  return total;
}

const char* LauncherKindName(LauncherKind kind) {
  switch (kind) {
    case LauncherKind::kLocal: return "local";
    case LauncherKind::kSsh: return "ssh";
    case LauncherKind::kSlurm: return "slurm";
  }
  return "local";
}

bool ParseLauncherKind(const std::string& text, LauncherKind* kind) {
  for (LauncherKind k : {LauncherKind::kLocal, LauncherKind::kSsh, LauncherKind::kSlurm}) {
    if (text == LauncherKindName(k)) {
      *kind = k;
      return true;
    }
  }
  return false;
}

Topology DefaultCluster(int slots_per_dc) {
  Topology topo;
  topo.open_to_agents = true;  // one machine, reached on loopback
  // The inter-DC link is 100x slower than the fabric so the demo shows the
  // same trade-offs as a real geo-distributed cluster.
  topo.default_inter_dc_gbps = 1.0;
  topo.default_inter_dc_latency_ms = 20.0;
  const char* dcs[2] = {"dc-east", "dc-west"};
  const char* nodes[2] = {"east-0", "west-0"};
  for (int i = 0; i < 2; ++i) {
    DataCenter dc;
    dc.name = dcs[i];
    dc.fabric_gbps = 100.0;
    dc.fabric_latency_us = 10.0;
    topo.data_centers.push_back(dc);
    Node node;
    node.name = nodes[i];
    node.data_center = dcs[i];
    node.host = "localhost";
    node.intra_node_gbps = 100.0;  // CPU slots share memory; no NVLink
    for (int g = 0; g < slots_per_dc; ++g) {
      Gpu gpu;
      gpu.index = g;
      gpu.model = "cpu";
      gpu.memory_gb = 4.0;
      gpu.tflops = 0.1;
      node.gpus.push_back(gpu);
    }
    topo.nodes.push_back(node);
  }
  topo.links.push_back(InterDcLink{"dc-east", "dc-west", 1.0, 20.0});
  return topo;
}

Result<Topology> LoadClusterFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError(path + ": cannot open the cluster file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::IOError(path + ": read error");
  return ParseClusterYaml(text.str(), path);
}

}  // namespace meridian::scheduler
