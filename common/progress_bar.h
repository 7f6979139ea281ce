// A progress bar on stderr for a step that takes a while (writing or
// reading a checkpoint, a benchmark's measured runs): one line rewritten
// in place, at most ten times a second, ended by Finish with the totals
// and the rate.
//
//   checkpoint step 1000 [###########.........]  55%  1.2/2.1 GiB  410 MiB/s  ETA 2s
//
// Drawn only where a person watches: stderr is a terminal and the logs are
// not JSON (MERIDIAN_LOG_FORMAT=json). MERIDIAN_PROGRESS=never turns bars
// off, MERIDIAN_PROGRESS=always on (tests). Otherwise a bar costs an
// atomic add per Advance.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace meridian {

class ProgressBar {
 public:
  enum class Unit { kBytes, kItems };
  // total 0: unknown (the bar shows the count and rate, no percentage).
  ProgressBar(std::string label, uint64_t total, Unit unit = Unit::kBytes);
  ~ProgressBar();  // Finish()
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // Thread-safe.
  void Advance(uint64_t n);
  // The last line, once; later calls and Advance do nothing more.
  void Finish();

  bool shown() const { return shown_; }
  uint64_t done() const { return done_.load(); }
  // The line for `done` of `total` after `seconds` (what is drawn).
  static std::string Render(const std::string& label, uint64_t done, uint64_t total, Unit unit, double seconds);
  // Whether bars are drawn in this process (see the file comment).
  static bool Enabled();

 private:
  void Draw(bool final);

  const std::string label_;
  const uint64_t total_;
  const Unit unit_;
  const bool shown_;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::atomic<uint64_t> done_{0};
  std::atomic<int64_t> last_draw_ns_{0};
  std::mutex draw_mu_;
  bool finished_ = false;
};

}  // namespace meridian
