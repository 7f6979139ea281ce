#include "common/net_address.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>
#include <cstring>

namespace meridian {

namespace {

std::string AddressText(const sockaddr* sa) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (sa->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof(buf));
  } else if (sa->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf, sizeof(buf));
  }
  return buf;
}

}  // namespace

void SplitHostPort(const std::string& address, std::string* host, std::string* port) {
  host->clear();
  port->clear();
  if (!address.empty() && address[0] == '[') {
    const size_t close = address.find(']');
    *host = address.substr(1, close == std::string::npos ? std::string::npos : close - 1);
    if (close != std::string::npos && close + 1 < address.size() && address[close + 1] == ':')
      *port = address.substr(close + 2);
    return;
  }
  const size_t colon = address.rfind(':');
  // More than one colon without brackets: a bare IPv6 address.
  if (colon == std::string::npos || address.find(':') != colon) {
    *host = address;
    return;
  }
  *host = address.substr(0, colon);
  *port = address.substr(colon + 1);
}

Result<std::string> LocalAddressTowards(const std::string& host_port) {
  std::string host, port;
  SplitHostPort(host_port, &host, &port);
  if (port.empty()) port = "9";
  addrinfo hints{};
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* res = nullptr;
  if (const int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0)
    return Status::IOError("cannot resolve '" + host + "': " + gai_strerror(rc));
  std::string out;
  std::string error = "no address";
  for (addrinfo* ai = res; ai != nullptr && out.empty(); ai = ai->ai_next) {
    const int fd = socket(ai->ai_family, SOCK_DGRAM, 0);
    if (fd < 0) continue;
    sockaddr_storage local{};
    socklen_t len = sizeof(local);
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0) {
      out = AddressText(reinterpret_cast<sockaddr*>(&local));
    } else {
      error = std::strerror(errno);
    }
    close(fd);
  }
  freeaddrinfo(res);
  if (out.empty()) return Status::IOError("no route to '" + host_port + "': " + error);
  return out;
}

namespace {

// One non-blocking TCP connect to `ai`, given up after `timeout_ms`.
bool ConnectsWithin(const addrinfo* ai, int timeout_ms) {
  const int fd = socket(ai->ai_family, SOCK_STREAM, 0);
  if (fd < 0) return false;
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK);
  bool ok = connect(fd, ai->ai_addr, ai->ai_addrlen) == 0;
  if (!ok && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    int error = 0;
    socklen_t len = sizeof(error);
    ok = poll(&p, 1, timeout_ms) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) == 0 && error == 0;
  }
  close(fd);
  return ok;
}

}  // namespace

bool WaitForListener(const std::string& host_port, double timeout_s) {
  std::string host, port;
  SplitHostPort(host_port, &host, &port);
  if (host.empty() || port.empty()) return false;
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_s));
  for (;;) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) == 0) {
      bool ok = false;
      for (addrinfo* ai = res; ai != nullptr && !ok; ai = ai->ai_next) ok = ConnectsWithin(ai, 1000);
      freeaddrinfo(res);
      if (ok) return true;
    }
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

std::vector<std::string> ResolveAddresses(const std::string& host) {
  std::vector<std::string> out;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0) return out;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) out.push_back(AddressText(ai->ai_addr));
  freeaddrinfo(res);
  return out;
}

std::vector<std::string> LocalAddresses() {
  std::vector<std::string> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || !(i->ifa_flags & IFF_UP)) continue;
    const std::string a = AddressText(i->ifa_addr);
    if (!a.empty()) out.push_back(a);
  }
  freeifaddrs(list);
  return out;
}

std::string FirstNonLoopbackAddress() {
  for (const std::string& a : LocalAddresses())
    if (a.find(':') == std::string::npos && !IsLoopback(a)) return a;
  return "";
}

std::string HostName() {
  char name[256] = {0};
  if (gethostname(name, sizeof(name) - 1) != 0) return "";
  return name;
}

bool IsLoopback(const std::string& address) {
  return address == "localhost" || address == "::1" || address.rfind("127.", 0) == 0;
}

}  // namespace meridian
