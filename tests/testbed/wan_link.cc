// meridian-wan-link: the links between the test bed's data centers, with
// the delay this kernel cannot add (it has no netem, fq or cake). Each data
// center's network namespace gets a TUN device (`wan0`, made by the test
// bed) that routes every other data center's addresses into it; this
// program holds one descriptor per device and carries each packet to the
// device of its destination after the link's serialisation time at its
// rate, its one-way delay, jitter (never reordering a link's packets) and
// random loss. A link that is down drops everything; SIGHUP re-reads the
// control file, whose lines `down A B` take the link between data centers
// A and B down (both ways) until a later read no longer lists it. With
// --window PERIOD:UP[:PHASE] (seconds) every link between data centers is
// up only in contact windows, as a cluster file's `window:` declares them:
// UP seconds of every PERIOD, the first opening PHASE seconds after the Unix
// epoch (the same clock as the cluster file's).
//
//   meridian-wan-link --netns NS0 --netns NS1 ... [--hub NS] --rate 100mbit
//                     [--delay-ms 25] [--jitter-ms 0] [--loss 0] [--queue-ms 50] [--control FILE]
//                     [--window PERIOD:UP[:PHASE]]
//   meridian-wan-link --routed NS --rate 100mbit [the same options]
//
// A data center is the third number of its addresses: data center d is
// 10.213.d.0/24 in the slow-link bed (device d is its namespace's), and the
// hub (where mpirun runs) is 10.213.255.0/24, whose traffic is carried at
// once, unshaped: it is the launcher's control path, not the WAN. With
// --routed, one device in the router namespace NS carries every link: the
// router sends the traffic between data centers into it (the multi-host
// bed routes 10.78.A.x to 10.78.B.x so) and takes each packet back from it
// when it is due, to route it on; `down A B` and the windows then name the
// data centers by that number too.
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "common/link_schedule.h"

