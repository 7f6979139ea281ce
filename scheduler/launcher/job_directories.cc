#include "scheduler/launcher/job_directories.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <utility>
#include <vector>

#include "scheduler/launcher/user_access.h"

namespace meridian::scheduler {

namespace {

std::string ModeText(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", (unsigned)(mode & 07777));
  return text;
}

Status Errno(const std::string& what) { return Status::IOError(what + ": " + std::strerror(errno)); }

// Closes a descriptor when it goes out of scope, unless released.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
  int Release() { return std::exchange(fd, -1); }
};

// `name` under `parent`: made with `mode` if absent, opened without
// following a link, and accepted only when it is the daemon's own and no
// one else can write it.
Result<int> OpenOwnDirectory(int parent, const std::string& name, const std::string& shown, mode_t mode) {
  if (mkdirat(parent, name.c_str(), mode) != 0 && errno != EEXIST) return Errno(shown);
  Fd dir{openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)};
  if (dir.fd < 0) return Errno(shown + " (a directory, not a link)");
  struct stat st {};
  if (fstat(dir.fd, &st) != 0) return Errno(shown);
  if (st.st_uid != geteuid() || (st.st_mode & 022) != 0)
    return Status::FailedPrecondition(shown + " is owned by uid " + std::to_string(st.st_uid) + " with mode " +
                                      ModeText(st.st_mode) +
                                      ": the daemon keeps launch files only in a directory of its own that no "
                                      "one else can write");
  return dir.Release();
}

// The job's own directory: made for `as` (or the daemon) on first launch;
// on a relaunch it must still be the user's.
Status PrepareJobDir(int jobs, const std::string& job_id, const std::string& shown, const RunAs* as) {
  if (mkdirat(jobs, job_id.c_str(), 0750) != 0 && errno != EEXIST) return Errno(shown);
  Fd dir{openat(jobs, job_id.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)};
  if (dir.fd < 0) return Errno(shown + " (a directory, not a link)");
  struct stat st {};
  if (fstat(dir.fd, &st) != 0) return Errno(shown);
  const uid_t owner = as != nullptr ? as->uid : geteuid();
  if (st.st_uid == owner) return Status::OK();
  if (as != nullptr && st.st_uid == geteuid()) {
    if (fchown(dir.fd, as->uid, as->gid) != 0) return Errno(shown + ": cannot give it to --run-as " + as->name);
    return Status::OK();
  }
  return Status::FailedPrecondition(shown + " belongs to uid " + std::to_string(st.st_uid) + ", not to the job's user");
}

// The names in the open directory `fd` (but . and ..); `fd` stays open.
Result<std::vector<std::string>> ListEntries(int fd, const std::string& shown) {
  DIR* dir = fdopendir(dup(fd));
  if (dir == nullptr) return Errno(shown);
  std::vector<std::string> names;
  while (const dirent* e = readdir(dir)) {
    const std::string entry = e->d_name;
    if (entry != "." && entry != "..") names.push_back(entry);
  }
  closedir(dir);
  return names;
}

// Removes `name` in `parent` and, if it is a directory (not a link), all it
// holds first, each level opened relative to the one above.
Status RemoveAt(int parent, const std::string& name, const std::string& shown, int depth) {
  struct stat st {};
  if (fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return errno == ENOENT ? Status::OK() : Errno(shown);
  if (!S_ISDIR(st.st_mode)) {
    if (unlinkat(parent, name.c_str(), 0) != 0 && errno != ENOENT) return Errno(shown);
    return Status::OK();
  }
  if (depth > 64) return Status::IOError(shown + ": nested more than 64 directories deep, left in place");
  Fd dir{openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)};
  if (dir.fd < 0) return Errno(shown);
  MERIDIAN_ASSIGN_OR_RETURN(std::vector<std::string> names, ListEntries(dir.fd, shown));
  Status status;
  for (const std::string& entry : names) {
    Status s = RemoveAt(dir.fd, entry, shown + "/" + entry, depth + 1);
    if (status.ok() && !s.ok()) status = s;
  }
  MERIDIAN_RETURN_IF_ERROR(status);
  if (unlinkat(parent, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) return Errno(shown);
  return Status::OK();
}

}  // namespace

