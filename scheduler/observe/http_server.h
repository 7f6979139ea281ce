// The daemon's HTTP port (--http): `/healthz` for load balancers and
// orchestrators, `/metrics` for Prometheus, and the dashboard: its pages
// (`/`, `/job/ID`, `/compare?ids=A,B`, files under `/dashboard/`) and the
// JSON API they poll (`/api/...`, dashboard_api.h). HTTPS with the gRPC
// server's certificate when it has one; with a token file, /metrics and
// /api want a bearer token whose role may read the cluster (admin, read,
// submit), as the gRPC API does; a submit token sees its own jobs only.
// The pages hold no data and load without one. Runs on a thread of its own.
#pragma once

#include <memory>
#include <string>
#include <thread>

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
};

class DaemonHttpServer {
 public:
  // core, metrics and authorizer outlive the server. IOError naming the
  // address when it cannot listen; InvalidArgument for unusable TLS files.
  static Result<std::unique_ptr<DaemonHttpServer>> Start(const HttpOptions& options, SchedulerCore* core,
                                                         const DaemonMetrics* metrics, const Authorizer* authorizer);
  ~DaemonHttpServer();  // stops serving
  int port() const { return port_; }

 private:
  DaemonHttpServer() = default;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace meridian::scheduler
