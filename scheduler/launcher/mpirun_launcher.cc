#include "scheduler/launcher/mpirun_launcher.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

namespace meridian::scheduler {

std::string MpirunLauncher::LogPath(const std::string& job_id) const {
  return options_.state_dir + "/jobs/" + job_id + "/output.log";
}

std::vector<std::string> MpirunLauncher::CommandFor(const v1::Job& job) const {
  // Hosts in rank order, with how many consecutive ranks each takes.
  std::vector<std::pair<std::string, int>> hosts;
  for (const v1::RankAssignment& r : job.placement().ranks()) {
    const std::string host = r.host().empty() ? "localhost" : r.host();
    if (!hosts.empty() && hosts.back().first == host) ++hosts.back().second;
    else hosts.push_back({host, 1});
  }
  std::map<std::string, int> slots;
  for (const auto& [h, n] : hosts) slots[h] += n;
  std::string host_list;
  for (const auto& [h, n] : slots) host_list += (host_list.empty() ? "" : ",") + h + ":" + std::to_string(n);
  std::vector<std::string> cmd = {options_.mpirun};
  if (geteuid() == 0) cmd.push_back("--allow-run-as-root");
  for (const std::string& a : {"--oversubscribe", "--bind-to", "none", "--mca", "btl_vader_single_copy_mechanism",
                               "none", "--mca", "mpi_yield_when_idle", "1"})
    cmd.push_back(a);
  cmd.insert(cmd.end(), options_.mpirun_args.begin(), options_.mpirun_args.end());
  const std::string dir = options_.state_dir + "/jobs/" + job.id();
  for (const std::string& a : {std::string("-np"), std::to_string(job.placement().ranks_size()), std::string("-H"),
                               host_list, options_.train_binary, std::string("--scheduler"),
                               options_.scheduler_address, std::string("--job"), job.id(),
                               std::string("--checkpoint-dir"), dir + "/checkpoints", std::string("--resume"),
                               std::string("--metrics-out"), dir + "/metrics.jsonl"})
    cmd.push_back(a);
  for (const std::string& a : job.spec().training().extra_args()) cmd.push_back(a);
  return cmd;
}

Result<int64_t> MpirunLauncher::Launch(const v1::Job& job) {
  const std::string dir = options_.state_dir + "/jobs/" + job.id();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IOError(dir + ": " + ec.message());
  const std::vector<std::string> cmd = CommandFor(job);
  const std::string log = LogPath(job.id());
  const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError(log + ": " + std::strerror(errno));
  std::string line;
  for (const std::string& a : cmd) line += a + " ";
  line = "+ " + line + "\n";
  (void)!write(fd, line.data(), line.size());

  std::vector<char*> argv;
  for (const std::string& a : cmd) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    close(fd);
    return Status::Internal(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    // Child: its own session and process group, so cancelling kills mpirun
    // and every rank it started, and a daemon crash leaves it killable.
    setsid();
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    const int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    execvp(argv[0], argv.data());
    std::fprintf(stderr, "exec %s: %s\n", argv[0], std::strerror(errno));
    _exit(127);
  }
  close(fd);
  {
    std::lock_guard<std::mutex> lock(mu_);
    running_[job.id()] = pid;
  }
  const std::string id = job.id();
  std::thread([this, pid, id] {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    {
      std::lock_guard<std::mutex> lock(mu_);
      running_.erase(id);
    }
    if (on_exit_) on_exit_(id, code);
  }).detach();
  return (int64_t)pid;
}

Status MpirunLauncher::Kill(const std::string& job_id) {
  int64_t pgid = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = running_.find(job_id);
    if (it == running_.end()) return Status::OK();  // already gone
    pgid = it->second;
  }
  kill(-(pid_t)pgid, SIGTERM);
  const double grace = options_.kill_grace_s;
  std::thread([this, pgid, job_id, grace] {
    std::this_thread::sleep_for(std::chrono::duration<double>(grace));
    std::lock_guard<std::mutex> lock(mu_);
    if (running_.count(job_id)) kill(-(pid_t)pgid, SIGKILL);
  }).detach();
  return Status::OK();
}

void MpirunLauncher::KillOrphan(int64_t process_group) {
  if (process_group > 1) kill(-(pid_t)process_group, SIGKILL);
}

}  // namespace meridian::scheduler
