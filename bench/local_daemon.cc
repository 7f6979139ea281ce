#include "bench/local_daemon.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include <grpcpp/grpcpp.h>

namespace meridian::bench {

std::string BenchBinDir() { return std::filesystem::canonical("/proc/self/exe").parent_path().string(); }

pid_t SpawnLogged(const std::vector<std::string>& argv, const std::string& log_path) {
  const pid_t pid = fork();
  if (pid == 0) {
    if (FILE* f = std::fopen(log_path.c_str(), "a")) {
      dup2(fileno(f), STDOUT_FILENO);
      dup2(fileno(f), STDERR_FILENO);
    }
    std::vector<char*> c;
    for (const std::string& a : argv) c.push_back(const_cast<char*>(a.c_str()));
    c.push_back(nullptr);
    execvp(c[0], c.data());
    _exit(127);
  }
  return pid;
}

bool RunLogged(const std::vector<std::string>& argv, const std::string& log_path) {
  const pid_t pid = SpawnLogged(argv, log_path);
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return false;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

LocalDaemon::LocalDaemon(const std::vector<std::string>& args, const std::string& log_path) {
  address_ = "127.0.0.1:" + std::to_string(30000 + (int)(getpid() % 20000));
  std::vector<std::string> argv = {BenchBinDir() + "/meridian-scheduler", "--listen", address_};
  argv.insert(argv.end(), args.begin(), args.end());
  pid_ = SpawnLogged(argv, log_path);
}

LocalDaemon::~LocalDaemon() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  waitpid(pid_, nullptr, 0);
}

bool WaitForScheduler(v1::Scheduler::Stub& stub) {
  // One call that waits for the connection (a busy machine can take
  // seconds for a TLS handshake), rather than fail-fast retries that the
  // channel's reconnect backoff would space out.
  grpc::ClientContext ctx;
  ctx.set_wait_for_ready(true);
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  v1::ListPoolsResponse r;
  return stub.ListPools(&ctx, v1::ListPoolsRequest(), &r).ok();
}

}  // namespace meridian::bench
