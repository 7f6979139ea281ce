#include "common/link_schedule.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>
#include <system_error>

namespace meridian {

namespace {

// Mean length of a closed gap, and of an open window, over the schedule.
struct Cycle {
  double up = 0.0, gap = 0.0;
};

Cycle MeanCycle(const LinkSchedule& s) {
  if (s.period_s > 0.0) return {s.up_s, s.period_s - s.up_s};
  Cycle c;
  const size_t n = s.windows.size();
  for (const auto& [open, close] : s.windows) c.up += (close - open) / n;
  // The gaps between consecutive windows: from the first opening to the last
  // one, less the windows open in between, over the n - 1 gaps.
  if (n > 1) {
    double open_time = 0.0;
    for (size_t i = 0; i + 1 < n; ++i) open_time += s.windows[i].second - s.windows[i].first;
    c.gap = (s.windows.back().first - s.windows.front().first - open_time) / (n - 1);
  }
  return c;
}

}  // namespace

double LinkSchedule::DutyCycle() const {
  if (always_up()) return 1.0;
  const Cycle c = MeanCycle(*this);
  return c.up + c.gap > 0.0 ? c.up / (c.up + c.gap) : 1.0;
}

bool LinkSchedule::UpAt(double t) const {
  if (always_up()) return true;
  if (period_s > 0.0) {
    const double into = std::fmod(std::fmod(t - phase_s, period_s) + period_s, period_s);
    return into < up_s;
  }
  for (const auto& [open, close] : windows)
    if (t >= open && t < close) return true;
  return false;
}

double LinkSchedule::NextUpAt(double t) const {
  if (UpAt(t)) return t;
  if (period_s > 0.0) {
    const double into = std::fmod(std::fmod(t - phase_s, period_s) + period_s, period_s);
    return t + (period_s - into);
  }
  for (const auto& [open, close] : windows)
    if (open > t) return open;
  return std::numeric_limits<double>::infinity();
}

double LinkSchedule::ExpectedTransferSeconds(double busy_s) const {
  if (always_up() || busy_s <= 0.0) return std::max(0.0, busy_s);
  const Cycle c = MeanCycle(*this);
  if (c.up <= 0.0) return std::numeric_limits<double>::infinity();
  const double cycle = c.up + c.gap;
  const double wait = c.gap / cycle * c.gap / 2.0;
  // A transfer longer than a window waits out a gap for each window it fills.
  const double stalls = std::floor(busy_s / c.up) * c.gap;
  return wait + busy_s + stalls;
}

std::string LinkSchedule::Describe() const {
  if (always_up()) return "always up";
  std::ostringstream os;
  if (period_s > 0.0)
    os << up_s << " s every " << period_s << " s";
  else
    os << windows.size() << " window" << (windows.size() == 1 ? "" : "s");
  os << " (" << std::lround(100.0 * DutyCycle()) << "% up)";
  return os.str();
}

namespace {

// A window list may be long: errors show its start.
std::string Shown(const std::string& text) {
  constexpr size_t kShown = 80;
  if (text.size() <= kShown) return text;
  return text.substr(0, kShown) + "... (" + std::to_string(text.size()) + " characters)";
}

// A finite number of seconds at p (before end), which moves past it.
bool ReadSeconds(const char*& p, const char* end, double* seconds) {
  const auto [next, error] = std::from_chars(p, end, *seconds);
  if (error != std::errc() || !std::isfinite(*seconds)) return false;
  p = next;
  return true;
}

// "@OPEN-CLOSE,OPEN-CLOSE,...": a number's own sign is read with it, so
// "-10--5" is the window [-10, -5).
Result<LinkSchedule> ParseWindowList(const std::string& text, const std::string& option) {
  const std::string prefix = option + " = " + Shown(text) + ": ";
  LinkSchedule s;
  const char* p = text.data() + 1;
  const char* const end = text.data() + text.size();
  for (;;) {
    const std::string which = "windows[" + std::to_string(s.windows.size()) + "]";
    if (s.windows.size() == kMaxLinkWindows)
      return Status::InvalidArgument(prefix + "more than " + std::to_string(kMaxLinkWindows) + " windows");
    double open = 0.0, close = 0.0;
    if (!ReadSeconds(p, end, &open) || p == end || *p != '-' || !ReadSeconds(++p, end, &close))
      return Status::InvalidArgument(prefix + which +
                                     ": expected OPEN-CLOSE in Unix seconds (@OPEN-CLOSE,OPEN-CLOSE,...)");
    s.windows.emplace_back(open, close);
    if (p == end) break;
    if (*p != ',') return Status::InvalidArgument(prefix + which + ": expected ',' between windows");
    ++p;
  }
  const Status valid = ValidateLinkSchedule(s, option);
  if (!valid.ok()) {
    // "OPTION.windows[i] = x: why" becomes "OPTION = TEXT: windows[i] = x: why".
    const std::string& m = valid.message();
    const bool named = m.compare(0, option.size() + 1, option + ".") == 0;
    return Status::InvalidArgument(prefix + (named ? m.substr(option.size() + 1) : m));
  }
  return s;
}

}  // namespace

Result<LinkSchedule> ParseWindowSpec(const std::string& text, const std::string& option) {
  if (!text.empty() && text[0] == '@') return ParseWindowList(text, option);
  LinkSchedule s;
  char tail = 0;
  const int got = std::sscanf(text.c_str(), "%lf:%lf:%lf%c", &s.period_s, &s.up_s, &s.phase_s, &tail);
  const Status valid = ValidateLinkSchedule(s, option);
  if ((got != 2 && got != 3) || !(s.period_s > 0.0) || !valid.ok())
    return Status::InvalidArgument(option + " = " + Shown(text) +
                                   ": expected PERIOD:UP[:PHASE] seconds with 0 < UP <= PERIOD, or "
                                   "@OPEN-CLOSE,OPEN-CLOSE,... Unix seconds");
  return s;
}

std::string FormatWindowSpec(const LinkSchedule& s) {
  if (s.always_up()) return "";
  std::ostringstream os;
  os.precision(17);
  if (s.period_s > 0.0) {
    os << s.period_s << ":" << s.up_s << ":" << s.phase_s;
    return os.str();
  }
  os << "@";
  for (size_t i = 0; i < s.windows.size(); ++i)
    os << (i ? "," : "") << s.windows[i].first << "-" << s.windows[i].second;
  return os.str();
}

Status ValidateLinkSchedule(const LinkSchedule& s, const std::string& where) {
  auto bad = [&](const std::string& field, double value, const std::string& why) {
    std::ostringstream os;
    os.precision(15);  // Unix seconds whole, not 1.796e+09
    os << where << "." << field << " = " << value << ": " << why;
    return Status::InvalidArgument(os.str());
  };
  if (s.period_s > 0.0 && !s.windows.empty())
    return Status::InvalidArgument(where + ": give a periodic window or a list of windows, not both");
  if (s.period_s > 0.0) {
    if (!(s.up_s > 0.0) || s.up_s > s.period_s) return bad("window.up_s", s.up_s, "must be in (0, period_s]");
    if (s.phase_s < 0.0) return bad("window.phase_s", s.phase_s, "must be >= 0");
  }
  if (s.windows.size() > kMaxLinkWindows)
    return Status::InvalidArgument(where + ".windows: " + std::to_string(s.windows.size()) + " windows, more than " +
                                   std::to_string(kMaxLinkWindows));
  for (size_t i = 0; i < s.windows.size(); ++i) {
    const auto& [open, close] = s.windows[i];
    const std::string field = "windows[" + std::to_string(i) + "]";
    if (!(close > open)) return bad(field, open, "must close after it opens");
    if (i > 0 && open < s.windows[i - 1].second) return bad(field, open, "must open after the previous window closes");
  }
  return Status::OK();
}

}  // namespace meridian
