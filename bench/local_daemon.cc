#include "bench/local_daemon.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include <grpcpp/grpcpp.h>

namespace meridian::bench {

LocalDaemon::LocalDaemon(const std::vector<std::string>& args, const std::string& log_path) {
  address_ = "127.0.0.1:" + std::to_string(30000 + (int)(getpid() % 20000));
  std::vector<std::string> argv = {
      std::filesystem::canonical("/proc/self/exe").parent_path().string() + "/meridian-scheduler", "--listen",
      address_};
  argv.insert(argv.end(), args.begin(), args.end());
  pid_ = fork();
  if (pid_ == 0) {
    if (FILE* f = std::fopen(log_path.c_str(), "a")) {
      dup2(fileno(f), STDOUT_FILENO);
      dup2(fileno(f), STDERR_FILENO);
    }
    std::vector<char*> c;
    for (std::string& a : argv) c.push_back(a.data());
    c.push_back(nullptr);
    execv(c[0], c.data());
    _exit(127);
  }
}

LocalDaemon::~LocalDaemon() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  waitpid(pid_, nullptr, 0);
}

bool WaitForScheduler(v1::Scheduler::Stub& stub) {
  for (int i = 0; i < 100; ++i) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
    v1::ListPoolsResponse r;
    if (stub.ListPools(&ctx, v1::ListPoolsRequest(), &r).ok()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

}  // namespace meridian::bench
