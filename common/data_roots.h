// Where a job may read data: the daemon's --data-root and a token's own
// data_roots. The daemon checks a job's paths at submit and at every
// launch; a scheduled rank checks them again against the roots the daemon
// handed it (the files may have changed since), so this lives below both.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "common/status.h"

namespace meridian {

// The environment variables a launch hands its ranks: the daemon's roots
// and the submitting token's, each a newline-separated list (empty or
// unset: no constraint of that kind).
inline constexpr const char* kDataRootsEnv = "MERIDIAN_DATA_ROOTS";
inline constexpr const char* kOwnerDataRootsEnv = "MERIDIAN_OWNER_DATA_ROOTS";

// `path` with `..` and every symbolic link that exists resolved.
std::filesystem::path ResolvedPath(const std::string& path);
// Whether the resolved `path` lies in the resolved `root`, by components.
bool IsUnder(const std::filesystem::path& path, const std::filesystem::path& root);
// True when `path` resolves under one of `roots` (none: true).
bool UnderAnyRoot(const std::string& path, const std::vector<std::string>& roots);

// The files besides `path` that meridian-train --init-from reads: a Hugging
// Face directory's model.safetensors, config.json, and a sharded model's
// index and every .safetensors shard in it; or the config.json beside a
// .safetensors file.
std::vector<std::string> InitFromCompanionFiles(const std::string& path);

std::string JoinRoots(const std::vector<std::string>& roots);
std::vector<std::string> SplitRoots(const std::string& text);

struct HandedRoots {
  std::vector<std::string> daemon, owner;
  bool empty() const { return daemon.empty() && owner.empty(); }
};
HandedRoots HandedRootsFromEnvironment();

// OK when every one of `paths` resolves under the daemon's roots and the
// owner's (each list that is not empty). FailedPrecondition naming `what`,
// the path and whose roots it left otherwise.
Status CheckUnderHandedRoots(const std::string& what, const std::vector<std::string>& paths, const HandedRoots& roots);

}  // namespace meridian
