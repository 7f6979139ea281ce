#include "scheduler/service/quotas.h"

#include <yaml-cpp/yaml.h>

namespace meridian::scheduler {

TenantQuota Quotas::For(const std::string& tenant) const {
  auto it = tenants.find(tenant);
  if (it != tenants.end()) return it->second;
  return has_default ? default_quota : TenantQuota{};
}

Result<Quotas> LoadQuotaFile(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return Status::NotFound(path + ": cannot read the quota file");
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(path + ": not YAML: " + e.msg);
  }
  if (!root.IsMap() || !root["tenants"] || !root["tenants"].IsMap())
    return Status::InvalidArgument(path + ": expected a map with a `tenants:` map");
  for (const auto& kv : root)
    if (!kv.first.IsScalar() || kv.first.Scalar() != "tenants")
      return Status::InvalidArgument(path + ": " + (kv.first.IsScalar() ? kv.first.Scalar().substr(0, 40) : "?") +
                                     ": unknown field");
  Quotas out;
  for (const auto& kv : root["tenants"]) {
    if (!kv.first.IsScalar() || kv.first.Scalar().empty())
      return Status::InvalidArgument(path + ": tenants: a key that is not a name");
    const std::string name = kv.first.Scalar();
    const std::string where = path + ": tenants." + name.substr(0, 128);
    if (!kv.second.IsMap()) return Status::InvalidArgument(where + ": expected {gpus, borrow}");
    TenantQuota q;
    for (const auto& field : kv.second) {
      const std::string key = field.first.IsScalar() ? field.first.Scalar() : "?";
      long long value = -1;
      try {
        value = field.second.as<long long>();
      } catch (const YAML::Exception&) {
        return Status::InvalidArgument(where + "." + key.substr(0, 40) + ": expected a whole number");
      }
      if (key != "gpus" && key != "borrow") return Status::InvalidArgument(where + "." + key.substr(0, 40) + ": unknown field");
      if (value < 0 || value > 100'000'000)
        return Status::InvalidArgument(where + "." + key + " = " + std::to_string(value) +
                                       ": must be in [0, 100000000]");
      (key == "gpus" ? q.gpus : q.borrow) = (int)value;
    }
    if (!kv.second["gpus"]) return Status::InvalidArgument(where + ".gpus: missing");
    if (name == "*") {
      out.has_default = true;
      out.default_quota = q;
    } else {
      out.tenants[name] = q;
    }
  }
  return out;
}

long long JobGpus(const v1::JobSpec& spec) {
  const v1::Layout& l = spec.layout();
  return l.auto_layout() ? l.gpus() : (long long)l.dp() * l.pp();
}

}  // namespace meridian::scheduler
