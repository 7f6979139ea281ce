#include "scheduler/observe/http_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cctype>
#include <optional>
#include <set>
#include <string_view>
#include <thread>

#include "common/net_address.h"
#include "scheduler/observe/dashboard_api.h"
#include "scheduler/observe/dashboard_assets.h"

namespace meridian::scheduler {

namespace {

// The API's answers: JSON, with bytes that are not UTF-8 (a log's) replaced
// rather than failing the answer.
void SendJson(httplib::Response& res, int status, const ApiJson& body) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json");
}

void SendError(httplib::Response& res, const Status& status) {
  ApiJson body;
  body["error"] = status.message();
  SendJson(res, HttpStatusFor(status), body);
}

// The bearer-token check of the gRPC API, for /metrics and /api: a token
// whose role may read the cluster. The caller, or nullopt after answering
// 401 or 403 (as JSON when `json`).
std::optional<Principal> Admitted(const httplib::Request& req, httplib::Response& res, const Authorizer* authorizer,
                                  bool json = false) {
  if (authorizer == nullptr || !authorizer->enabled()) return Principal{"anyone", Role::kAdmin, "", 0, {}};
  Result<Principal> who = authorizer->Authenticate(req.get_header_value("Authorization"), NowUnixSeconds());
  Status refused;
  if (!who.ok()) {
    res.set_header("WWW-Authenticate", "Bearer");
    refused = Status::Unauthenticated("missing or invalid credentials");
  } else if (!Allow(*who, Action::kReadCluster, "").ok()) {
    refused = Status::PermissionDenied("not allowed for this token");
  } else {
    return *who;
  }
  if (json) {
    SendError(res, refused);
  } else {
    res.status = HttpStatusFor(refused);
    res.set_content(refused.message() + "\n", "text/plain");
  }
  return std::nullopt;
}

const char* ContentTypeOf(std::string_view name) {
  auto ends = [&](std::string_view ext) {
    return name.size() >= ext.size() && name.substr(name.size() - ext.size()) == ext;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

// Sends a dashboard file; false when there is none by that name.
bool SendFile(httplib::Response& res, const std::string& name) {
  for (const EmbeddedFile& f : DashboardFiles()) {
    if (name != f.name) continue;
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Content-Type-Options", "nosniff");
    // The page needs nothing from anywhere else, and names (jobs' among
    // them) are put in as text: nothing outside these files may run.
    res.set_header("Content-Security-Policy",
                   "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                   "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
    res.set_content(std::string(reinterpret_cast<const char*>(f.data), f.size), ContentTypeOf(f.name));
    return true;
  }
  return false;
}

// Integer query parameter `name`, `fallback` when absent; InvalidArgument
// naming it when it is not a number.
Result<int64_t> IntParam(const httplib::Request& req, const char* name, int64_t fallback) {
  if (!req.has_param(name)) return fallback;
  const std::string text = req.get_param_value(name);
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0') return Status::InvalidArgument(std::string(name) + ": '" + text + "' is not an integer");
  return (int64_t)v;
}

void AddDashboard(httplib::Server& server, SchedulerCore* core, const Authorizer* authorizer) {
  // The pages are one document that reads its route from the address; it
  // holds no data, so it loads without a token and asks for one on a 401.
  auto page = [](const httplib::Request&, httplib::Response& res) { SendFile(res, "index.html"); };
  server.Get("/", page);
  server.Get("/compare", page);
  server.Get(R"(/job/([^/]+))", page);
  server.Get(R"(/dashboard/([A-Za-z0-9_.-]+))", [](const httplib::Request& req, httplib::Response& res) {
    if (!SendFile(res, req.matches[1].str())) {
      res.status = 404;
      res.set_content("no such file\n", "text/plain");
    }
  });

  server.Get("/api/cluster", [core, authorizer](const httplib::Request& req, httplib::Response& res) {
    if (!Admitted(req, res, authorizer, true)) return;
    SendJson(res, 200, ClusterJson(*core));
  });
  server.Get("/api/jobs", [core, authorizer](const httplib::Request& req, httplib::Response& res) {
    auto who = Admitted(req, res, authorizer, true);
    if (!who) return;
    Result<ApiJson> jobs = JobsJson(*core, *who, req.get_param_value("state"));
    jobs.ok() ? SendJson(res, 200, *jobs) : SendError(res, jobs.status());
  });
  server.Get(R"(/api/jobs/([^/]+))", [core, authorizer](const httplib::Request& req, httplib::Response& res) {
    auto who = Admitted(req, res, authorizer, true);
    if (!who) return;
    Result<ApiJson> job = JobJson(*core, *who, req.matches[1].str());
    job.ok() ? SendJson(res, 200, *job) : SendError(res, job.status());
  });
  server.Get(R"(/api/jobs/([^/]+)/metrics)", [core, authorizer](const httplib::Request& req, httplib::Response& res) {
    auto who = Admitted(req, res, authorizer, true);
    if (!who) return;
    Result<int64_t> since = IntParam(req, "since", -1);
    if (!since.ok()) return SendError(res, since.status());
    Result<int64_t> offset = IntParam(req, "offset", 0);
    if (!offset.ok()) return SendError(res, offset.status());
    Result<ApiJson> page = JobMetricsJson(*core, *who, req.matches[1].str(), *since, *offset);
    page.ok() ? SendJson(res, 200, *page) : SendError(res, page.status());
  });
  server.Get(R"(/api/jobs/([^/]+)/log)", [core, authorizer](const httplib::Request& req, httplib::Response& res) {
    auto who = Admitted(req, res, authorizer, true);
    if (!who) return;
    Result<int64_t> tail = IntParam(req, "tail", 200);
    if (!tail.ok()) return SendError(res, tail.status());
    Result<ApiJson> log =
        JobLogJson(*core, *who, req.matches[1].str(), (int)std::clamp<int64_t>(*tail, -1, 1 << 20));
    log.ok() ? SendJson(res, 200, *log) : SendError(res, log.status());
  });
  // Any other /api/ path: a JSON 404, as the page expects of the API.
  server.Get(R"(/api/.*)", [authorizer](const httplib::Request& req, httplib::Response& res) {
    if (!Admitted(req, res, authorizer, true)) return;
    SendError(res, Status::NotFound("no API at " + req.path));
  });
}

// Headers on every answer: no sniffing, no framing (clickjacking), no
// script but the dashboard's own, no referrer leaving the page.
void AddSecurityHeaders(httplib::Response& res) {
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("X-Frame-Options", "DENY");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("Content-Security-Policy",
                 "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                 "frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
}

// The Host header check: the allowed names, lower-case, plus loopback.
std::set<std::string> AllowedHosts(const HttpOptions& o) {
  std::set<std::string> hosts = {"localhost", "127.0.0.1", "::1"};
  std::string host, port;
  SplitHostPort(o.address, &host, &port);
  hosts.insert(HostOfHostHeader(host));
  for (const std::string& h : o.allowed_hosts) hosts.insert(HostOfHostHeader(h));
  hosts.erase("");
  return hosts;
}

}  // namespace

std::string HostOfHostHeader(const std::string& header) {
  std::string host = header;
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    host = close == std::string::npos ? host.substr(1) : host.substr(1, close - 1);
  } else if (std::count(host.begin(), host.end(), ':') == 1) {
    host = host.substr(0, host.find(':'));
  }
  std::transform(host.begin(), host.end(), host.begin(), [](unsigned char c) { return (char)std::tolower(c); });
  return host;
}

Result<std::unique_ptr<DaemonHttpServer>> DaemonHttpServer::Start(const HttpOptions& o, SchedulerCore* core,
                                                                  const DaemonMetrics* metrics,
                                                                  const Authorizer* authorizer,
                                                                  const HttpLimits& limits) {
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
  httplib::Server& server_ref = *s->server_;
  server_ref.set_payload_max_length(limits.body_bytes);
  server_ref.set_read_timeout(limits.read_timeout_s, 0);
  server_ref.set_write_timeout(limits.write_timeout_s, 0);
  server_ref.set_keep_alive_timeout(limits.keep_alive_s);
  server_ref.new_task_queue = [threads = limits.threads] { return new httplib::ThreadPool(threads); };
  server_ref.set_pre_routing_handler(
      [allowed = AllowedHosts(o)](const httplib::Request& req, httplib::Response& res) {
        AddSecurityHeaders(res);
        const std::string host = HostOfHostHeader(req.get_header_value("Host"));
        if (allowed.count(host)) return httplib::Server::HandlerResponse::Unhandled;
        res.status = 403;
        res.set_content("Host '" + host.substr(0, 253) + "' is not a name this daemon answers to (--http-allow-host)\n",
                        "text/plain");
        return httplib::Server::HandlerResponse::Handled;
      });
  server_ref.set_post_routing_handler([](const httplib::Request&, httplib::Response& res) { AddSecurityHeaders(res); });
  s->server_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  s->server_->Get("/metrics", [core, metrics, authorizer](const httplib::Request& req, httplib::Response& res) {
    const std::optional<Principal> who = Admitted(req, res, authorizer);
    if (!who) return;
    res.set_content(metrics->Render(*core, &*who), "text/plain; version=0.0.4; charset=utf-8");
  });
  AddDashboard(*s->server_, core, authorizer);
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
