#include "sim/generators.h"

#include <cmath>
#include <cstdlib>
#include <map>
#include <random>
#include <sstream>

namespace meridian::sim {

Result<scheduler::SyntheticClusterSpec> ParseClusterWords(const std::string& words) {
  std::map<std::string, std::string> kv;
  std::stringstream in(words);
  std::string item;
  while (std::getline(in, item, ',')) {
    const size_t eq = item.find('=');
    if (eq == std::string::npos) return Status::InvalidArgument("--generate-cluster: " + item + ": expected key=value");
    kv[item.substr(0, eq)] = item.substr(eq + 1);
  }
  scheduler::SyntheticClusterSpec spec;
  int dcs = 0, gpus = 0;
  for (const auto& [key, value] : kv) {
    char* end = nullptr;
    const double v = std::strtod(value.c_str(), &end);
    const bool number = !value.empty() && *end == '\0' && std::isfinite(v) && v > 0;
    if (key == "model") {
      spec.gpu_model = value;
      continue;
    }
    if (!number) return Status::InvalidArgument("--generate-cluster: " + key + " = " + value + ": must be a number > 0");
    if (key == "dcs") dcs = (int)v;
    else if (key == "gpus") gpus = (int)v;
    else if (key == "gpus_per_node") spec.gpus_per_node = (int)v;
    else if (key == "region") spec.region_size = (int)v;
    else if (key == "memory_gb") spec.gpu_memory_gb = v;
    else if (key == "tflops") spec.gpu_tflops = v;
    else if (key == "wan_gbps") spec.inter_dc_gbps = v;
    else if (key == "wan_ms") spec.inter_dc_latency_ms = v;
    else
      return Status::InvalidArgument("--generate-cluster: " + key +
                                     ": unknown key (expected dcs, gpus, gpus_per_node, region, model, memory_gb, "
                                     "tflops, wan_gbps, wan_ms)");
  }
  if (dcs < 1) return Status::InvalidArgument("--generate-cluster: dcs is required (>= 1)");
  if (gpus < dcs * spec.gpus_per_node)
    return Status::InvalidArgument("--generate-cluster: gpus = " + std::to_string(gpus) + ": fewer than one node (" +
                                   std::to_string(spec.gpus_per_node) + " GPUs) per data center");
  spec.data_centers = dcs;
  spec.nodes_per_dc = gpus / (dcs * spec.gpus_per_node);
  return spec;
}

namespace {

// The tenant furthest behind its share (the first on a tie): with equal
// weights, a round robin.
size_t NextTenant(const JobStreamSpec& spec, std::vector<int>& dealt) {
  size_t best = 0;
  double best_ratio = 0;
  for (size_t k = 0; k < spec.tenants.size(); ++k) {
    const double w = k < spec.tenant_weights.size() ? spec.tenant_weights[k] : 1.0;
    const double ratio = (dealt[k] + 1) / w;
    if (k == 0 || ratio < best_ratio) {
      best = k;
      best_ratio = ratio;
    }
  }
  ++dealt[best];
  return best;
}

}  // namespace

Status ParseTenantWeights(const std::string& words, JobStreamSpec* spec) {
  spec->tenants.clear();
  spec->tenant_weights.clear();
  std::stringstream in(words);
  std::string item;
  while (std::getline(in, item, ',')) {
    const size_t colon = item.find(':');
    const std::string name = item.substr(0, colon);
    double weight = 1;
    if (colon != std::string::npos) {
      char* end = nullptr;
      weight = std::strtod(item.c_str() + colon + 1, &end);
      if (*end != '\0' || !(weight > 0) || !std::isfinite(weight))
        return Status::InvalidArgument("--tenants: " + item + ": the weight must be a number > 0");
    }
    if (name.empty()) return Status::InvalidArgument("--tenants: " + item + ": a tenant needs a name");
    spec->tenants.push_back(name);
    spec->tenant_weights.push_back(weight);
  }
  if (spec->tenants.empty()) return Status::InvalidArgument("--tenants: no tenant given");
  return Status::OK();
}

std::vector<TraceJob> GenerateJobs(const JobStreamSpec& spec) {
  std::mt19937_64 rng(spec.seed);
  std::exponential_distribution<double> gap(1.0 / spec.mean_interarrival_s);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  int sizes = 0;
  while ((2 << sizes) <= spec.max_gpus) ++sizes;  // 1, 2, ..., 2^sizes
  std::vector<TraceJob> jobs;
  std::vector<int> dealt(spec.tenants.size(), 0);
  double t = 0;
  for (int i = 0; i < spec.jobs; ++i) {
    TraceJob job;
    job.line = i + 1;
    job.submit_s = t;
    t += gap(rng);
    job.name = "gen-" + std::to_string(i);
    job.tenant = spec.tenants[NextTenant(spec, dealt)];
    job.model = spec.model;
    // Size 2^k with weight 2^(-k/2): most jobs small, a few large.
    double total = 0;
    for (int k = 0; k <= sizes; ++k) total += std::pow(2.0, -k / 2.0);
    double u = unit(rng) * total;
    int k = 0;
    while (k < sizes && u >= std::pow(2.0, -k / 2.0)) u -= std::pow(2.0, -(k++) / 2.0);
    const int gpus = 1 << k;
    job.pp = gpus >= 8 ? 4 : 1;
    job.dp = gpus / job.pp;
    job.duration_s = spec.min_duration_s * std::pow(spec.max_duration_s / spec.min_duration_s, unit(rng));
    // Drawn only when asked for, so a stream without priorities stays the
    // same for a given seed.
    if (spec.high_priority_share > 0 && unit(rng) < spec.high_priority_share) job.priority = spec.high_priority;
    jobs.push_back(std::move(job));
  }
  return jobs;
}

}  // namespace meridian::sim
