#include "common/progress_bar.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace meridian {

namespace {

constexpr int kBarWidth = 20;
constexpr int64_t kRedrawNs = 100'000'000;  // ten lines a second at most

std::string Amount(double v, ProgressBar::Unit unit) {
  char text[32];
  if (unit == ProgressBar::Unit::kItems) {
    std::snprintf(text, sizeof(text), "%.0f", v);
    return text;
  }
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (v >= 1024 && u < 4) v /= 1024, ++u;
  std::snprintf(text, sizeof(text), u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return text;
}

}  // namespace

bool ProgressBar::Enabled() {
  const char* mode = std::getenv("MERIDIAN_PROGRESS");
  if (mode != nullptr && std::strcmp(mode, "never") == 0) return false;
  if (mode != nullptr && std::strcmp(mode, "always") == 0) return true;
  const char* format = std::getenv("MERIDIAN_LOG_FORMAT");
  if (format != nullptr && std::strcmp(format, "json") == 0) return false;
  return isatty(STDERR_FILENO) != 0;
}

ProgressBar::ProgressBar(std::string label, uint64_t total, Unit unit)
    : label_(std::move(label)), total_(total), unit_(unit), shown_(Enabled()) {}

ProgressBar::~ProgressBar() { Finish(); }

std::string ProgressBar::Render(const std::string& label, uint64_t done, uint64_t total, Unit unit, double seconds) {
  std::string line = label;
  const double rate = seconds > 0 ? done / seconds : 0.0;
  if (total > 0) {
    const double f = done >= total ? 1.0 : (double)done / (double)total;
    const int filled = static_cast<int>(f * kBarWidth);
    line += " [" + std::string(filled, '#') + std::string(kBarWidth - filled, '.') + "]";
    char percent[8];
    std::snprintf(percent, sizeof(percent), " %3d%%", static_cast<int>(f * 100));
    line += percent;
    line += "  " + Amount((double)done, unit) + "/" + Amount((double)total, unit);
  } else {
    line += "  " + Amount((double)done, unit);
  }
  line += "  " + Amount(rate, unit) + "/s";
  if (total > 0 && done < total && rate > 0) {
    char eta[32];
    std::snprintf(eta, sizeof(eta), "  ETA %.0fs", (double)(total - done) / rate);
    line += eta;
  }
  return line;
}

void ProgressBar::Advance(uint64_t n) {
  done_.fetch_add(n, std::memory_order_relaxed);
  if (!shown_) return;
  const int64_t now =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start_).count();
  int64_t last = last_draw_ns_.load(std::memory_order_relaxed);
  // One thread draws per interval; the others go on.
  if (now - last < kRedrawNs || !last_draw_ns_.compare_exchange_strong(last, now)) return;
  Draw(false);
}

void ProgressBar::Finish() {
  if (!shown_) return;
  Draw(true);
}

void ProgressBar::Draw(bool final) {
  std::lock_guard<std::mutex> lock(draw_mu_);
  if (finished_) return;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const std::string line = Render(label_, done_.load(), total_, unit_, seconds);
  // \r and erase-to-end-of-line: a shorter line leaves nothing behind.
  std::fprintf(stderr, "\r%s\033[K%s", line.c_str(), final ? "\n" : "");
  std::fflush(stderr);
  finished_ = final;
}

}  // namespace meridian
