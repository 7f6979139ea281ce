#include "runtime/comm/watchdog.h"

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "common/log.h"
#include "runtime/comm/communicator.h"

namespace meridian {

namespace {

struct WatchState {
  std::mutex mu;
  std::condition_variable cv;
  bool active = false;
  std::string what;
  std::chrono::steady_clock::time_point start;
  bool thread_started = false;
};

WatchState& State() {
  static WatchState* state = new WatchState();  // never destroyed: the thread outlives main's statics
  return *state;
}

double g_timeout_s = 0.0;
std::string g_context;

int WorldRankFromEnvironment() {
  for (const char* var : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"}) {
    if (const char* v = std::getenv(var)) return std::atoi(v);
  }
  return 0;
}

void WatchLoop() {
  WatchState& s = State();
  std::unique_lock<std::mutex> lock(s.mu);
  for (;;) {
    s.cv.wait_for(lock, std::chrono::milliseconds(100));
    if (!s.active || g_timeout_s <= 0) continue;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - s.start).count();
    if (elapsed > g_timeout_s) WatchdogAbort(s.what);
  }
}

}  // namespace

void SetCommTimeout(double seconds) { g_timeout_s = seconds; }
double CommTimeout() { return g_timeout_s; }
void SetCommContext(const std::string& context) {
  std::lock_guard<std::mutex> lock(State().mu);
  g_context = context;
}
const std::string& CommContext() { return g_context; }

WatchScope::WatchScope(const std::string& what) {
  WatchState& s = State();
  std::lock_guard<std::mutex> lock(s.mu);
  s.active = true;
  s.what = what;
  s.start = std::chrono::steady_clock::now();
  if (!s.thread_started && g_timeout_s > 0) {
    std::thread(WatchLoop).detach();
    s.thread_started = true;
  }
}

WatchScope::~WatchScope() {
  WatchState& s = State();
  std::lock_guard<std::mutex> lock(s.mu);
  s.active = false;
}

void WatchdogAbort(const std::string& what) {
  // May run on the watchdog thread while the main thread sits in MPI, so it
  // makes no MPI call: exiting non-zero is what makes mpirun end the job.
  Logger("comm")->critical(
      "[rank {}] watchdog: {} has not completed after {:.1f} s ({}); aborting the job "
      "(raise --comm-timeout if this is only slow)",
      WorldRankFromEnvironment(), what, g_timeout_s, g_context.empty() ? "no context" : g_context.c_str());
  std::fflush(stderr);
  std::_Exit(3);
}

}  // namespace meridian
