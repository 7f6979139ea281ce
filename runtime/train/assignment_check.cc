#include "runtime/train/assignment_check.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "common/net_address.h"

namespace meridian {

RankSurroundings FindRankSurroundings() {
  RankSurroundings s;
  s.hostname = HostName();
  s.addresses = LocalAddresses();
  if (const char* dc = std::getenv("MERIDIAN_DATA_CENTER")) s.data_center = dc;
  s.resolve = &ResolveAddresses;
  return s;
}

namespace {

// "hosta" matches "hosta" and "hosta.example.org" (either side qualified).
bool SameHostName(const std::string& a, const std::string& b) {
  if (a.empty() || b.empty()) return false;
  auto shortname = [](const std::string& h) { return h.substr(0, h.find('.')); };
  return a == b || (shortname(a) == shortname(b) && (a.find('.') == std::string::npos || b.find('.') == std::string::npos));
}

bool LooksLikeAddress(const std::string& h) {
  return !h.empty() && (h.find(':') != std::string::npos ||
                        std::all_of(h.begin(), h.end(), [](char c) { return std::isdigit((unsigned char)c) || c == '.'; }));
}

}  // namespace

Status CheckAssignment(int rank, const v1::RankAssignment& a, const RankSurroundings& here) {
  const std::string who = "rank " + std::to_string(rank) + ": the scheduler placed it on node " + a.node() + " (" +
                          a.data_center() + ")";
  const std::string& host = a.host();
  // "localhost" is the one-machine cluster: any host is that host.
  if (!host.empty() && !IsLoopback(host)) {
    auto ours = [&](const std::string& address) {
      return std::find(here.addresses.begin(), here.addresses.end(), address) != here.addresses.end();
    };
    bool match = LooksLikeAddress(host) ? ours(host) : SameHostName(host, here.hostname);
    if (!match && !LooksLikeAddress(host) && here.resolve != nullptr) {
      const std::vector<std::string> resolved = here.resolve(host);
      match = std::any_of(resolved.begin(), resolved.end(), ours);
    }
    if (!match) {
      std::string addrs;
      for (const std::string& x : here.addresses) addrs += (addrs.empty() ? "" : ", ") + x;
      return Status::FailedPrecondition(who + ", host " + host + ", but it runs on " + here.hostname +
                                        " (addresses " + addrs + ")");
    }
  }
  if (!here.data_center.empty() && here.data_center != a.data_center()) {
    return Status::FailedPrecondition(who + ", but its host says it is in data center " + here.data_center +
                                      " (MERIDIAN_DATA_CENTER)");
  }
  return Status::OK();
}

}  // namespace meridian
