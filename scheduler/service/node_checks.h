// What an agent's RegisterNode may claim. An agent token binds only the
// node's name; everything else it says is checked here against what the
// operator allowed, so a node cannot draw other users' jobs (their tokens
// and data paths) by claiming a data center, GPUs or a host it does not have.
#pragma once

#include <vector>

#include "common/status.h"
#include "meridian/v1/scheduler.pb.h"
#include "scheduler/core/topology.h"

namespace meridian::scheduler {

// Bounds on any node's figures.
inline constexpr double kMaxGpuMemoryGb = 4096.0;   // 4 TB
inline constexpr double kMaxGpuTflops = 100000.0;

// OK when `request` may be registered:
// - its figures are bounded: 1..64 GPUs, memory in [0, 4096] GB and TFLOP/s
//   in [0, 100000] (finite), a host that is an address or a host name and
//   does not start with '-';
// - a node the cluster file names (`file_nodes`) keeps the file's data
//   center, GPU count and host (unless the file left the host to its agent:
//   an `agent: true` node without one);
// - any other node matches an `agents:` rule (name pattern, data center, at
//   most its GPUs), unless the cluster is open to agents.
// InvalidArgument naming the field and the reason otherwise.
Status CheckNodeClaim(const v1::Node& request, const Topology& cluster, const std::vector<Node>& file_nodes);

}  // namespace meridian::scheduler
