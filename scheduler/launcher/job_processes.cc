#include "scheduler/launcher/job_processes.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

#include "scheduler/launcher/job_environment.h"

namespace meridian::scheduler {

namespace {

// How a launcher that never ran ends (in its attempt's exit file).
constexpr int kExitNoIdentity = 126;  // could not take the --run-as user's identity
constexpr int kExitNoLog = 125;       // could not open the job's log as that user

// Everything the child of fork() needs, prepared before the fork: the
// child of a threaded process may only make async-signal-safe calls.
struct SpawnPlan {
  std::vector<char*> args, envp;
  std::vector<std::string> env_storage;
  int log_fd = -1;              // unsupervised: output goes here
  int lock_fd = -1;             // supervised: the attempt's lock, already locked
  const RunAs* as = nullptr;    // supervised: the launcher drops to this user first
  std::string log_path;         // supervised: the launcher opens it, as that user
  std::string work_dir;         // supervised: the launcher's working directory (the log's)
  std::string log_header;       // its first line: the command
  std::string exit_path, exit_tmp;
};

SpawnPlan PlanSpawn(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  SpawnPlan plan;
  for (const std::string& a : argv) plan.args.push_back(const_cast<char*>(a.c_str()));
  plan.args.push_back(nullptr);
  plan.env_storage = JobEnvironment(environ, env);
  for (const std::string& e : plan.env_storage) plan.envp.push_back(const_cast<char*>(e.c_str()));
  plan.envp.push_back(nullptr);
  plan.log_header = "+";
  for (const std::string& a : argv) plan.log_header += " " + a;
  plan.log_header += "\n";
  return plan;
}

void WriteAll(int fd, const char* data, size_t n) {
  while (n > 0) {
    const ssize_t w = write(fd, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    data += w;
    n -= (size_t)w;
  }
}

// Decimal text of v, async-signal-safe.
size_t FormatInt(long v, char* out) {
  char tmp[24];
  size_t n = 0;
  const bool negative = v < 0;
  unsigned long u = negative ? 0ul - (unsigned long)v : (unsigned long)v;
  do {
    tmp[n++] = (char)('0' + u % 10);
    u /= 10;
  } while (u != 0);
  size_t k = 0;
  if (negative) out[k++] = '-';
  while (n > 0) out[k++] = tmp[--n];
  out[k++] = '\n';
  return k;
}

int ExitCode(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

[[noreturn]] void ExecOrDie(const SpawnPlan& plan) {
  execvpe(plan.args[0], plan.args.data(), plan.envp.data());
  const char* what = "exec failed: ";
  WriteAll(STDERR_FILENO, what, std::strlen(what));
  WriteAll(STDERR_FILENO, plan.args[0], std::strlen(plan.args[0]));
  WriteAll(STDERR_FILENO, "\n", 1);
  _exit(127);
}

void IgnoreButKeepDefaultAcrossExec(int) {}

// The launcher, in the supervisor's child: takes the job's user (if any),
// then opens the job's log as that user, so nothing planted in the job
// directory leads the daemon's identity anywhere, and starts in the job's
// directory. Files the job makes are the user's alone and its group's to
// read (umask 027).
[[noreturn]] void StartLauncher(const SpawnPlan& plan) {
  if (plan.as != nullptr) {
    // Groups, then group, then user: after setuid nothing else may change.
    if (setgroups(plan.as->groups.size(), plan.as->groups.data()) != 0 || setgid(plan.as->gid) != 0 ||
        setuid(plan.as->uid) != 0)
      _exit(kExitNoIdentity);
  }
  umask(027);
  // Whatever stands at the log's name that is not a file of the user's
  // (a link, one it cannot write) is replaced: the directory is the user's.
  constexpr int kFlags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW;
  int log = open(plan.log_path.c_str(), kFlags, 0640);
  if (log < 0 && unlink(plan.log_path.c_str()) == 0) log = open(plan.log_path.c_str(), kFlags | O_EXCL, 0640);
  if (log < 0) _exit(kExitNoLog);
  WriteAll(log, plan.log_header.data(), plan.log_header.size());
  // The daemon's own working directory may be closed to the user (a root
  // daemon started in /root), and mpirun starts its ranks where it stands.
  if (plan.work_dir.rfind('/', 0) == 0 && chdir(plan.work_dir.c_str()) != 0) (void)chdir("/");
  dup2(log, STDOUT_FILENO);
  dup2(log, STDERR_FILENO);
  ExecOrDie(plan);
}

// The supervisor: keeps the attempt's lock (fd 3) while the launcher runs,
// survives the SIGTERM sent to its group so it can record how the launcher
// ended, and writes the exit file (atomically, durably) before exiting
// with the launcher's status. It keeps the daemon's identity: its lock and
// exit files are in the daemon's own directory, and the job's user can
// neither signal it nor write what it records.
[[noreturn]] void Supervise(const SpawnPlan& plan) {
  if (plan.lock_fd != 3) dup2(plan.lock_fd, 3);
  close_range(4, ~0u, 0);  // the daemon's sockets and database stay the daemon's
  fcntl(3, F_SETFD, FD_CLOEXEC);  // the launcher must not hold the lock
  char text[24];
  WriteAll(3, text, FormatInt((long)getpid(), text));
  struct sigaction sa {};
  sa.sa_handler = IgnoreButKeepDefaultAcrossExec;  // a handler, unlike SIG_IGN, is reset by exec
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaction(sig, &sa, nullptr);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  const pid_t child = fork();
  if (child == 0) StartLauncher(plan);
  int code = 127;
  if (child > 0) {
    int status = 0;
    pid_t r;
    while ((r = waitpid(child, &status, 0)) < 0 && errno == EINTR) {
    }
    if (r == child) code = ExitCode(status);
  }
  const int fd = open(plan.exit_tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0640);
  if (fd >= 0) {
    WriteAll(fd, text, FormatInt(code, text));
    fsync(fd);
    close(fd);
    rename(plan.exit_tmp.c_str(), plan.exit_path.c_str());
  }
  _exit(code);
}

// fork, then in the child: its own session and process group (stopping the
// job reaches every process it started, and a daemon crash leaves it
// alone), then exec with output to the log or, supervised, Supervise
// (which says nothing itself: its launcher opens the log).
Result<pid_t> Spawn(const SpawnPlan& plan) {
  const pid_t pid = fork();
  if (pid < 0) return Status::Internal(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    setsid();
    const int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    const int out = plan.lock_fd >= 0 ? devnull : plan.log_fd;
    dup2(out, STDOUT_FILENO);
    dup2(out, STDERR_FILENO);
    if (plan.lock_fd >= 0) Supervise(plan);
    ExecOrDie(plan);
  }
  return pid;
}

// A log of the daemon's own (scancel's output): in the daemon's directory.
Result<int> OpenDaemonLog(const std::string& log_path, const std::string& header) {
  const int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
  if (fd < 0) return Status::IOError(log_path + ": " + std::strerror(errno));
  WriteAll(fd, header.data(), header.size());
  return fd;
}

// The number in a small text file, or `fallback`.
long ReadNumber(const std::string& path, long fallback) {
  std::ifstream in(path);
  long v = 0;
  return (in >> v) ? v : fallback;
}

bool GroupExists(int64_t pgid) { return pgid > 1 && (kill(-(pid_t)pgid, 0) == 0 || errno == EPERM); }

// Processes left in the group of a supervisor that was killed before it
// could record an exit (so perhaps before its launcher ended): killed, and
// waited for, so that nothing of the attempt trains on. The kernel does not
// reuse a number as a process id while a group of that number has members,
// so a group found here is the attempt's.
void KillStragglers(int64_t pgid) {
  if (!GroupExists(pgid)) return;
  kill(-(pid_t)pgid, SIGKILL);
  for (int i = 0; i < 200 && GroupExists(pgid); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
}

}  // namespace

Result<RunAs> LookUpUser(const std::string& name) {
  struct passwd pw {};
  struct passwd* found = nullptr;
  std::vector<char> buf(16384);
  if (getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr)
    return Status::InvalidArgument("--run-as " + name + ": no such user");
  RunAs as;
  as.uid = pw.pw_uid;
  as.gid = pw.pw_gid;
  as.name = name;
  as.home = pw.pw_dir != nullptr ? pw.pw_dir : "/";
  int n = 64;
  as.groups.resize(n);
  if (getgrouplist(name.c_str(), as.gid, as.groups.data(), &n) < 0) {
    as.groups.resize(n);
    (void)getgrouplist(name.c_str(), as.gid, as.groups.data(), &n);
  }
  as.groups.resize(n);
  return as;
}

JobProcesses::~JobProcesses() {
  std::lock_guard<std::mutex> lock(shared_->callback_mu);
  shared_->closed = true;
}

void JobProcesses::SetExitCallback(ExitCallback callback) {
  std::lock_guard<std::mutex> lock(shared_->callback_mu);
  shared_->on_exit = std::move(callback);
}

void JobProcesses::Shared::Report(const std::string& job_id, int exit_code) {
  std::lock_guard<std::mutex> lock(callback_mu);
  if (!closed && on_exit) on_exit(job_id, exit_code);
}

Result<int64_t> JobProcesses::Start(const std::string& job_id, const std::vector<std::string>& argv,
                                    const std::string& log_path, const AttemptFiles& files,
                                    const std::vector<std::string>& env, const RunAs* as) {
  // Locked before the fork and shared with the supervisor: from here on, a
  // daemon that dies leaves the lock held by the supervisor, never free
  // while the attempt may still start.
  const int lock_fd = open(files.lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
  if (lock_fd < 0) return Status::IOError(files.lock_path + ": " + std::strerror(errno));
  if (flock(lock_fd, LOCK_EX | LOCK_NB) != 0 || ftruncate(lock_fd, 0) != 0) {
    close(lock_fd);
    return Status::FailedPrecondition(files.lock_path + " is held: this attempt already runs");
  }
  std::vector<std::string> full_env = env;
  if (as != nullptr) full_env.insert(full_env.end(), {"HOME=" + as->home, "USER=" + as->name, "LOGNAME=" + as->name});
  SpawnPlan plan = PlanSpawn(argv, full_env);
  plan.lock_fd = lock_fd;
  plan.as = as;
  plan.log_path = log_path;
  plan.work_dir = log_path.substr(0, log_path.rfind('/') + 1);
  plan.exit_path = files.exit_path;
  plan.exit_tmp = files.exit_path + ".tmp";
  unlink(files.exit_path.c_str());
  Result<pid_t> pid = Spawn(plan);
  close(lock_fd);
  if (!pid.ok()) return pid.status();
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    shared_->running[job_id] = *pid;
  }
  std::thread([shared = shared_, pid = *pid, job_id] {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    {
      std::lock_guard<std::mutex> lock(shared->mu);
      shared->running.erase(job_id);
    }
    shared->Report(job_id, ExitCode(status));
  }).detach();
  return (int64_t)*pid;
}

Orphan JobProcesses::Adopt(const std::string& job_id, const AttemptFiles& files) {
  Orphan out;
  const int fd = open(files.lock_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return out;  // the attempt never forked: kGone
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    // Held: the supervisor lives. Its first act is to write its process
    // group into the lock; give it a moment if it has just started.
    long pgid = 0;
    for (int i = 0; i < 40 && (pgid = ReadNumber(files.lock_path, 0)) <= 1; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    out.state = Orphan::State::kRunning;
    out.process_group = pgid;
    {
      std::lock_guard<std::mutex> lock(shared_->mu);
      shared_->running[job_id] = pgid;
    }
    std::thread([shared = shared_, job_id, fd, exit_path = files.exit_path] { Follow(shared, job_id, fd, exit_path); })
        .detach();
    return out;
  }
  close(fd);
  const long code = ReadNumber(files.exit_path, -1);
  if (code >= 0) {
    out.state = Orphan::State::kExited;
    out.exit_code = (int)code;
  } else {
    KillStragglers(ReadNumber(files.lock_path, 0));
  }
  return out;
}

// An adopted attempt is not this daemon's child: its end is the release of
// the supervisor's lock, its status the exit file.
void JobProcesses::Follow(std::shared_ptr<Shared> shared, const std::string& job_id, int lock_fd,
                          const std::string& exit_path) {
  while (flock(lock_fd, LOCK_EX) != 0 && errno == EINTR) {
  }
  close(lock_fd);
  int64_t pgid = 0;
  {
    std::lock_guard<std::mutex> lock(shared->mu);
    auto it = shared->running.find(job_id);
    if (it != shared->running.end()) pgid = it->second;
    shared->running.erase(job_id);
  }
  // No exit file: the supervisor itself was killed (SIGKILL after the grace
  // period, or by hand), perhaps before the launcher it started.
  long code = ReadNumber(exit_path, -1);
  if (code < 0) {
    KillStragglers(pgid);
    code = 128 + SIGKILL;
  }
  shared->Report(job_id, (int)code);
}

Status JobProcesses::Stop(const std::string& job_id) {
  int64_t pgid = 0;
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    auto it = shared_->running.find(job_id);
    if (it == shared_->running.end()) return Status::OK();  // already gone
    pgid = it->second;
  }
  if (pgid <= 1) return Status::Internal("job " + job_id + ": its process group is unknown");
  kill(-(pid_t)pgid, SIGTERM);
  std::thread([shared = shared_, pgid, job_id, grace = kill_grace_s_] {
    std::this_thread::sleep_for(std::chrono::duration<double>(grace));
    std::lock_guard<std::mutex> lock(shared->mu);
    if (shared->running.count(job_id)) kill(-(pid_t)pgid, SIGKILL);
  }).detach();
  return Status::OK();
}

int RunToCompletion(const std::vector<std::string>& argv, const std::string& log_path,
                    const std::vector<std::string>& env, double timeout_s) {
  SpawnPlan plan = PlanSpawn(argv, env);
  Result<int> fd = OpenDaemonLog(log_path, plan.log_header);
  if (!fd.ok()) fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  plan.log_fd = *fd;
  Result<pid_t> pid = Spawn(plan);
  close(*fd);
  if (!pid.ok()) return -1;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  int status = 0;
  for (;;) {
    const pid_t done = waitpid(*pid, &status, WNOHANG);
    if (done == *pid) return ExitCode(status);
    if (done < 0 && errno != EINTR) return -1;
    if (std::chrono::steady_clock::now() > deadline) {
      kill(-*pid, SIGKILL);
      waitpid(*pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace meridian::scheduler
