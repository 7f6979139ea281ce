#include "scheduler/service/node_checks.h"

#include <fnmatch.h>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "scheduler/service/request_checks.h"

namespace meridian::scheduler {

namespace {

std::string Quoted(const std::string& s) { return "\"" + s.substr(0, 40) + "\""; }

Status CheckFigures(const v1::Node& request) {
  if (request.name().empty() || request.name().size() > kMaxNameLength)
    return Invalid("node.name", Quoted(request.name()), "must be 1-256 characters");
  if (request.gpus_size() < 1 || request.gpus_size() > kMaxAgentGpusPerNode)
    return Invalid("node.gpus", std::to_string(request.gpus_size()) + " entries",
                   "must be 1-" + std::to_string(kMaxAgentGpusPerNode));
  for (int i = 0; i < request.gpus_size(); ++i) {
    const v1::Gpu& g = request.gpus(i);
    const std::string field = "node.gpus[" + std::to_string(i) + "]";
    if (!(g.memory_gb() >= 0 && g.memory_gb() <= kMaxGpuMemoryGb))  // NaN fails too
      return Invalid(field + ".memory_gb", std::to_string(g.memory_gb()), "must be in [0, 4096]");
    if (!(g.tflops() >= 0 && g.tflops() <= kMaxGpuTflops))
      return Invalid(field + ".tflops", std::to_string(g.tflops()), "must be in [0, 100000]");
    if (g.model().size() > kMaxNameLength) return Invalid(field + ".model", Quoted(g.model()), "longer than 256");
  }
  const std::string& host = request.host();
  if (host.size() > kMaxNameLength || request.hostname().size() > kMaxNameLength)
    return Invalid("node.host", Quoted(host), "longer than 256 characters");
  if (!host.empty() && host.front() == '-')
    return Invalid("node.host", Quoted(host), "must not start with '-' (it would be read as an option)");
  for (char c : host) {
    if (!std::isalnum((unsigned char)c) && c != '-' && c != '.' && c != '_' && c != ':')
      return Invalid("node.host", Quoted(host), "is not a host name or address");
  }
  return Status::OK();
}

}  // namespace

Status CheckNodeClaim(const v1::Node& request, const Topology& cluster, const std::vector<Node>& file_nodes) {
  MERIDIAN_RETURN_IF_ERROR(CheckFigures(request));
  if (cluster.FindDataCenter(request.data_center()) == nullptr) {
    std::string known;
    for (const DataCenter& d : cluster.data_centers) known += (known.empty() ? "" : ", ") + d.name;
    return Invalid("node.data_center", Quoted(request.data_center()),
                   "unknown data center (this cluster has " + known + ")");
  }
  auto named = std::find_if(file_nodes.begin(), file_nodes.end(), [&](const Node& n) { return n.name == request.name(); });
  if (named != file_nodes.end()) {
    if (named->data_center != request.data_center())
      return Invalid("node.data_center", request.data_center(),
                     "node " + request.name() + " belongs to " + named->data_center + " (cluster file)");
    if ((size_t)request.gpus_size() != named->gpus.size())
      return Invalid("node.gpus", std::to_string(request.gpus_size()) + " entries",
                     "the cluster file gives node " + request.name() + " " + std::to_string(named->gpus.size()));
    const bool host_left_to_agent = named->wait_for_agent && named->host == "localhost";
    if (!host_left_to_agent && request.host() != named->host)
      return Invalid("node.host", Quoted(request.host()),
                     "the cluster file gives node " + request.name() + " host " + named->host);
    return Status::OK();
  }
  if (cluster.open_to_agents) return Status::OK();
  for (const AgentRule& rule : cluster.agent_rules) {
    if (rule.data_center != request.data_center()) continue;
    if (fnmatch(rule.name_pattern.c_str(), request.name().c_str(), 0) != 0) continue;
    if (request.gpus_size() > rule.max_gpus)
      return Invalid("node.gpus", std::to_string(request.gpus_size()) + " entries",
                     "more than the " + std::to_string(rule.max_gpus) + " the cluster file's agents rule \"" +
                         rule.name_pattern + "\" allows");
    return Status::OK();
  }
  return Invalid("node.name", Quoted(request.name()),
                 "the cluster file names no such node and no agents: rule lets one join " + request.data_center());
}

}  // namespace meridian::scheduler
