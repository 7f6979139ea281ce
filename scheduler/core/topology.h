// The GPU pools the scheduler knows: data centers, their nodes and GPUs,
// and the links inside nodes, inside data centers and between them. Plain
// data: the placement engine and the store use it without gRPC.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/link_schedule.h"

namespace meridian::scheduler {

struct Gpu {
  int index = 0;             // device index on its node
  std::string model = "cpu";  // "H200", "A100", or "cpu" for a CPU slot
  double memory_gb = 16.0;
  double tflops = 1.0;        // dense peak used by the cost model
};

// How a data center starts a job's ranks (scheduler/launcher).
enum class LauncherKind { kLocal, kSsh, kSlurm };
const char* LauncherKindName(LauncherKind kind);
// "local", "ssh" or "slurm"; false for anything else.
bool ParseLauncherKind(const std::string& text, LauncherKind* kind);

struct Node {
  std::string name;           // unique
  std::string data_center;
  std::string host = "localhost";  // where mpirun starts its ranks (an address or a name ranks can check)
  std::string hostname;            // the agent's host name, when an agent registered the node
  std::vector<Gpu> gpus;
  double intra_node_gbps = 900.0;  // GPU-GPU inside the node (NVLink), Gbit/s
  double intra_node_latency_us = 2.0;
  bool alive = true;
  double last_heartbeat_s = 0.0;   // seconds since the epoch; 0 for nodes from the cluster file
  bool from_agent = false;         // registered by an agent: alive while it heartbeats
  bool wait_for_agent = false;     // cluster file `agent: true`: dead until its agent registers
  // A node that stopped heartbeating and came back is given no new job
  // until it has stayed alive for a while (the daemon's --node-probation).
  bool failed = false;             // declared dead for missed heartbeats, not back yet
  double probation_until_s = 0.0;  // back after a failure: no placements before this time
};

struct DataCenter {
  std::string name;
  double fabric_gbps = 400.0;      // node-to-node inside the data center, Gbit/s
  double fabric_latency_us = 10.0;
  LauncherKind launcher = LauncherKind::kLocal;
  std::string slurm_conf;       // SLURM_CONF for this data center's Slurm clients; empty: the default
  std::string slurm_partition;  // sbatch --partition; empty: Slurm's default
};

// How the daemon starts mpirun worlds that cross hosts (cluster file
// `launch:`): one mpirun world spans every host of a job, so these are the
// cluster's, not a data center's.
struct LaunchOptions {
  std::string ssh_config;        // ssh -F FILE for Open MPI's SSH launcher
  std::string network;           // CIDR the ranks' TCP traffic is pinned to (oob and btl)
  int port_min = 0, port_count = 0;  // TCP port range for MPI (firewalls); 0: any
  std::map<std::string, std::string> mca;  // extra --mca KEY VALUE
  std::vector<std::string> env;  // NAME or NAME=VALUE passed to ranks with -x
  std::string job_root;          // where job directories go (shared storage); empty: the state dir
};

struct InterDcLink {
  std::string a, b;                // data center names (unordered)
  double gbps = 10.0;              // Gbit/s while up
  double latency_ms = 20.0;
  LinkSchedule schedule;           // when it is up (default: always)
};

// The most GPUs an agent may claim for one node.
inline constexpr int kMaxAgentGpusPerNode = 64;

// What an agent may register for a node the cluster file does not name
// (cluster file `agents:`): a node whose name matches the pattern, in that
// data center, with at most that many GPUs.
struct AgentRule {
  std::string name_pattern;  // fnmatch(3): "gpu-*", "rack[0-9]-*"
  std::string data_center;
  int max_gpus = 8;
};

struct Topology {
  std::vector<DataCenter> data_centers;
  std::vector<Node> nodes;
  std::vector<InterDcLink> links;
  LaunchOptions launch;
  std::vector<AgentRule> agent_rules;
  // Whether an agent may register a node that neither the file nor a rule
  // names: only the built-in one-machine cluster, which trusts loopback.
  bool open_to_agents = false;
  double default_inter_dc_gbps = 1.0;  // for pairs without a listed link
  double default_inter_dc_latency_ms = 50.0;

  const DataCenter* FindDataCenter(const std::string& name) const;
  const Node* FindNode(const std::string& name) const;
  // The listed link between two data centers (either order), or nullptr
  // when the pair uses the defaults.
  const InterDcLink* FindLink(const std::string& a, const std::string& b) const;
  // Bandwidth (Gbit/s) and latency (s) between two GPUs' nodes: inside a
  // node, inside a data center, or across data centers.
  double LinkGbps(const Node& a, const Node& b) const;
  double LinkLatencyS(const Node& a, const Node& b) const;
  int TotalGpus(bool alive_only = true) const;
};

// Cluster file (YAML), see docs/scheduler.md ("Cluster file"):
//   data_centers:
//     - name: east
//       fabric_gbps: 400
//       nodes:
//         - {name: east-0, host: localhost, gpus: 8, gpu_model: H200, gpu_memory_gb: 141, gpu_tflops: 989, nvlink_gbps: 7200}
//   links:
//     - {a: east, b: west, gbps: 10, latency_ms: 30}
//   agents:
//     - {name: "east-*", data_center: east, max_gpus: 8}
Result<Topology> ParseClusterYaml(const std::string& text, const std::string& source_name);
Result<Topology> LoadClusterFile(const std::string& path);

// The embedded default: two data centers on this machine ("dc-east",
// "dc-west"), one node each with `slots_per_dc` CPU slots, a 100x slower
// link between them.
Topology DefaultCluster(int slots_per_dc);

}  // namespace meridian::scheduler
