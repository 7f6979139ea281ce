// The daemon's token file (--token-file): who may call it, with which role.
//
//   tokens:
//     - {name: alice, role: submit, token: "3f0c...", expires: 1798761600, max_priority: 10, tenant: lab-a}
//     - {name: east-0, role: agent, token: "..."}      # an agent's name is its node's
//     - {name: ops, role: admin, token: "..."}
//
// Roles: admin (everything), submit (submit, and cancel and read its own
// jobs), read (list and get), agent (register and heartbeat the node of
// its name). `expires` (Unix seconds) is optional. A token is at least 16
// characters. Reloaded on SIGHUP: a token taken out is revoked.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace meridian::scheduler {

enum class Role { kAdmin, kSubmit, kRead, kAgent, kJob };
const char* RoleName(Role role);

struct TokenEntry {
  std::string name;
  Role role = Role::kRead;
  std::string token;
  double expires_unix_s = 0;  // 0: never
  // What this token's jobs may read (absolute paths), narrowing the
  // daemon's --data-root; empty: the daemon's roots alone.
  std::vector<std::string> data_roots;
  // The highest JobSpec.priority a submit token's jobs may have (a job of
  // higher priority preempts lower ones, so tenants get it only when
  // given): in [-1000, 1000], 0 by default. Admin tokens are not bound.
  int max_priority = 0;
  // Whose GPU quota a submit token's jobs count against (the daemon's
  // --quota-file); empty: the token's name.
  std::string tenant;
};

// InvalidArgument naming the file, the entry and the field for anything
// malformed (an unknown role or field, a short or repeated token, a
// repeated name); never echoes a token.
Result<std::vector<TokenEntry>> LoadTokenFile(const std::string& path);

}  // namespace meridian::scheduler
