// ParseClusterYaml: the cluster file, validated field by field. Every error
// names the file, the field's path and its value, e.g.
// "cluster.yaml: data_centers[1].nodes[0].gpus = -2: must be >= 1".
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <set>
#include <sstream>

#include "scheduler/core/topology.h"

namespace meridian::scheduler {

namespace {

// Reads the fields of one YAML map; knows where it is in the file so its
// errors can say so.
class Fields {
 public:
  Fields(const YAML::Node& node, std::string source, std::string path)
      : node_(node), source_(std::move(source)), path_(std::move(path)) {}

  const std::string& path() const { return path_; }
  std::string Where(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

  Status Error(const std::string& key, const std::string& value, const std::string& why) const {
    return Status::InvalidArgument(source_ + ": " + Where(key) + " = " + value + ": " + why);
  }
  Status Missing(const std::string& key, const std::string& why) const {
    return Status::InvalidArgument(source_ + ": " + Where(key) + ": missing (" + why + ")");
  }

  // Unknown keys are errors: a misspelt field would otherwise silently fall
  // back to its default.
  Status CheckKeys(std::initializer_list<const char*> known) const {
    if (!node_.IsMap()) {
      return Status::InvalidArgument(source_ + ": " + (path_.empty() ? std::string("the top level") : path_) +
                                     ": must be a map of field: value");
    }
    for (const auto& kv : node_) {
      const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "<non-scalar key>";
      bool found = false;
      std::string expected;
      for (const char* k : known) {
        found = found || key == k;
        expected += expected.empty() ? k : std::string(", ") + k;
      }
      if (!found) return Status::InvalidArgument(source_ + ": " + Where(key) + ": unknown field (expected " + expected + ")");
    }
    return Status::OK();
  }

  bool Has(const std::string& key) const { return node_[key].IsDefined() && !node_[key].IsNull(); }
  YAML::Node Get(const std::string& key) const { return node_[key]; }

  static std::string Show(const YAML::Node& v) {
    if (v.IsScalar()) return v.Scalar();
    if (v.IsSequence()) return "<list>";
    if (v.IsMap()) return "<map>";
    return "<null>";
  }

  Status Name(const std::string& key, std::string* out) const {
    if (!Has(key)) return Missing(key, "every entry needs a name");
    return Text(key, out, /*name=*/true);
  }

  Status Text(const std::string& key, std::string* out, bool name = false) const {
    if (!Has(key)) return Status::OK();
    const YAML::Node v = node_[key];
    if (!v.IsScalar()) return Error(key, Show(v), "must be a string");
    const std::string s = v.Scalar();
    if (s.empty()) return Error(key, "\"\"", "must not be empty");
    // Names and hosts end up in host files and command lines.
    for (char c : s) {
      const bool ok = std::isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.' || (!name && c == ':');
      if (!ok) return Error(key, "\"" + s + "\"", name ? "must be letters, digits, '-', '_' or '.'" : "is not a host name");
    }
    *out = s;
    return Status::OK();
  }

  // An absolute path (it is handed to programs on other hosts and to the
  // daemon whatever its working directory).
  Status Path(const std::string& key, std::string* out) const {
    if (!Has(key)) return Status::OK();
    const YAML::Node v = node_[key];
    if (!v.IsScalar()) return Error(key, Show(v), "must be a path");
    const std::string s = v.Scalar();
    if (s.empty() || s[0] != '/') return Error(key, "\"" + s + "\"", "must be an absolute path");
    for (char c : s)
      if (c == '\n' || c == '\0' || c == ',') return Error(key, "\"" + s + "\"", "contains a newline or comma");
    *out = s;
    return Status::OK();
  }

  Status Bool(const std::string& key, bool* out) const {
    if (!Has(key)) return Status::OK();
    const YAML::Node v = node_[key];
    if (!v.IsScalar() || !YAML::convert<bool>::decode(v, *out)) return Error(key, Show(v), "must be true or false");
    return Status::OK();
  }

  // A number with min <= value (or min < value when `strict`).
  Status Number(const std::string& key, double* out, double min, bool strict) const {
    if (!Has(key)) return Status::OK();
    const YAML::Node v = node_[key];
    double x = 0;
    if (!v.IsScalar() || !YAML::convert<double>::decode(v, x) || !std::isfinite(x))
      return Error(key, Show(v), "must be a number");
    if (strict ? !(x > min) : !(x >= min)) {
      std::ostringstream why;
      why << "must be " << (strict ? "> " : ">= ") << min;
      return Error(key, v.Scalar(), why.str());
    }
    *out = x;
    return Status::OK();
  }

  Status Integer(const std::string& key, int* out, int min, int max) const {
    if (!Has(key)) return Status::OK();
    const YAML::Node v = node_[key];
    long long x = 0;
    if (!v.IsScalar() || !YAML::convert<long long>::decode(v, x)) return Error(key, Show(v), "must be an integer");
    if (x < min) return Error(key, v.Scalar(), "must be >= " + std::to_string(min));
    if (x > max) return Error(key, v.Scalar(), "must be <= " + std::to_string(max));
    *out = (int)x;
    return Status::OK();
  }

 private:
  YAML::Node node_;
  std::string source_;
  std::string path_;
};

constexpr int kMaxGpusPerNode = 1024;

Status ParseNode(const Fields& f, const std::string& dc, Node* node) {
  MERIDIAN_RETURN_IF_ERROR(f.CheckKeys({"name", "host", "gpus", "gpu_model", "gpu_memory_gb", "gpu_tflops",
                                        "nvlink_gbps", "nvlink_latency_us", "agent"}));
  node->data_center = dc;
  MERIDIAN_RETURN_IF_ERROR(f.Name("name", &node->name));
  MERIDIAN_RETURN_IF_ERROR(f.Text("host", &node->host));
  if (!f.Has("gpus")) return f.Missing("gpus", "how many GPUs (or CPU slots) the node has");
  int count = 0;
  MERIDIAN_RETURN_IF_ERROR(f.Integer("gpus", &count, 1, kMaxGpusPerNode));
  Gpu gpu;
  MERIDIAN_RETURN_IF_ERROR(f.Text("gpu_model", &gpu.model));
  MERIDIAN_RETURN_IF_ERROR(f.Number("gpu_memory_gb", &gpu.memory_gb, 0.0, true));
  MERIDIAN_RETURN_IF_ERROR(f.Number("gpu_tflops", &gpu.tflops, 0.0, true));
  MERIDIAN_RETURN_IF_ERROR(f.Number("nvlink_gbps", &node->intra_node_gbps, 0.0, true));
  MERIDIAN_RETURN_IF_ERROR(f.Number("nvlink_latency_us", &node->intra_node_latency_us, 0.0, false));
  // `agent: true`: the node exists only while its agent is there.
  MERIDIAN_RETURN_IF_ERROR(f.Bool("agent", &node->wait_for_agent));
  node->alive = !node->wait_for_agent;
  for (int i = 0; i < count; ++i) {
    gpu.index = i;
    node->gpus.push_back(gpu);
  }
  return Status::OK();
}

Status ParseDataCenter(const Fields& f, const std::string& source, Topology* topo) {
  MERIDIAN_RETURN_IF_ERROR(
      f.CheckKeys({"name", "fabric_gbps", "fabric_latency_us", "nodes", "launcher", "slurm"}));
  DataCenter dc;
  MERIDIAN_RETURN_IF_ERROR(f.Name("name", &dc.name));
  MERIDIAN_RETURN_IF_ERROR(f.Number("fabric_gbps", &dc.fabric_gbps, 0.0, true));
  MERIDIAN_RETURN_IF_ERROR(f.Number("fabric_latency_us", &dc.fabric_latency_us, 0.0, false));
  if (f.Has("launcher")) {
    std::string kind;
    MERIDIAN_RETURN_IF_ERROR(f.Text("launcher", &kind, /*name=*/true));
    if (!ParseLauncherKind(kind, &dc.launcher)) return f.Error("launcher", kind, "expected local, ssh or slurm");
  }
  if (f.Has("slurm")) {
    if (dc.launcher != LauncherKind::kSlurm)
      return f.Error("slurm", "<map>", "only for a data center with launcher: slurm");
    const Fields s(f.Get("slurm"), source, f.Where("slurm"));
    MERIDIAN_RETURN_IF_ERROR(s.CheckKeys({"conf", "partition"}));
    MERIDIAN_RETURN_IF_ERROR(s.Path("conf", &dc.slurm_conf));
    MERIDIAN_RETURN_IF_ERROR(s.Text("partition", &dc.slurm_partition, /*name=*/true));
  }
  if (f.Has("nodes")) {
    const YAML::Node nodes = f.Get("nodes");
    if (!nodes.IsSequence()) return f.Error("nodes", Fields::Show(nodes), "must be a list of nodes");
    for (size_t i = 0; i < nodes.size(); ++i) {
      Node node;
      MERIDIAN_RETURN_IF_ERROR(ParseNode(Fields(nodes[i], source, f.Where("nodes") + "[" + std::to_string(i) + "]"),
                                         dc.name, &node));
      topo->nodes.push_back(std::move(node));
    }
  }
  topo->data_centers.push_back(std::move(dc));
  return Status::OK();
}

// `window: {period_s, up_s, phase_s}` or `windows: [[open_s, close_s], ...]`
// (Unix seconds).
Status ParseSchedule(const Fields& f, const std::string& source, LinkSchedule* s) {
  if (f.Has("window")) {
    const Fields w(f.Get("window"), source, f.Where("window"));
    MERIDIAN_RETURN_IF_ERROR(w.CheckKeys({"period_s", "up_s", "phase_s"}));
    if (!w.Has("period_s")) return w.Missing("period_s", "a window repeats every period_s seconds");
    if (!w.Has("up_s")) return w.Missing("up_s", "how long each window lasts");
    MERIDIAN_RETURN_IF_ERROR(w.Number("period_s", &s->period_s, 0.0, true));
    MERIDIAN_RETURN_IF_ERROR(w.Number("up_s", &s->up_s, 0.0, true));
    MERIDIAN_RETURN_IF_ERROR(w.Number("phase_s", &s->phase_s, 0.0, false));
  }
  if (f.Has("windows")) {
    const YAML::Node list = f.Get("windows");
    if (!list.IsSequence() || list.size() == 0)
      return f.Error("windows", Fields::Show(list), "must be a list of [open_s, close_s] pairs");
    if (list.size() > kMaxLinkWindows)
      return f.Error("windows", std::to_string(list.size()) + " windows",
                     "at most " + std::to_string(kMaxLinkWindows) + " (every rank's assignment carries the list)");
    for (size_t i = 0; i < list.size(); ++i) {
      double open = 0, close = 0;
      const YAML::Node w = list[i];
      if (!w.IsSequence() || w.size() != 2 || !YAML::convert<double>::decode(w[0], open) ||
          !YAML::convert<double>::decode(w[1], close) || !std::isfinite(open) || !std::isfinite(close))
        return f.Error("windows[" + std::to_string(i) + "]", Fields::Show(w), "must be [open_s, close_s]");
      s->windows.emplace_back(open, close);
    }
  }
  const Status valid = ValidateLinkSchedule(*s, f.path());
  return valid.ok() ? valid : Status::InvalidArgument(source + ": " + valid.message());
}

Status ParseLink(const Fields& f, const std::string& source, const Topology& topo, InterDcLink* link) {
  MERIDIAN_RETURN_IF_ERROR(f.CheckKeys({"a", "b", "gbps", "latency_ms", "window", "windows"}));
  for (const char* end : {"a", "b"}) {
    std::string name;
    if (!f.Has(end)) return f.Missing(end, "a link joins two data centers, a and b");
    MERIDIAN_RETURN_IF_ERROR(f.Text(end, &name, /*name=*/true));
    if (topo.FindDataCenter(name) == nullptr) return f.Error(end, name, "unknown data center");
    (std::string(end) == "a" ? link->a : link->b) = name;
  }
  if (link->a == link->b) return f.Error("b", link->b, "a link must join two different data centers");
  if (!f.Has("gbps")) return f.Missing("gbps", "the link's bandwidth in Gbit/s");
  MERIDIAN_RETURN_IF_ERROR(f.Number("gbps", &link->gbps, 0.0, true));
  MERIDIAN_RETURN_IF_ERROR(f.Number("latency_ms", &link->latency_ms, 0.0, false));
  return ParseSchedule(f, source, &link->schedule);
}

// An IPv4 network in CIDR notation, e.g. 10.78.0.0/16.
bool IsCidr(const std::string& s) {
  unsigned a, b, c, d, bits;
  char tail;
  if (std::sscanf(s.c_str(), "%u.%u.%u.%u/%u%c", &a, &b, &c, &d, &bits, &tail) != 5) return false;
  return a < 256 && b < 256 && c < 256 && d < 256 && bits <= 32;
}

Status ParseLaunch(const Fields& f, LaunchOptions* launch) {
  MERIDIAN_RETURN_IF_ERROR(f.CheckKeys({"ssh_config", "network", "ports", "mca", "env", "job_root"}));
  MERIDIAN_RETURN_IF_ERROR(f.Path("ssh_config", &launch->ssh_config));
  MERIDIAN_RETURN_IF_ERROR(f.Path("job_root", &launch->job_root));
  if (f.Has("network")) {
    const YAML::Node v = f.Get("network");
    if (!v.IsScalar() || !IsCidr(v.Scalar()))
      return f.Error("network", Fields::Show(v), "must be an IPv4 network such as 10.0.0.0/16");
    launch->network = v.Scalar();
  }
  if (f.Has("ports")) {
    const YAML::Node v = f.Get("ports");
    unsigned lo = 0, hi = 0;
    char tail;
    if (!v.IsScalar() || std::sscanf(v.Scalar().c_str(), "%u-%u%c", &lo, &hi, &tail) != 2 || lo < 1024 ||
        hi > 65535 || hi < lo)
      return f.Error("ports", Fields::Show(v), "must be a range FIRST-LAST within 1024-65535");
    launch->port_min = (int)lo;
    launch->port_count = (int)(hi - lo + 1);
  }
  if (f.Has("mca")) {
    const YAML::Node m = f.Get("mca");
    if (!m.IsMap()) return f.Error("mca", Fields::Show(m), "must be a map of Open MPI parameter: value");
    for (const auto& kv : m) {
      const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
      bool ok = !key.empty() && kv.second.IsScalar();
      for (char c : key) ok = ok && (std::isalnum((unsigned char)c) || c == '_');
      if (!ok) return f.Error("mca." + key, Fields::Show(kv.second), "must be parameter_name: scalar");
      launch->mca[key] = kv.second.Scalar();
    }
  }
  if (f.Has("env")) {
    const YAML::Node e = f.Get("env");
    if (!e.IsSequence()) return f.Error("env", Fields::Show(e), "must be a list of NAME or NAME=VALUE");
    for (size_t i = 0; i < e.size(); ++i) {
      const std::string item = e[i].IsScalar() ? e[i].Scalar() : "";
      const std::string name = item.substr(0, item.find('='));
      bool ok = !name.empty() && !std::isdigit((unsigned char)name[0]);
      for (char c : name) ok = ok && (std::isalnum((unsigned char)c) || c == '_');
      if (!ok) return f.Error("env[" + std::to_string(i) + "]", Fields::Show(e[i]), "must be NAME or NAME=VALUE");
      launch->env.push_back(item);
    }
  }
  return Status::OK();
}

// An `agents:` entry: which unnamed nodes agents may bring, where, how big.
Status ParseAgentRule(const Fields& f, const Topology& topo, AgentRule* rule) {
  MERIDIAN_RETURN_IF_ERROR(f.CheckKeys({"name", "data_center", "max_gpus"}));
  if (!f.Has("name")) return f.Missing("name", "a node name pattern (fnmatch: gpu-*)");
  const YAML::Node name = f.Get("name");
  rule->name_pattern = name.IsScalar() ? name.Scalar() : "";
  bool ok = !rule->name_pattern.empty() && rule->name_pattern.size() <= 256;
  for (char c : rule->name_pattern)
    ok = ok && (std::isalnum((unsigned char)c) || std::strchr("-_.*?[]!", c) != nullptr);
  if (!ok) return f.Error("name", Fields::Show(name), "must be a node name pattern (letters, digits, -_. and * ? [])");
  if (!f.Has("data_center")) return f.Missing("data_center", "the data center its nodes join");
  MERIDIAN_RETURN_IF_ERROR(f.Name("data_center", &rule->data_center));
  if (topo.FindDataCenter(rule->data_center) == nullptr)
    return f.Error("data_center", rule->data_center, "is not a data center of this file");
  return f.Integer("max_gpus", &rule->max_gpus, 1, kMaxAgentGpusPerNode);
}

Status ParseTopology(const YAML::Node& root, const std::string& source, Topology* topo) {
  if (!root.IsDefined() || root.IsNull()) return Status::InvalidArgument(source + ": the cluster file is empty");
  Fields top(root, source, "");
  MERIDIAN_RETURN_IF_ERROR(
      top.CheckKeys({"data_centers", "links", "default_inter_dc_gbps", "default_inter_dc_latency_ms", "launch",
                     "agents"}));
  if (top.Has("launch"))
    MERIDIAN_RETURN_IF_ERROR(ParseLaunch(Fields(top.Get("launch"), source, "launch"), &topo->launch));
  MERIDIAN_RETURN_IF_ERROR(top.Number("default_inter_dc_gbps", &topo->default_inter_dc_gbps, 0.0, true));
  MERIDIAN_RETURN_IF_ERROR(top.Number("default_inter_dc_latency_ms", &topo->default_inter_dc_latency_ms, 0.0, false));
  if (!top.Has("data_centers")) return top.Missing("data_centers", "the cluster needs at least one data center");
  const YAML::Node dcs = top.Get("data_centers");
  if (!dcs.IsSequence() || dcs.size() == 0)
    return top.Error("data_centers", Fields::Show(dcs), "must be a non-empty list of data centers");
  std::set<std::string> dc_names, node_names;
  for (size_t i = 0; i < dcs.size(); ++i) {
    const std::string path = "data_centers[" + std::to_string(i) + "]";
    const size_t first_node = topo->nodes.size();
    MERIDIAN_RETURN_IF_ERROR(ParseDataCenter(Fields(dcs[i], source, path), source, topo));
    const std::string& name = topo->data_centers.back().name;
    if (!dc_names.insert(name).second)
      return Status::InvalidArgument(source + ": " + path + ".name = " + name + ": duplicate data center name");
    for (size_t n = first_node; n < topo->nodes.size(); ++n) {
      if (!node_names.insert(topo->nodes[n].name).second) {
        return Status::InvalidArgument(source + ": " + path + ".nodes[" + std::to_string(n - first_node) +
                                       "].name = " + topo->nodes[n].name + ": duplicate node name");
      }
    }
  }
  if (top.Has("links")) {
    const YAML::Node links = top.Get("links");
    if (!links.IsSequence()) return top.Error("links", Fields::Show(links), "must be a list of links");
    for (size_t i = 0; i < links.size(); ++i) {
      const std::string path = "links[" + std::to_string(i) + "]";
      InterDcLink link;
      MERIDIAN_RETURN_IF_ERROR(ParseLink(Fields(links[i], source, path), source, *topo, &link));
      if (topo->FindLink(link.a, link.b) != nullptr) {
        return Status::InvalidArgument(source + ": " + path + " = " + link.a + "-" + link.b +
                                       ": duplicate link (each pair of data centers is listed once)");
      }
      topo->links.push_back(std::move(link));
    }
  }
  if (top.Has("agents")) {
    const YAML::Node agents = top.Get("agents");
    if (!agents.IsSequence()) return top.Error("agents", Fields::Show(agents), "must be a list of agent rules");
    for (size_t i = 0; i < agents.size(); ++i) {
      AgentRule rule;
      MERIDIAN_RETURN_IF_ERROR(ParseAgentRule(Fields(agents[i], source, "agents[" + std::to_string(i) + "]"), *topo, &rule));
      topo->agent_rules.push_back(std::move(rule));
    }
  }
  return Status::OK();
}

}  // namespace

Result<Topology> ParseClusterYaml(const std::string& text, const std::string& source_name) {
  Topology topo;
  try {
    const YAML::Node root = YAML::Load(text);
    MERIDIAN_RETURN_IF_ERROR(ParseTopology(root, source_name, &topo));
  } catch (const YAML::Exception& e) {
    // Syntax errors, and any conversion the checks above did not foresee.
    std::ostringstream os;
    os << source_name;
    if (!e.mark.is_null()) os << ": line " << e.mark.line + 1 << ", column " << e.mark.column + 1;
    os << ": " << e.msg;
    return Status::InvalidArgument(os.str());
  }
  return topo;
}

}  // namespace meridian::scheduler
