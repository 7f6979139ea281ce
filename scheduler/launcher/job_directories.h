// The two directories of a launched job (JobPaths in launch_commands.h),
// made and checked so that a root daemon never writes through a link the
// job's user planted. The job's directory is the user's: the daemon makes
// it once and never opens a path inside it. The launch directory is the
// daemon's: reached only through directory descriptors it has verified
// (its own, writable by no one else), every file opened with O_NOFOLLOW.
#pragma once

#include <sys/types.h>

#include <string>

#include "common/status.h"
#include "scheduler/launcher/job_processes.h"
#include "scheduler/launcher/launch_commands.h"

namespace meridian::scheduler {

// Removes a finished job's files (retention): root/launch/ID, the daemon's,
// and what root/jobs/ID holds, the user's, except checkpoints/ when
// `keep_checkpoints` (then the directory stays with them). The user's part
// is removed through directory descriptors, never following a link, so a
// link planted there removes only the link. IOError naming what could not
// be removed; OK when already gone.
Status RemoveJobFiles(const std::string& root, const std::string& job_id, bool keep_checkpoints);

class LaunchDirectory {
 public:
  // Makes (or checks) root/jobs/ID, given to `as` (mode 0750), and
  // root/launch/ID, the daemon's (mode 0750, group `as`'s so its launcher
  // reads the host file and batch script). Refuses, naming the directory,
  // when root/jobs, root/launch or root/launch/ID is not the daemon's own or
  // others can write it, when `as` could write `root` itself (it could swap
  // those directories), or when root/jobs/ID belongs to another user.
  static Result<LaunchDirectory> Prepare(const std::string& root, const std::string& job_id, const RunAs* as);

  LaunchDirectory(LaunchDirectory&& other) noexcept;
  LaunchDirectory& operator=(LaunchDirectory&&) = delete;
  LaunchDirectory(const LaunchDirectory&) = delete;
  ~LaunchDirectory();

  // Writes `text` to the file `name` in the launch directory (replacing
  // it; never through a link), readable by the job's group.
  Status Write(const std::string& name, const std::string& text) const;
  // Writes a secret (the job's exchange key) to `name` likewise, but
  // readable by its owner alone (mode 0600): the job's user, who runs the
  // ranks that read it, or the daemon itself without --run-as.
  Status WriteSecret(const std::string& name, const std::string& text) const;

 private:
  // Opens `name` (created or truncated, never through a link) with `mode`
  // and `owner`/`group` ((uid_t)-1 / (gid_t)-1: unchanged) and writes `text`.
  Status WriteFile(const std::string& name, const std::string& text, mode_t mode, uid_t owner, gid_t group) const;

  LaunchDirectory(int fd, std::string path, const RunAs* as) : fd_(fd), path_(std::move(path)), as_(as) {}
  int fd_ = -1;
  std::string path_;
  const RunAs* as_ = nullptr;
};

}  // namespace meridian::scheduler
