// Which addresses this host has, and which one reaches a given peer: what
// an agent advertises and what a rank checks its assignment against.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace meridian {

// Splits "host:port", "[v6]:port" or "host" (port left empty).
void SplitHostPort(const std::string& address, std::string* host, std::string* port);

// The local address of the interface the kernel would use to reach
// `host_port` (a UDP connect, nothing is sent). IOError when unroutable.
Result<std::string> LocalAddressTowards(const std::string& host_port);

// Every address of this host's interfaces that are up (IPv4 and IPv6,
// loopback included).
std::vector<std::string> LocalAddresses();

// The first non-loopback IPv4 address of an interface that is up; empty
// when there is none.
std::string FirstNonLoopbackAddress();

// The addresses `host` resolves to (DNS, /etc/hosts); empty when it does
// not resolve.
std::vector<std::string> ResolveAddresses(const std::string& host);

// Whether something listens on `host_port` (a TCP connection is opened and
// closed, nothing is sent), trying again every 100 ms until `timeout_s`
// has passed.
bool WaitForListener(const std::string& host_port, double timeout_s);

// This host's name (gethostname), empty on error.
std::string HostName();

bool IsLoopback(const std::string& address);

}  // namespace meridian
