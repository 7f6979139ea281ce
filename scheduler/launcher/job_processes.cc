#include "scheduler/launcher/job_processes.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace meridian::scheduler {

namespace {

// fork + exec with its own session, output appended to `log_fd`.
Result<pid_t> Spawn(const std::vector<std::string>& argv, int log_fd, const std::vector<std::string>& env) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // The environment is built before fork: the child of a threaded process
  // must not allocate.
  std::vector<std::string> overridden;
  for (const std::string& e : env) overridden.push_back(e.substr(0, e.find('=') + 1));
  std::vector<char*> envp;
  for (char** e = environ; *e != nullptr; ++e) {
    bool replaced = false;
    for (const std::string& name : overridden) replaced |= std::strncmp(*e, name.c_str(), name.size()) == 0;
    if (!replaced) envp.push_back(*e);
  }
  for (const std::string& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return Status::Internal(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    // Child: its own session and process group, so stopping the job reaches
    // every process it started, and a daemon crash leaves it killable.
    setsid();
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    const int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    execvpe(args[0], args.data(), envp.data());
    std::fprintf(stderr, "exec %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  return pid;
}

int ExitCode(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

Result<int> OpenLog(const std::string& log_path, const std::vector<std::string>& argv) {
  const int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError(log_path + ": " + std::strerror(errno));
  std::string line = "+";
  for (const std::string& a : argv) line += " " + a;
  line += "\n";
  (void)!write(fd, line.data(), line.size());
  return fd;
}

}  // namespace

Result<int64_t> JobProcesses::Start(const std::string& job_id, const std::vector<std::string>& argv,
                                    const std::string& log_path, const std::vector<std::string>& env) {
  MERIDIAN_ASSIGN_OR_RETURN(int fd, OpenLog(log_path, argv));
  Result<pid_t> pid = Spawn(argv, fd, env);
  close(fd);
  if (!pid.ok()) return pid.status();
  {
    std::lock_guard<std::mutex> lock(mu_);
    running_[job_id] = *pid;
  }
  std::thread([this, pid = *pid, job_id] {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      running_.erase(job_id);
    }
    if (on_exit_) on_exit_(job_id, ExitCode(status));
  }).detach();
  return (int64_t)*pid;
}

Status JobProcesses::Stop(const std::string& job_id) {
  int64_t pgid = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = running_.find(job_id);
    if (it == running_.end()) return Status::OK();  // already gone
    pgid = it->second;
  }
  kill(-(pid_t)pgid, SIGTERM);
  std::thread([this, pgid, job_id, grace = kill_grace_s_] {
    std::this_thread::sleep_for(std::chrono::duration<double>(grace));
    std::lock_guard<std::mutex> lock(mu_);
    if (running_.count(job_id)) kill(-(pid_t)pgid, SIGKILL);
  }).detach();
  return Status::OK();
}

void JobProcesses::KillGroup(int64_t process_group) {
  if (process_group > 1) kill(-(pid_t)process_group, SIGKILL);
}

int RunToCompletion(const std::vector<std::string>& argv, const std::string& log_path,
                    const std::vector<std::string>& env, double timeout_s) {
  Result<int> fd = OpenLog(log_path, argv);
  if (!fd.ok()) fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  Result<pid_t> pid = Spawn(argv, *fd, env);
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
