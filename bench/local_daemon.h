// A meridian-scheduler a benchmark starts on this machine: the binary next
// to meridian-bench, on a loopback port, stopped (SIGTERM) when destroyed.
// And the other programs a benchmark runs (meridian-data, openssl).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "meridian/v1/scheduler.grpc.pb.h"

namespace meridian::bench {

// The directory meridian-bench runs from (where the other binaries are).
std::string BenchBinDir();

// Starts argv[0] (a path, or a name looked up in PATH) with its output
// appended to `log_path`; returns its PID.
pid_t SpawnLogged(const std::vector<std::string>& argv, const std::string& log_path);
// Runs it to the end; true when it exits 0.
bool RunLogged(const std::vector<std::string>& argv, const std::string& log_path);

class LocalDaemon {
 public:
  // `args` follow `--listen ADDRESS`; output goes to `log_path`.
  LocalDaemon(const std::vector<std::string>& args, const std::string& log_path);
  ~LocalDaemon();
  LocalDaemon(const LocalDaemon&) = delete;
  LocalDaemon& operator=(const LocalDaemon&) = delete;

  const std::string& address() const { return address_; }

 private:
  std::string address_;
  pid_t pid_ = -1;
};

// Until the daemon behind `stub` answers ListPools; false after 60 s.
bool WaitForScheduler(v1::Scheduler::Stub& stub);

}  // namespace meridian::bench
