#include "common/data_roots.h"

#include <cstdlib>

namespace meridian {

namespace fs = std::filesystem;

fs::path ResolvedPath(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::weakly_canonical(fs::absolute(path, ec), ec);
  return ec ? fs::absolute(path).lexically_normal() : p;
}

bool IsUnder(const fs::path& path, const fs::path& root) {
  auto p = path.begin(), r = root.begin();
  for (; r != root.end() && !r->empty(); ++r, ++p) {
    if (p == path.end() || *p != *r) return false;
  }
  return true;
}

bool UnderAnyRoot(const std::string& path, const std::vector<std::string>& roots) {
  if (roots.empty()) return true;
  const fs::path resolved = ResolvedPath(path);
  for (const std::string& root : roots)
    if (IsUnder(resolved, ResolvedPath(root))) return true;
  return false;
}

std::vector<std::string> InitFromCompanionFiles(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    // A sharded model names its shards in the index; they are plain names in
    // the same directory, so every weight file there is what it may open.
    std::vector<std::string> files = {(fs::path(path) / "model.safetensors").string(),
                                      (fs::path(path) / "config.json").string(),
                                      (fs::path(path) / "model.safetensors.index.json").string()};
    for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
      const fs::path& p = it->path();
      if (p.extension() == ".safetensors" && p.filename() != "model.safetensors") files.push_back(p.string());
    }
    return files;
  }
  return {(fs::path(path).parent_path() / "config.json").string()};
}

std::string JoinRoots(const std::vector<std::string>& roots) {
  std::string out;
  for (const std::string& r : roots) out += (out.empty() ? "" : "\n") + r;
  return out;
}

std::vector<std::string> SplitRoots(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

HandedRoots HandedRootsFromEnvironment() {
  HandedRoots roots;
  if (const char* v = std::getenv(kDataRootsEnv)) roots.daemon = SplitRoots(v);
  if (const char* v = std::getenv(kOwnerDataRootsEnv)) roots.owner = SplitRoots(v);
  return roots;
}

Status CheckUnderHandedRoots(const std::string& what, const std::vector<std::string>& paths, const HandedRoots& roots) {
  for (const std::string& path : paths) {
    if (!UnderAnyRoot(path, roots.daemon))
      return Status::FailedPrecondition(what + ": " + path +
                                        " lies outside the daemon's data roots once .. and links are resolved");
    if (!UnderAnyRoot(path, roots.owner))
      return Status::FailedPrecondition(what + ": " + path +
                                        " lies outside the submitting token's data roots once .. and links are "
                                        "resolved");
  }
  return Status::OK();
}

}  // namespace meridian
