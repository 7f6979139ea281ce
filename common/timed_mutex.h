// A mutex that reports how long each holder kept it. The scheduler core's
// lock is taken by every heartbeat and RPC: a long hold delays them all,
// so the daemon's metrics and meridian-sim report the holds.
// Meets Lockable: std::lock_guard and std::condition_variable_any take it
// (a wait releases it, and the hold ends there).
#pragma once

#include <chrono>
#include <functional>
#include <mutex>

namespace meridian {

class TimedMutex {
 public:
  // Called with each hold's seconds, after the release (so it may take
  // its own locks); set before any thread takes this mutex.
  void OnRelease(std::function<void(double seconds)> observe) { observe_ = std::move(observe); }

  void lock() {
    mu_.lock();
    since_ = Clock::now();
  }
  bool try_lock() {
    if (!mu_.try_lock()) return false;
    since_ = Clock::now();
    return true;
  }
  void unlock() {
    const double held = std::chrono::duration<double>(Clock::now() - since_).count();
    mu_.unlock();
    if (observe_) observe_(held);
  }

 private:
  using Clock = std::chrono::steady_clock;
  std::mutex mu_;
  Clock::time_point since_;  // written and read only by the holder
  std::function<void(double)> observe_;
};

}  // namespace meridian
