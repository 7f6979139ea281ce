#include "runtime/checkpoint/step_directory.h"

#include <fcntl.h>  // AT_FDCWD
#include <stdio.h>  // renameat2, RENAME_EXCHANGE (glibc >= 2.28)

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "runtime/checkpoint/file_io.h"

namespace meridian::checkpoint_dir {
namespace {

namespace fs = std::filesystem;

constexpr const char* kStepPrefix = "step_";

}  // namespace

std::string JoinPath(const std::string& dir, const std::string& name) {
  return (fs::path(dir) / name).string();
}

std::string StepDirName(int64_t step) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%s%08" PRId64, kStepPrefix, step);
  return buf;
}

std::optional<int64_t> ParseStepDirName(const std::string& name) {
  const std::string prefix = kStepPrefix;
  if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  int64_t step = 0;
  for (size_t i = prefix.size(); i < name.size(); ++i) {
    const char ch = name[i];
    if (ch < '0' || ch > '9') return std::nullopt;
    if (__builtin_mul_overflow(step, 10, &step) || __builtin_add_overflow(step, ch - '0', &step)) {
      return std::nullopt;
    }
  }
  return step;
}

bool HasManifest(const std::string& dir) {
  std::error_code ec;
  return fs::is_regular_file(JoinPath(dir, kManifestFile), ec);
}

Status PublishStepDirectory(const std::string& tmp, const std::string& final_dir) {
  std::error_code ec;
  if (!fs::exists(final_dir, ec)) {
    if (::rename(tmp.c_str(), final_dir.c_str()) != 0) {
      return Status::IOError(final_dir + ": cannot rename " + tmp + " to it: " + std::strerror(errno));
    }
    return Status::OK();
  }
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, final_dir.c_str(), RENAME_EXCHANGE) != 0) {
    if (errno != EINVAL && errno != ENOSYS) {
      return Status::IOError(final_dir + ": cannot swap in " + tmp + ": " + std::strerror(errno));
    }
    // No atomic swap on this filesystem: move the old one aside first. A
    // crash in between leaves no directory under the final name, so the
    // loader falls back to an older complete step rather than a torn one.
    const std::string aside = tmp + ".old";
    if (::rename(final_dir.c_str(), aside.c_str()) != 0) {
      return Status::IOError(final_dir + ": cannot move aside to " + aside + ": " + std::strerror(errno));
    }
    if (::rename(tmp.c_str(), final_dir.c_str()) != 0) {
      return Status::IOError(final_dir + ": cannot rename " + tmp + " to it: " + std::strerror(errno));
    }
    fs::remove_all(aside, ec);
    return Status::OK();
  }
  fs::remove_all(tmp, ec);  // now holds the replaced checkpoint
  return Status::OK();
}

Status PointLatestAt(const std::string& root, const std::string& step_dir_name) {
  // The rename must be durable before `latest` may name the new directory.
  MERIDIAN_RETURN_IF_ERROR(checkpoint_io::SyncDirectory(root));
  const std::string latest = step_dir_name + "\n";
  return checkpoint_io::WriteFileAtomically(JoinPath(root, kLatestFile),
                                            {{latest.data(), latest.size()}});
}

}  // namespace meridian::checkpoint_dir
