// When a link between data centers is up: always, in periodic contact
// windows (a ground station's satellite passes: a window of `up_s` every
// `period_s`, the first opening `phase_s` after the Unix epoch), or in an
// explicit list of windows. Cluster files declare it, the test bed enforces
// it, the cost model prices the waits it causes, and DiLoCo's exchanges
// wait for a window.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace meridian {

struct LinkSchedule {
  double period_s = 0.0, up_s = 0.0, phase_s = 0.0;    // periodic; period 0: not periodic
  std::vector<std::pair<double, double>> windows;        // explicit [open, close) in Unix seconds

  bool always_up() const { return period_s <= 0.0 && windows.empty(); }

  // Share of time the link is up: up/period, or the windows' share of the
  // span from the first opening to the last closing.
  double DutyCycle() const;

  // Is the link up at Unix time t?
  bool UpAt(double t) const;

  // The earliest time >= t the link is up; +infinity after the last
  // explicit window.
  double NextUpAt(double t) const;

  // Expected seconds a transfer needing `busy_s` of link time takes when it
  // starts at a random moment: the wait for a window (a closed gap of g
  // met with probability g/cycle, waited g/2 on average) plus the transfer
  // plus the gaps it must sit out when it outlasts a window.
  double ExpectedTransferSeconds(double busy_s) const;

  // "always up", "600 s every 5400 s (11%)", "3 windows (25%)".
  std::string Describe() const;
};

// The most explicit windows a schedule may list (cluster files, the window
// text below): the list travels to every rank in its assignment.
inline constexpr size_t kMaxLinkWindows = 10000;

// A schedule as command lines give it (meridian-train's --wan-window, the
// test bed's --window), in seconds:
//   "PERIOD:UP[:PHASE]"          periodic: UP of every PERIOD, from PHASE
//   "@OPEN-CLOSE,OPEN-CLOSE,..." explicit [open, close) windows, Unix time
// Decimals and exponents are allowed; the windows must satisfy
// ValidateLinkSchedule, and at most kMaxLinkWindows of them. InvalidArgument
// naming `option` and the text when it is neither.
Result<LinkSchedule> ParseWindowSpec(const std::string& text, const std::string& option);

// The text ParseWindowSpec reads back to the same schedule, exactly (17
// significant digits): "PERIOD:UP:PHASE" or "@OPEN-CLOSE,..."; empty for
// a link that is always up.
std::string FormatWindowSpec(const LinkSchedule& schedule);

// InvalidArgument naming `where` and the field: up_s in (0, period_s],
// phase_s >= 0, windows with open < close, in order and not overlapping,
// no more than kMaxLinkWindows of them.
Status ValidateLinkSchedule(const LinkSchedule& schedule, const std::string& where);

}  // namespace meridian
