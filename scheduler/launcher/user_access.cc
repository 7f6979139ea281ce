#include "scheduler/launcher/user_access.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

namespace meridian::scheduler {

namespace {

std::string Describe(const std::string& path, const struct stat& st) {
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", (unsigned)(st.st_mode & 07777));
  return path + " (mode " + mode + ", uid " + std::to_string(st.st_uid) + ")";
}

}  // namespace

unsigned PermissionBitsFor(const RunAs& as, const struct stat& st) {
  if (as.uid == 0) return 7;
  if (st.st_uid == as.uid) return (st.st_mode >> 6) & 7;
  const bool in_group =
      st.st_gid == as.gid || std::find(as.groups.begin(), as.groups.end(), st.st_gid) != as.groups.end();
  return in_group ? (st.st_mode >> 3) & 7 : st.st_mode & 7;
}

Status CheckUserCanReach(const RunAs& as, const std::string& path, Access access) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path target = fs::weakly_canonical(fs::absolute(path), ec);
  if (ec) return Status::FailedPrecondition(path + ": " + ec.message());
  const std::string what = "--run-as " + as.name + " cannot reach " + path + ": ";
  fs::path walked = "/";
  std::vector<fs::path> parts(target.begin(), target.end());
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) walked /= parts[i];
    const bool last = i + 1 == parts.size();
    struct stat st {};
    if (stat(walked.c_str(), &st) != 0) {
      if (access == Access::kSearch) return Status::OK();  // the rest is made later
      return Status::FailedPrecondition(what + walked.string() + " does not exist");
    }
    const unsigned bits = PermissionBitsFor(as, st);
    if (last && access == Access::kExecute) {
      if (!S_ISREG(st.st_mode)) return Status::FailedPrecondition(what + walked.string() + " is not a file");
      if ((bits & 1) == 0) return Status::FailedPrecondition(what + Describe(walked.string(), st) + " is not executable by it");
      continue;
    }
    if (!S_ISDIR(st.st_mode)) return Status::FailedPrecondition(what + walked.string() + " is not a directory");
    if ((bits & 1) == 0) return Status::FailedPrecondition(what + Describe(walked.string(), st) + " blocks it");
  }
  return Status::OK();
}

}  // namespace meridian::scheduler