namespace {

constexpr int kHubIndex = 255;
volatile sig_atomic_t g_reload = 0, g_stop = 0;

double Now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// "100mbit", "1gbit", "500kbit" -> bits per second.
bool ParseRate(const std::string& text, double* bits_per_s) {
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (...) {
    return false;
  }
  const std::string unit = text.substr(used);
  const double scale = unit == "gbit" ? 1e9 : unit == "mbit" ? 1e6 : unit == "kbit" ? 1e3 : unit == "bit" ? 1 : 0;
  *bits_per_s = value * scale;
  return scale > 0 && value > 0;
}

// Opens the persistent TUN device `name` inside network namespace `ns`.
int OpenTunIn(const std::string& ns, const std::string& name) {
  const int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  const int target = open(("/var/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
  if (self < 0 || target < 0 || setns(target, CLONE_NEWNET) != 0) {
    std::fprintf(stderr, "meridian-wan-link: cannot enter namespace %s: %s\n", ns.c_str(), std::strerror(errno));
    return -1;
  }
  const int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
  ifreq ifr{};
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  const bool ok = fd >= 0 && ioctl(fd, TUNSETIFF, &ifr) == 0;
  const int err = errno;
  setns(self, CLONE_NEWNET);
  close(self);
  close(target);
  if (!ok) {
    std::fprintf(stderr, "meridian-wan-link: cannot attach to %s in %s: %s\n", name.c_str(), ns.c_str(),
                 std::strerror(err));
    if (fd >= 0) close(fd);
    return -1;
  }
  return fd;
}

struct Packet {
  double release_s;
  int to;
  std::vector<uint8_t> bytes;
};

// One direction of the link between two data centers.
struct Direction {
  double free_at_s = 0;      // when the link finishes serialising what it has
  double last_release_s = 0;  // its packets leave in order, whatever the jitter
  std::deque<Packet> queue;
};

struct Settings {
  double rate_bps = 100e6, delay_s = 0, jitter_s = 0, loss = 0, queue_s = 0.05;
  meridian::LinkSchedule window;  // every link's; default: always up
  // Links with a schedule of their own (--link-window), by data-center pair (low, high).
  std::map<std::pair<int, int>, meridian::LinkSchedule> link_windows;

  // Is the link between data centers a and b in its contact window now?
  bool InWindow(int a, int b) const {
    const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    auto it = link_windows.find({std::min(a, b), std::max(a, b)});
    return (it == link_windows.end() ? window : it->second).UpAt(now);
  }
};

// "A:B:SPEC" (SPEC as --window takes it) into the pair and its schedule.
bool ParseLinkWindow(const std::string& text, Settings* s) {
  const size_t first = text.find(':'), second = first == std::string::npos ? first : text.find(':', first + 1);
  if (second == std::string::npos) return false;
  int a = 0, b = 0;
  if (std::sscanf(text.substr(0, second).c_str(), "%d:%d", &a, &b) != 2 || a < 0 || b < 0 || a == b) return false;
  meridian::Result<meridian::LinkSchedule> parsed = meridian::ParseWindowSpec(text.substr(second + 1), "--link-window");
  if (!parsed.ok()) return false;
  s->link_windows[{std::min(a, b), std::max(a, b)}] = *parsed;
  return true;
}

std::set<std::pair<int, int>> ReadDownLinks(const std::string& path) {
  std::set<std::pair<int, int>> down;
  if (path.empty()) return down;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string verb;
    int a = -1, b = -1;
    if (words >> verb >> a >> b && verb == "down") down.insert({std::min(a, b), std::max(a, b)});
  }
  return down;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"meridian-wan-link: the test bed's links between data centers, with rate, delay, jitter and loss"};
  std::vector<std::string> namespaces;
  std::string hub, rate = "100mbit", control, device = "wan0", window;
  Settings s;
  double delay_ms = 0, jitter_ms = 0, queue_ms = 50;
  std::string routed;
  app.add_option("--netns", namespaces, "Data center d's namespace, in order (repeat)");
  app.add_option("--hub", hub, "The launcher's namespace (10.213.255.0/24), carried unshaped");
  app.add_option("--routed", routed, "One device in this router namespace carries every link")
      ->excludes("--netns", "--hub");
  app.add_option("--device", device, "The TUN device's name in every namespace");
  app.add_option("--rate", rate, "Each direction of each link: 100mbit, 1gbit, ...");
  app.add_option("--delay-ms", delay_ms, "One-way delay")->check(CLI::Range(0.0, 10000.0));
  app.add_option("--jitter-ms", jitter_ms, "Uniform jitter around the delay (order kept)")->check(CLI::Range(0.0, 10000.0));
  app.add_option("--loss", s.loss, "Probability a packet is dropped")->check(CLI::Range(0.0, 1.0));
  app.add_option("--queue-ms", queue_ms, "Most a link queues before it drops (tail drop)")->check(CLI::Range(1.0, 10000.0));
  app.add_option("--control", control, "File of `down A B` lines, re-read on SIGHUP");
  app.add_option("--window", window,
                 "PERIOD:UP[:PHASE] seconds, or @OPEN-CLOSE,... in Unix seconds: links between data centers are up "
                 "only then");
  std::vector<std::string> link_windows;
  app.add_option("--link-window", link_windows,
                 "A:B:SPEC: the link between data centers A and B has its own window (SPEC as --window); repeat");
  CLI11_PARSE(app, argc, argv);
  for (const std::string& w : link_windows) {
    if (!ParseLinkWindow(w, &s)) {
      std::fprintf(stderr, "meridian-wan-link: --link-window %s: expected A:B:PERIOD:UP[:PHASE] or A:B:@OPEN-CLOSE,...\n",
                   w.c_str());
      return 2;
    }
  }
  if (!window.empty()) {
    meridian::Result<meridian::LinkSchedule> parsed = meridian::ParseWindowSpec(window, "--window");
    if (!parsed.ok()) {
      std::fprintf(stderr, "meridian-wan-link: %s\n", parsed.status().message().c_str());
      return 2;
    }
    s.window = *parsed;
  }
  if (!ParseRate(rate, &s.rate_bps)) {
    std::fprintf(stderr, "meridian-wan-link: --rate %s: expected a number with bit, kbit, mbit or gbit\n", rate.c_str());
    return 2;
  }
  s.delay_s = delay_ms / 1e3;
  s.jitter_s = jitter_ms / 1e3;
  s.queue_s = queue_ms / 1e3;

  if (namespaces.empty() == routed.empty()) {
    std::fprintf(stderr, "meridian-wan-link: give the data centers' namespaces (--netns) or one router's (--routed)\n");
    return 2;
  }
  // Device i carries data center i, the hub's is last (index kHubIndex);
  // or the router's one device carries them all.
  std::vector<int> fds, index;
  for (size_t i = 0; i < namespaces.size(); ++i) {
    fds.push_back(OpenTunIn(namespaces[i], device));
    index.push_back((int)i);
  }
  if (!hub.empty()) {
    fds.push_back(OpenTunIn(hub, device));
    index.push_back(kHubIndex);
  }
  if (!routed.empty()) fds.push_back(OpenTunIn(routed, device));
  if (std::find(fds.begin(), fds.end(), -1) != fds.end()) return 1;
  auto device_of = [&](int dc) -> int {
    if (!routed.empty()) return 0;
    for (size_t i = 0; i < index.size(); ++i)
      if (index[i] == dc) return (int)i;
    return -1;
  };

  struct sigaction on_signal {};
  on_signal.sa_handler = [](int sig) {
    if (sig == SIGHUP) g_reload = 1;
    else g_stop = 1;
  };
  sigaction(SIGHUP, &on_signal, nullptr);
  sigaction(SIGTERM, &on_signal, nullptr);
  sigaction(SIGINT, &on_signal, nullptr);
  std::set<std::pair<int, int>> down = ReadDownLinks(control);

  const size_t n = fds.size();
  std::map<std::pair<int, int>, Direction> links;  // by (from, to) data center
  std::mt19937_64 rng(12345);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<pollfd> polls(n);
  for (size_t i = 0; i < n; ++i) polls[i] = {fds[i], POLLIN, 0};
  std::vector<uint8_t> buffer(65536);
  long carried = 0, dropped = 0;
  std::fprintf(stderr, "meridian-wan-link: %s, %s each way, delay %.1f ms, jitter %.1f ms, loss %g%s%s\n",
               routed.empty() ? (std::to_string(namespaces.size()) + " data centers").c_str()
                              : ("routed in " + routed).c_str(),
               rate.c_str(), delay_ms, jitter_ms, s.loss, window.empty() ? "" : ", window ",
               window.c_str());

  while (!g_stop) {
    if (g_reload) {
      g_reload = 0;
      down = ReadDownLinks(control);
      std::fprintf(stderr, "meridian-wan-link: %zu link(s) down\n", down.size());
    }
    // Sleep until the next packet is due, or a device has one.
    double next = 1e300;
    for (const auto& [pair, d] : links)
      if (!d.queue.empty()) next = std::min(next, d.queue.front().release_s);
    // Microsecond waits: a millisecond's rounding would add to every
    // packet's delay.
    const double wait_s = std::clamp(next - Now(), 0.0, 0.1);
    timespec timeout{0, (long)(wait_s * 1e9)};
    if (ppoll(polls.data(), n, &timeout, nullptr) < 0 && errno != EINTR) {
      std::perror("meridian-wan-link: poll");
      return 1;
    }
    for (size_t from = 0; from < n; ++from) {
      if (!(polls[from].revents & POLLIN)) continue;
      for (;;) {
        const ssize_t got = read(fds[from], buffer.data(), buffer.size());
        if (got <= 0) break;
        if (got < 20 || (buffer[0] >> 4) != 4) continue;  // IPv4 only
        const int a = buffer[14], b = buffer[18];            // source's and destination's x.x.<dc>.x
        const int to = device_of(b);
        if (to < 0 || a == b || (routed.empty() && to == (int)from)) {
          ++dropped;
          continue;
        }
        const bool hub_traffic = routed.empty() && (a == kHubIndex || b == kHubIndex);
        const double now = Now();
        Direction& link = links[{a, b}];
        Packet p{now, to, std::vector<uint8_t>(buffer.begin(), buffer.begin() + got)};
        if (!hub_traffic) {
          if (down.count({std::min(a, b), std::max(a, b)}) || !s.InWindow(a, b) || unit(rng) < s.loss) {
            ++dropped;
            continue;
          }
          const double start = std::max(now, link.free_at_s);
          if (start - now > s.queue_s) {  // the link's queue is full
            ++dropped;
            continue;
          }
          link.free_at_s = start + got * 8.0 / s.rate_bps;
          const double jitter = s.jitter_s > 0 ? (2 * unit(rng) - 1) * s.jitter_s : 0.0;
          p.release_s = std::max(link.last_release_s, link.free_at_s + std::max(0.0, s.delay_s + jitter));
          link.last_release_s = p.release_s;
        }
        link.queue.push_back(std::move(p));
      }
    }
    const double now = Now();
    for (auto& [pair, link] : links) {
      while (!link.queue.empty() && link.queue.front().release_s <= now) {
        const Packet& p = link.queue.front();
        if (write(fds[p.to], p.bytes.data(), p.bytes.size()) < 0) ++dropped;
        else ++carried;
        link.queue.pop_front();
      }
    }
  }
  std::fprintf(stderr, "meridian-wan-link: carried %ld packets, dropped %ld\n", carried, dropped);
  return 0;
}
