#include "scheduler/auth/token_file.h"

#include <set>

#include <yaml-cpp/yaml.h>

#include "common/tenant_name.h"

namespace meridian::scheduler {

namespace {

constexpr size_t kMaxDataRoots = 64;

constexpr size_t kMinTokenLength = 16;

Result<Role> ParseRole(const std::string& s) {
  if (s == "admin") return Role::kAdmin;
  if (s == "submit") return Role::kSubmit;
  if (s == "read") return Role::kRead;
  if (s == "agent") return Role::kAgent;
  return Status::InvalidArgument("role \"" + s.substr(0, 40) + "\": expected admin, submit, read or agent");
}

}  // namespace

const char* RoleName(Role role) {
  switch (role) {
    case Role::kAdmin: return "admin";
    case Role::kSubmit: return "submit";
    case Role::kRead: return "read";
    case Role::kAgent: return "agent";
    case Role::kJob: return "job";
  }
  return "?";
}

Result<std::vector<TokenEntry>> LoadTokenFile(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return Status::NotFound(path + ": cannot read the token file");
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(path + ": not YAML: " + e.msg);
  }
  if (!root.IsMap() || !root["tokens"] || !root["tokens"].IsSequence())
    return Status::InvalidArgument(path + ": expected a map with a `tokens:` list");
  for (const auto& kv : root) {
    // A key may be any YAML node ("? [a, b]"): only the scalar "tokens" is known.
    if (!kv.first.IsScalar()) return Status::InvalidArgument(path + ": a key that is not a name: unknown field");
    if (kv.first.Scalar() != "tokens")
      return Status::InvalidArgument(path + ": " + kv.first.Scalar().substr(0, 40) + ": unknown field");
  }
  std::vector<TokenEntry> out;
  std::set<std::string> names, tokens;
  int i = 0;
  for (const YAML::Node& n : root["tokens"]) {
    const std::string where = path + ": tokens[" + std::to_string(i++) + "]";
    if (!n.IsMap()) return Status::InvalidArgument(where + ": expected {name, role, token}");
    TokenEntry e;
    try {
      for (const auto& kv : n) {
        const std::string key = kv.first.as<std::string>();
        if (key == "name") e.name = kv.second.as<std::string>();
        else if (key == "token") e.token = kv.second.as<std::string>();
        else if (key == "expires") e.expires_unix_s = kv.second.as<double>();
        else if (key == "tenant") e.tenant = kv.second.as<std::string>();
        else if (key == "max_priority") {
          e.max_priority = kv.second.as<int>();
          if (e.max_priority < -1000 || e.max_priority > 1000)
            return Status::InvalidArgument(where + ".max_priority: " + std::to_string(e.max_priority) +
                                           " is not in [-1000, 1000]");
        }
        else if (key == "data_roots") {
          if (!kv.second.IsSequence() || kv.second.size() == 0 || kv.second.size() > kMaxDataRoots)
            return Status::InvalidArgument(where + ".data_roots: expected a list of 1 to 64 absolute paths");
          for (const YAML::Node& root : kv.second) {
            const std::string dir = root.as<std::string>();
            if (dir.empty() || dir.front() != '/' || dir.size() > 4096)
              return Status::InvalidArgument(where + ".data_roots: \"" + dir.substr(0, 40) +
                                             "\" is not an absolute path");
            e.data_roots.push_back(dir);
          }
        }
        else if (key == "role") {
          Result<Role> role = ParseRole(kv.second.as<std::string>());
          if (!role.ok()) return Status::InvalidArgument(where + ".role: " + role.status().message());
          e.role = *role;
        } else {
          return Status::InvalidArgument(where + "." + key.substr(0, 40) + ": unknown field");
        }
      }
    } catch (const YAML::Exception&) {
      return Status::InvalidArgument(where + ": a field has the wrong type");
    }
    if (e.name.empty()) return Status::InvalidArgument(where + ".name: missing");
    if (n["tenant"] && !IsTenantName(e.tenant))
      return Status::InvalidArgument(where + ".tenant: must be " + kTenantNameRule);
    if (!n["role"]) return Status::InvalidArgument(where + ".role: missing");
    if (e.token.size() < kMinTokenLength)
      return Status::InvalidArgument(where + ".token: missing or shorter than 16 characters");
    if (!names.insert(e.name).second) return Status::InvalidArgument(where + ".name: \"" + e.name + "\" repeats");
    if (!tokens.insert(e.token).second) return Status::InvalidArgument(where + ".token: repeats an earlier token");
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace meridian::scheduler