Status RemoveJobFiles(const std::string& root, const std::string& job_id, bool keep_checkpoints) {
  Fd top{open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (top.fd < 0) return errno == ENOENT ? Status::OK() : Errno(root);
  Status status;
  for (const char* part : {"launch", "jobs"}) {
    const std::string shown = root + "/" + part;
    Fd parent{openat(top.fd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)};
    if (parent.fd < 0) continue;  // never made: nothing of the job there
    if (std::string(part) == "launch" || !keep_checkpoints) {
      Status s = RemoveAt(parent.fd, job_id, shown + "/" + job_id, 0);
      if (status.ok() && !s.ok()) status = s;
      continue;
    }
    // The job's directory without its checkpoints.
    Fd dir{openat(parent.fd, job_id.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)};
    if (dir.fd < 0) continue;
    MERIDIAN_ASSIGN_OR_RETURN(std::vector<std::string> names, ListEntries(dir.fd, shown + "/" + job_id));
    for (const std::string& entry : names) {
      if (entry == "checkpoints") continue;
      Status s = RemoveAt(dir.fd, entry, shown + "/" + job_id + "/" + entry, 1);
      if (status.ok() && !s.ok()) status = s;
    }
  }
  return status;
}

Result<LaunchDirectory> LaunchDirectory::Prepare(const std::string& root, const std::string& job_id, const RunAs* as) {
  std::error_code ec;
  std::filesystem::create_directories(root, ec);
  if (ec) return Status::IOError(root + ": " + ec.message());
  Fd top{open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (top.fd < 0) return Errno(root);
  if (as != nullptr) {
    struct stat st {};
    if (fstat(top.fd, &st) != 0) return Errno(root);
    if (st.st_uid == as->uid || (PermissionBitsFor(*as, st) & 2) != 0)
      return Status::FailedPrecondition("job root " + root + " (mode " + ModeText(st.st_mode) +
                                        ") is writable by --run-as " + as->name +
                                        ": it could replace the daemon's directories there");
  }
  MERIDIAN_ASSIGN_OR_RETURN(int jobs_fd, OpenOwnDirectory(top.fd, "jobs", root + "/jobs", 0755));
  Fd jobs{jobs_fd};
  MERIDIAN_RETURN_IF_ERROR(PrepareJobDir(jobs.fd, job_id, root + "/jobs/" + job_id, as));
  MERIDIAN_ASSIGN_OR_RETURN(int launch_fd, OpenOwnDirectory(top.fd, "launch", root + "/launch", 0755));
  Fd launch{launch_fd};
  const std::string path = root + "/launch/" + job_id;
  MERIDIAN_ASSIGN_OR_RETURN(int dir_fd, OpenOwnDirectory(launch.fd, job_id, path, 0750));
  Fd dir{dir_fd};
  if (as != nullptr && fchown(dir.fd, (uid_t)-1, as->gid) != 0) return Errno(path + ": cannot give it the job's group");
  return LaunchDirectory(dir.Release(), path, as);
}

LaunchDirectory::LaunchDirectory(LaunchDirectory&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)), as_(other.as_) {}

LaunchDirectory::~LaunchDirectory() {
  if (fd_ >= 0) close(fd_);
}

Status LaunchDirectory::Write(const std::string& name, const std::string& text) const {
  return WriteFile(name, text, 0640, (uid_t)-1, as_ != nullptr ? as_->gid : (gid_t)-1);
}

Status LaunchDirectory::WriteSecret(const std::string& name, const std::string& text) const {
  if (as_ == nullptr) return WriteFile(name, text, 0600, (uid_t)-1, (gid_t)-1);
  return WriteFile(name, text, 0600, as_->uid, as_->gid);
}

Status LaunchDirectory::WriteFile(const std::string& name, const std::string& text, mode_t mode, uid_t owner,
                                  gid_t group) const {
  const std::string shown = path_ + "/" + name;
  Fd file{openat(fd_, name.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode)};
  if (file.fd < 0) return Errno(shown);
  // A file left by an earlier launch keeps its old mode through O_CREAT:
  // set it, and narrow it before anything is written.
  if (fchmod(file.fd, mode) != 0) return Errno(shown);
  if ((owner != (uid_t)-1 || group != (gid_t)-1) && fchown(file.fd, owner, group) != 0)
    return Errno(shown + ": cannot give it to the job's user or group");
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = write(file.fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Errno(shown);
    done += (size_t)n;
  }
  return Status::OK();
}

}  // namespace meridian::scheduler
