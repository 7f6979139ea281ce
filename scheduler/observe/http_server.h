// The daemon's HTTP port (--http): `/healthz` for load balancers and
// orchestrators, `/metrics` for Prometheus, and the dashboard: its pages
// (`/`, `/job/ID`, `/compare?ids=A,B`, files under `/dashboard/`) and the
// JSON API they poll (`/api/...`, dashboard_api.h). HTTPS with the gRPC
// server's certificate when it has one; with a token file, /metrics and
// /api want a bearer token whose role may read the cluster (admin, read,
// submit), as the gRPC API does; a submit token sees its own jobs only.
// The pages hold no data and load without one. Every answer carries
// security headers; requests are bounded (HttpLimits) and must name a host
// the daemon answers to. Runs on a thread of its own.
#pragma once

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "scheduler/auth/authorizer.h"
#include "scheduler/observe/daemon_metrics.h"
#include "scheduler/service/scheduler_core.h"

namespace httplib {
class Server;
}

namespace meridian::scheduler {

struct HttpOptions {
  std::string address;                 // host:port; port 0 picks one
  std::string tls_cert, tls_key;       // PEM files; empty: plain HTTP
  // Names a request's Host header may carry (port aside), beyond the
  // loopback names and `address`'s own host: anything else is refused, so
  // a page on another site cannot reach this port by DNS rebinding.
  std::vector<std::string> allowed_hosts;
};

// What one connection may take of the port: a slow or hostile client can
// neither hold every thread nor send an unbounded body.
struct HttpLimits {
  size_t body_bytes = 64 << 10;        // larger bodies get 413
  int read_timeout_s = 5;              // per read of a request
  int write_timeout_s = 5;             // per write of an answer
  int keep_alive_s = 5;                // an idle kept-alive connection closes
  size_t threads = 8;                  // connections served at once
};

// The host part of a Host header ("h:8080" -> "h", "[::1]:80" -> "::1"),
// lower-case.
std::string HostOfHostHeader(const std::string& header);

class DaemonHttpServer {
 public:
  // core, metrics and authorizer outlive the server. IOError naming the
  // address when it cannot listen; InvalidArgument for unusable TLS files.
  static Result<std::unique_ptr<DaemonHttpServer>> Start(const HttpOptions& options, SchedulerCore* core,
                                                         const DaemonMetrics* metrics, const Authorizer* authorizer,
                                                         const HttpLimits& limits = {});
  ~DaemonHttpServer();  // stops serving
  int port() const { return port_; }

 private:
  DaemonHttpServer() = default;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace meridian::scheduler
