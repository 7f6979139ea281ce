#include "scheduler/observe/http_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <chrono>
#include <thread>

#include "common/net_address.h"

namespace meridian::scheduler {

namespace {

// The bearer-token check of the gRPC API, for /metrics.
bool Admitted(const httplib::Request& req, httplib::Response& res, const Authorizer* authorizer) {
  if (authorizer == nullptr || !authorizer->enabled()) return true;
  Result<Principal> who = authorizer->Authenticate(req.get_header_value("Authorization"), NowUnixSeconds());
  if (!who.ok()) {
    res.status = 401;
    res.set_header("WWW-Authenticate", "Bearer");
    res.set_content("missing or invalid credentials\n", "text/plain");
    return false;
  }
  if (!Allow(*who, Action::kReadCluster, "").ok()) {
    res.status = 403;
    res.set_content("not allowed for this token\n", "text/plain");
    return false;
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<DaemonHttpServer>> DaemonHttpServer::Start(const HttpOptions& o, SchedulerCore* core,
                                                                  const DaemonMetrics* metrics,
                                                                  const Authorizer* authorizer) {
  std::unique_ptr<DaemonHttpServer> s(new DaemonHttpServer());
  if (o.tls_cert.empty()) {
    s->server_ = std::make_unique<httplib::Server>();
  } else {
    auto tls = std::make_unique<httplib::SSLServer>(o.tls_cert.c_str(), o.tls_key.c_str());
    if (!tls->is_valid())
      return Status::InvalidArgument("--http: cannot serve HTTPS with " + o.tls_cert + " and " + o.tls_key);
    s->server_ = std::move(tls);
  }
  // Only SO_REUSEADDR: httplib's default also sets SO_REUSEPORT, under
  // which a second daemon given the same --http would share the port
  // instead of being told it is taken.
  s->server_->set_socket_options([](socket_t sock) {
    int yes = 1;
    (void)setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  s->server_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  s->server_->Get("/metrics", [core, metrics, authorizer](const httplib::Request& req, httplib::Response& res) {
    if (!Admitted(req, res, authorizer)) return;
    res.set_content(metrics->Render(*core), "text/plain; version=0.0.4; charset=utf-8");
  });
  std::string host, port;
  SplitHostPort(o.address, &host, &port);
  if (host.empty()) host = "0.0.0.0";
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  const int wanted = std::atoi(port.c_str());
  s->port_ = wanted == 0 ? s->server_->bind_to_any_port(host) : (s->server_->bind_to_port(host, wanted) ? wanted : -1);
  if (s->port_ <= 0) return Status::IOError("--http " + o.address + ": cannot listen there (in use?)");
  httplib::Server* server = s->server_.get();
  s->thread_ = std::thread([server] { server->listen_after_bind(); });
  // Serving before returning: stop() before the loop has started would be
  // missed, and the destructor would wait for a loop nobody stops.
  for (int waited_ms = 0; !server->is_running(); ++waited_ms) {
    if (waited_ms == 10000) return Status::IOError("--http " + o.address + ": the server did not start");
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return s;
}

DaemonHttpServer::~DaemonHttpServer() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace meridian::scheduler
