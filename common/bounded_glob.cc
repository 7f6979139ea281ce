#include "common/bounded_glob.h"

#include <dirent.h>
#include <fnmatch.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>

namespace meridian {

namespace {

bool HasWildcard(const std::string& component) { return component.find_first_of("*?[") != std::string::npos; }

std::vector<std::string> Split(const std::string& pattern) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= pattern.size()) {
    const size_t slash = pattern.find('/', start);
    const size_t end = slash == std::string::npos ? pattern.size() : slash;
    if (end > start) parts.push_back(pattern.substr(start, end - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return parts;
}

std::string Join(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}

class Walk {
 public:
  Walk(const std::string& pattern, const GlobLimits& limits)
      : pattern_(pattern), limits_(limits), deadline_(std::chrono::steady_clock::now() +
                                                      std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                          std::chrono::duration<double>(limits.seconds))) {}

  // The entries of each directory in `dirs` matching `component` (which
  // must be directories themselves unless `last`).
  Result<std::vector<std::string>> Step(const std::vector<std::string>& dirs, const std::string& component, bool last) {
    std::vector<std::string> out;
    for (const std::string& dir : dirs) {
      if (++directories_ > limits_.directories)
        return Refuse("reads more than " + std::to_string(limits_.directories) + " directories");
      if (std::chrono::steady_clock::now() > deadline_)
        return Refuse("takes longer than " + std::to_string(limits_.seconds) + " s to expand");
      DIR* d = opendir(dir.empty() ? "." : dir.c_str());
      if (d == nullptr) continue;  // unreadable or gone: matches nothing, as in glob(3)
      while (const dirent* e = readdir(d)) {
        const std::string name = e->d_name;
        if (name == "." || name == "..") continue;
        if (fnmatch(component.c_str(), name.c_str(), FNM_PERIOD) != 0) continue;
        const std::string path = Join(dir, name);
        struct stat st {};
        if (!last && (stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))) continue;
        out.push_back(path);
        if (out.size() > limits_.matches) {
          closedir(d);
          return Refuse("matches more than " + std::to_string(limits_.matches) + " paths");
        }
      }
      closedir(d);
    }
    return out;
  }

  Status Refuse(const std::string& why) const {
    return Status::InvalidArgument("pattern \"" + pattern_ + "\" " + why + " (a data pattern's limit)");
  }

 private:
  std::string pattern_;
  GlobLimits limits_;
  std::chrono::steady_clock::time_point deadline_;
  size_t directories_ = 0;
};

}  // namespace

Result<std::vector<std::string>> ExpandBoundedGlob(const std::string& pattern, const GlobLimits& limits) {
  Walk walk(pattern, limits);
  if (pattern.empty()) return walk.Refuse("is empty");
  const std::vector<std::string> parts = Split(pattern);
  size_t first_wild = parts.size();
  for (size_t i = 0; i < parts.size(); ++i)
    if (HasWildcard(parts[i])) {
      first_wild = i;
      break;
    }
  // The fixed part, as written (a leading / kept).
  std::string fixed = pattern.front() == '/' ? "/" : "";
  for (size_t i = 0; i < first_wild; ++i) fixed = Join(fixed, parts[i]);
  if (first_wild == parts.size()) {  // no wildcard: the path itself
    struct stat st {};
    if (stat(fixed.c_str(), &st) != 0) return Status::NotFound("no files match pattern '" + pattern + "'");
    return std::vector<std::string>{fixed};
  }
  for (size_t i = first_wild; i < parts.size(); ++i)
    if (parts[i] == "..") return walk.Refuse("has .. after a wildcard");
  if (parts.size() - first_wild > (size_t)limits.wildcard_components)
    return walk.Refuse("has wildcards before its last " + std::to_string(limits.wildcard_components) + " components");
  std::vector<std::string> current = {fixed};
  for (size_t i = first_wild; i < parts.size(); ++i) {
    const bool last = i + 1 == parts.size();
    if (!HasWildcard(parts[i])) {
      std::vector<std::string> next;
      for (const std::string& dir : current) {
        const std::string path = Join(dir, parts[i]);
        struct stat st {};
        if (stat(path.c_str(), &st) == 0 && (last || S_ISDIR(st.st_mode))) next.push_back(path);
      }
      current = std::move(next);
      continue;
    }
    MERIDIAN_ASSIGN_OR_RETURN(current, walk.Step(current, parts[i], last));
  }
  if (current.empty()) return Status::NotFound("no files match pattern '" + pattern + "'");
  std::sort(current.begin(), current.end());
  return current;
}

}  // namespace meridian
