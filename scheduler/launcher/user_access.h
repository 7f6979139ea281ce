// Whether an unprivileged user (a root daemon's --run-as) can reach a path:
// every directory on the way must grant it search permission. Checked at
// the daemon's start, so a trainer or job root the user cannot reach is a
// refusal that names the blocking directory, not a failure of every launch.
#pragma once

#include <sys/stat.h>

#include <string>

#include "common/status.h"
#include "scheduler/launcher/job_processes.h"

namespace meridian::scheduler {

// The permission bits (rwx, 0-7) that apply to `as` for a file with this
// stat: the owner's, the group's (its primary group or any other it is
// in), or everyone else's; all for root.
unsigned PermissionBitsFor(const RunAs& as, const struct stat& st);

enum class Access { kSearch, kExecute };

// OK when `as` can search every existing directory from / down to `path`
// and, for kExecute, execute `path` itself (a regular file); for kSearch,
// `path` is a directory that may not exist yet (the part that exists is
// checked). Symbolic links are resolved first. By the mode bits (owner,
// group, other) only: an ACL that grants more is not seen.
// FailedPrecondition naming the user, the path and the directory that
// blocks it with its mode and owner.
Status CheckUserCanReach(const RunAs& as, const std::string& path, Access access);

}  // namespace meridian::scheduler
