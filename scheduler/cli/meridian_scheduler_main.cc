// meridian-scheduler: the scheduler daemon (gRPC). With no arguments it
// listens on 127.0.0.1:50051, keeps its state in ~/.local/state/meridian
// and serves the built-in two-data-center cluster of this machine.
// `meridian-scheduler agent` runs on a node: registers its GPUs (CPU slots
// where no GPU exists) and heartbeats.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include <CLI/CLI.hpp>

#include "common/command_line.h"
#include "common/log.h"
#include "common/net_address.h"
#include "rpc/client_channel.h"
#include "rpc/grpc_log.h"
#include "scheduler/cli/node_agent.h"
#include "scheduler/core/topology.h"
#include "scheduler/launcher/cluster_launcher.h"
#include "scheduler/launcher/dry_run_launcher.h"
#include "scheduler/launcher/user_access.h"
#include "scheduler/observe/http_server.h"
#include "scheduler/observe/rpc_metrics_interceptor.h"
#include "scheduler/service/scheduler_service.h"

namespace {

std::atomic<bool> g_stop{false};
std::atomic<bool> g_reload{false};
void OnSignal(int) { g_stop = true; }
void OnHangup(int) { g_reload = true; }

std::string DefaultStateDir() {
  if (const char* x = std::getenv("XDG_STATE_HOME")) return std::string(x) + "/meridian";
  if (const char* h = std::getenv("HOME")) return std::string(h) + "/.local/state/meridian";
  return ".meridian-state";
}

std::string SelfDir(const char* argv0) {
  std::error_code ec;
  auto p = std::filesystem::canonical("/proc/self/exe", ec);
  if (ec) p = std::filesystem::absolute(argv0);
  return p.parent_path().string();
}

struct DaemonOptions {
  std::string listen = "127.0.0.1:50051";
  std::string advertise;  // default: from --listen
  std::string state_dir = DefaultStateDir();
  std::string cluster_file;
  int slots_per_dc = (int)std::max(2u, std::thread::hardware_concurrency());
  double node_timeout = 30.0;
  double node_probation = 30.0;
  std::string token_file;  // bearer tokens and roles (none: no authentication)
  std::string quota_file;  // tenants' GPU quotas (none: no limits)
  std::string tls_cert, tls_key, tls_client_ca;
  std::string http;  // /healthz and /metrics; empty: off
  std::vector<std::string> http_allowed_hosts;  // Host names the HTTP port answers to, beyond the defaults
  bool insecure = false;
  std::vector<std::string> data_roots;
  std::string run_as;  // root daemon: the user jobs run as
  std::string train_binary;
  std::vector<std::string> mpirun_args;
  bool dry_run = false;
  meridian::scheduler::ServiceLimits limits;
  meridian::scheduler::SchedulerCoreOptions core_limits;  // the limits in it
};

// What ranks and agents are told to dial: --advertise, or --listen with a
// wildcard host replaced by this host's first non-loopback address.
std::string AdvertisedAddress(const DaemonOptions& o, int port) {
  if (!o.advertise.empty()) return o.advertise;
  std::string host, p;
  meridian::SplitHostPort(o.listen, &host, &p);
  if (host.empty() || host == "0.0.0.0" || host == "::" || host == "[::]") {
    host = meridian::FirstNonLoopbackAddress();
    if (host.empty()) host = meridian::HostName();
  }
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return host + ":" + std::to_string(port);
}

bool IsLoopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1" || host == "[::1]";
}

// Loopback, or TLS and tokens, or --insecure said out loud; for the gRPC
// address (--listen) and the HTTP one (--http).
meridian::Status CheckExposure(const DaemonOptions& o, const std::string& flag, const std::string& address) {
  std::string host, port;
  meridian::SplitHostPort(address, &host, &port);
  const bool secured = !o.tls_cert.empty() && !o.token_file.empty();
  if (IsLoopback(host) || secured) return meridian::Status::OK();
  if (!o.insecure)
    return meridian::Status::InvalidArgument(
        flag + " " + address + ": serving beyond loopback needs TLS and tokens (--tls-cert, --tls-key and "
        "--token-file); --insecure serves it without them");
  meridian::Logger("daemon")->warn(
      "WARNING: --insecure: serving {} without {}{}{}; anyone who reaches this port can submit jobs, run them as "
      "this user and register nodes",
      address, o.tls_cert.empty() ? "TLS" : "", o.tls_cert.empty() && o.token_file.empty() ? " and " : "",
      o.token_file.empty() ? "tokens" : "");
  return meridian::Status::OK();
}

int RunDaemon(const DaemonOptions& o) {
  using namespace meridian::scheduler;
  for (const auto& [flag, address] : {std::pair{"--listen", o.listen}, std::pair{"--http", o.http}}) {
    if (address.empty()) continue;
    if (meridian::Status s = CheckExposure(o, flag, address); !s.ok()) {
      meridian::Logger("daemon")->error("{}", s.message());
      return 2;
    }
  }
  ServerTls tls;
  if (!o.tls_cert.empty()) {
    auto cert = meridian::rpc::ReadPemFile(o.tls_cert), key = meridian::rpc::ReadPemFile(o.tls_key);
    meridian::Result<std::string> ca = o.tls_client_ca.empty() ? meridian::Result<std::string>(std::string())
                                                                : meridian::rpc::ReadPemFile(o.tls_client_ca);
    for (const meridian::Status& s : {cert.status(), key.status(), ca.status()}) {
      if (!s.ok()) {
        meridian::Logger("daemon")->error("{}", s.ToString());
        return 2;
      }
    }
    tls = ServerTls{*cert, *key, *ca};
  }
  const std::string& listen = o.listen;
  const std::string& state_dir = o.state_dir;
  const std::string& cluster_file = o.cluster_file;
  meridian::Result<Topology> topo =
      cluster_file.empty() ? meridian::Result<Topology>(DefaultCluster(o.slots_per_dc)) : LoadClusterFile(cluster_file);
  if (!topo.ok()) {
    meridian::Logger("core")->error("{}", topo.status().ToString());
    return 2;
  }
  auto store = OpenSqliteStateStore(state_dir);
  if (!store.ok()) {
    meridian::Logger("store")->error("{}", store.status().ToString());
    return 1;
  }
  SchedulerCoreOptions co = o.core_limits;
  co.node_timeout_s = o.node_timeout;
  co.node_probation_s = o.node_probation;
  co.check_data_paths = !o.dry_run;
  co.insecure = o.insecure;
  co.data_roots = o.data_roots;
  if (!o.quota_file.empty()) {
    meridian::Result<meridian::scheduler::Quotas> quotas = meridian::scheduler::LoadQuotaFile(o.quota_file);
    if (!quotas.ok()) {
      meridian::Logger("daemon")->error("{}", quotas.status().ToString());
      return 2;
    }
    co.quotas = std::move(quotas).value();
  }
  if (o.data_roots.empty() && !o.dry_run)
    meridian::Logger("daemon")->info("note: no --data-root: jobs may read data anywhere this user can");
  std::filesystem::create_directories(state_dir);
  auto authorizer = Authorizer::Create(o.token_file, state_dir + "/job-token.key");
  if (!authorizer.ok()) {
    meridian::Logger("auth")->error("{}", authorizer.status().ToString());
    return 2;
  }
  ClusterLauncherOptions lo;
  lo.state_dir = state_dir;
  lo.settings.train_binary = o.train_binary;
  // The worlds' supervisor comes with the daemon, as meridian-train does.
  lo.settings.worlds_binary = (std::filesystem::path(o.train_binary).parent_path() / "meridian-worlds").string();
  lo.data_roots = o.data_roots;
  // A world on a node that went silent keeps failing until the node is
  // declared dead and the world placed anew: that long, and some slack.
  lo.world_replace_wait_s = o.node_timeout + 15.0;
  lo.settings.mpirun_args = o.mpirun_args;
  if (!o.run_as.empty()) {
    if (geteuid() != 0) {
      meridian::Logger("daemon")->error("--run-as {}: only a daemon started as root changes users", o.run_as);
      return 2;
    }
    auto user = LookUpUser(o.run_as);
    if (!user.ok()) {
      meridian::Logger("daemon")->error("{}", user.status().message());
      return 2;
    }
    lo.run_as = *user;
    // Every launch would fail on a trainer or job root the user cannot
    // reach: refuse now, naming the directory that blocks it.
    const std::string job_root = topo->launch.job_root.empty() ? state_dir : topo->launch.job_root;
    for (meridian::Status s : {CheckUserCanReach(*user, o.train_binary, Access::kExecute),
                               CheckUserCanReach(*user, job_root, Access::kSearch)}) {
      if (!s.ok()) {
        meridian::Logger("daemon")->error("{}", s.message());
        return 2;
      }
    }
  } else if (geteuid() == 0 && !o.dry_run) {
    meridian::Logger("daemon")->warn("WARNING: running as root without --run-as: jobs run as root too");
  }
  lo.settings.as_root = geteuid() == 0 && !lo.run_as;
  // Ranks trust what signed the daemon's certificate (a self-signed one
  // signs itself); the file must be at the same path on every host.
  if (!o.tls_cert.empty()) lo.settings.rank_env.push_back("MERIDIAN_TLS_CA=" + o.tls_cert);
  // The worlds of a job speak TLS between them too, with a pair of the
  // job's own: this daemon's key never leaves it.
  lo.exchange_tls = !o.tls_cert.empty();
  // Ranks on other hosts log as the environment says, like those here that
  // inherit it (--log-format and --log-level are this daemon's alone).
  for (const char* name : {meridian::kLogFormatEnv, meridian::kLogLevelEnv})
    if (const char* v = std::getenv(name)) lo.settings.rank_env.push_back(std::string(name) + "=" + v);
  ClusterLauncher cluster_launcher(*topo, lo);
  if ((*authorizer)->enabled())
    cluster_launcher.SetJobTokens(
        [a = authorizer->get()](const std::string& id, int attempt) { return a->JobToken(id, attempt); });
  DryRunLauncher dry_run_launcher;
  Launcher* launcher = o.dry_run ? static_cast<Launcher*>(&dry_run_launcher) : &cluster_launcher;
  DaemonMetrics metrics;
  co.on_placement = [&metrics](double seconds, bool placed) { metrics.RecordPlacement(seconds, placed); };
  co.on_lock_held = [&metrics](double seconds) { metrics.RecordLockHold(seconds); };
  SchedulerCore core(*topo, store->get(), launcher, co);
  SchedulerService service(&core, authorizer->get(), o.limits);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(RpcMetricsInterceptor(&metrics));
  int port = 0;
  std::unique_ptr<grpc::Server> server = StartSchedulerServer(listen, &service, &port, tls, std::move(interceptors));
  if (!server || port == 0) {
    meridian::Logger("daemon")->error("cannot listen on {} (in use?)", listen);
    return 1;
  }
  // Known once the port is bound (--listen HOST:0 picks one); set before
  // Recover() relaunches anything.
  const std::string advertised = AdvertisedAddress(o, port);
  cluster_launcher.SetSchedulerAddress(advertised);
  if (meridian::Status s = core.Recover(); !s.ok()) {
    meridian::Logger("core")->error("recovering state from {}: {}", state_dir, s.ToString());
    return 1;
  }
  std::unique_ptr<DaemonHttpServer> http;
  if (!o.http.empty()) {
    // The names browsers and scrapers reach this port by: the advertised
    // host, this machine's name, and what the operator adds.
    HttpOptions http_options{o.http, o.tls_cert, o.tls_key, o.http_allowed_hosts};
    std::string advertised_host, advertised_port;
    meridian::SplitHostPort(advertised, &advertised_host, &advertised_port);
    http_options.allowed_hosts.push_back(advertised_host);
    http_options.allowed_hosts.push_back(meridian::HostName());
    auto started = DaemonHttpServer::Start(http_options, &core, &metrics, authorizer->get());
    if (!started.ok()) {
      meridian::Logger("http")->error("{}", started.status().message());
      return 1;
    }
    http = std::move(started).value();
    meridian::Logger("http")->info("meridian-scheduler: /healthz, /metrics and the dashboard on {}://{} (port {})",
                                   o.tls_cert.empty() ? "http" : "https", o.http, http->port());
  }
  meridian::Logger("daemon")->info(
      "meridian-scheduler listening on {} (port {}), advertised to agents and ranks as {}, state in {}, "
      "{} data centers, {} GPUs",
      listen, port, advertised, state_dir, topo->data_centers.size(), topo->TotalGpus());
  while (!g_stop) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    core.CheckLiveness(NowUnixSeconds());
    if (g_reload.exchange(false)) {
      meridian::Status s = (*authorizer)->Reload();
      if (s.ok()) meridian::Logger("auth")->info("SIGHUP: token file reloaded");
      else meridian::Logger("auth")->error("SIGHUP: token file kept as it was: {}", s.ToString());
      if (!o.quota_file.empty()) {
        meridian::Result<meridian::scheduler::Quotas> quotas = meridian::scheduler::LoadQuotaFile(o.quota_file);
        if (quotas.ok()) {
          core.SetQuotas(std::move(quotas).value());
          meridian::Logger("daemon")->info("SIGHUP: quota file reloaded");
        } else {
          meridian::Logger("daemon")->error("SIGHUP: quota file kept as it was: {}", quotas.status().ToString());
        }
      }
    }
  }
  meridian::Logger("daemon")->info("meridian-scheduler: shutting down");
  service.Stop();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"meridian-scheduler: places and runs Meridian training jobs across data-center GPU pools"};
  DaemonOptions d;
  app.add_option("--listen", d.listen, "host:port to serve on (0.0.0.0:PORT for every interface)")
      ->capture_default_str();
  app.add_option("--advertise", d.advertise,
                 "host:port that agents and ranks dial (default: --listen, with a wildcard host replaced by this "
                 "host's first non-loopback address)");
  app.add_option("--state", d.state_dir, "State directory (SQLite database, job logs)")->capture_default_str();
  app.add_option("--cluster", d.cluster_file, "Cluster file (YAML); default: two data centers on this machine");
  app.add_option("--slots-per-dc", d.slots_per_dc, "Slots per data center of the built-in cluster")
      ->capture_default_str();
  app.add_option("--node-timeout", d.node_timeout, "Seconds without heartbeat before a node is dead")
      ->capture_default_str();
  app.add_option("--node-probation", d.node_probation,
                 "Seconds a node that failed and came back must stay alive before it gets new jobs")
      ->capture_default_str();
  app.add_option("--train-binary", d.train_binary,
                 "meridian-train to launch, at the same path on every host (default: next to this binary)");
  app.add_option("--mpirun-arg", d.mpirun_args,
                 "Extra argument for every mpirun the daemon starts (repeat for several, e.g. --mpirun-arg=--mca "
                 "--mpirun-arg=plm_rsh_args --mpirun-arg='-F /etc/meridian/ssh_config')");
  app.add_flag("--dry-run", d.dry_run, "Place jobs but start nothing (control-plane tests and benchmarks)");
  app.add_option("--token-file", d.token_file,
                 "YAML file of bearer tokens and their roles (admin, submit, read, agent); reloaded on SIGHUP. "
                 "Without it nobody is asked for credentials")
      ->check(CLI::ExistingFile);
  app.add_option("--max-slowdown", d.core_limits.policy.max_slowdown,
                 "Start no job on a placement whose predicted step time is more than this many times its best on "
                 "the empty cluster: it waits for a better one (0: off)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--quota-file", d.quota_file,
                 "YAML file of tenants' GPU quotas: GPUs guaranteed and borrowable (docs/operations.md); "
                 "reloaded on SIGHUP. Without it tenants have no limits")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-cert", d.tls_cert, "PEM certificate to serve TLS with (with --tls-key)")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-key", d.tls_key, "PEM private key of --tls-cert")->check(CLI::ExistingFile);
  app.add_option("--tls-client-ca", d.tls_client_ca,
                 "PEM CA that client certificates must be signed by (mutual TLS)")
      ->check(CLI::ExistingFile);
  app.add_option("--data-root", d.data_roots,
                 "Directory jobs may read data from (repeat for several); data paths, globs and --init-from must "
                 "resolve under one, after .. and symbolic links")
      ->check(CLI::ExistingDirectory);
  app.add_option("--run-as", d.run_as,
                 "User the jobs run as when the daemon runs as root (it owns their job directories; the job root "
                 "must be reachable by it)");
  app.add_option("--max-ranks-per-job", d.core_limits.max_ranks_per_job, "Most ranks one job may ask for")
      ->check(CLI::Range(1, 1 << 16))
      ->capture_default_str();
  app.add_option("--max-queued-jobs", d.core_limits.max_waiting_jobs, "Most jobs waiting to be placed, in all")
      ->check(CLI::Range(1, 10000000))
      ->capture_default_str();
  app.add_option("--max-queued-per-token", d.core_limits.max_waiting_per_owner,
                 "Most jobs one token may have waiting")
      ->check(CLI::Range(1, 10000000))
      ->capture_default_str();
  app.add_option("--max-message-bytes", d.limits.max_message_bytes, "Largest request accepted")
      ->check(CLI::Range(4096, 1 << 30))
      ->capture_default_str();
  app.add_option("--max-watches-per-client", d.limits.max_watches_per_client,
                 "Most WatchJob streams one token (or address) may hold open")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--max-events-per-job", d.core_limits.max_events_per_job,
                 "Events a job keeps (state changes, progress); older ones are folded into a count")
      ->check(CLI::Range((int64_t)100, (int64_t)1 << 40))
      ->capture_default_str();
  app.add_option("--retain-jobs", d.core_limits.retain_jobs,
                 "Finished jobs kept: older ones leave the store with their files (checkpoints only where the job "
                 "file says discard_checkpoints); 0: all")
      ->check(CLI::Range(0, 100000000))
      ->capture_default_str();
  app.add_option("--retain-days", d.core_limits.retain_days,
                 "Days a finished job is kept before it leaves the store with its files; 0: forever")
      ->check(CLI::Range(0.0, 1e6))
      ->capture_default_str();
  app.add_option("--max-submits-per-minute", d.limits.submits_per_minute,
                 "Jobs a submit token may submit a minute, after its burst (cancelled ones count too)")
      ->check(CLI::Range(0.001, 1e9))
      ->capture_default_str();
  app.add_option("--submit-burst", d.limits.submit_burst, "Jobs a submit token may submit at once")
      ->check(CLI::Range(1.0, 1e9))
      ->capture_default_str();
  app.add_option("--http", d.http,
                 "host:port for /healthz, /metrics (Prometheus) and the web dashboard (/), HTTPS with --tls-cert; "
                 "default: off");
  app.add_option("--http-allow-host", d.http_allowed_hosts,
                 "A name the HTTP port answers to in a request's Host header (repeat for several); loopback, the "
                 "--http host, the advertised host and this machine's name always are, anything else gets 403");
  app.add_flag("--insecure", d.insecure,
               "Serve a non-loopback --listen address without TLS and tokens (never on a network you do not "
               "control)");

  std::string log_format, log_level;  // the daemon's and the agent's
  meridian::AddLogOptions(app, &log_format, &log_level);

  meridian::scheduler::NodeAgentOptions a;
  CLI::App* agent = app.add_subcommand("agent", "Register this node with the daemon and keep it alive");
  agent->add_option("--scheduler", a.scheduler, "The daemon's advertised host:port")->capture_default_str();
  agent->add_option("--name", a.name, "Node name (default: this host's name)");
  agent->add_option("--data-center", a.data_center)->capture_default_str();
  agent->add_option("--advertise", a.advertise,
                    "Address (or name) ranks are started on (default: the address of the interface that reaches "
                    "the daemon)");
  agent->add_option("--slots", a.slots, "CPU slots to offer where the node has no CUDA device")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  agent->add_option("--token-file", a.token_file, "File whose first line is this agent's token (role agent)")
      ->check(CLI::ExistingFile);
  agent->add_option("--tls-ca", a.tls_ca, "PEM CA that signed the daemon's certificate (TLS)")
      ->check(CLI::ExistingFile);
  agent->add_option("--interval", a.interval_s, "Heartbeat period, seconds")
      ->check(CLI::Range(0.05, 3600.0))
      ->capture_default_str();
  meridian::AddLogOptions(*agent, &log_format, &log_level);
  if (std::optional<int> exit_code = meridian::ParseCommandLine(app, argc, argv)) return *exit_code;
  if (meridian::Status s = meridian::InitLogging("meridian-scheduler", log_format, log_level); !s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.message().c_str());
    return meridian::kExitUsage;
  }
  meridian::rpc::RouteGrpcLogsToLogger();

  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);
  signal(SIGHUP, OnHangup);
  if (*agent) return meridian::scheduler::RunNodeAgent(a, g_stop);
  if (d.tls_cert.empty() != d.tls_key.empty()) {
    meridian::Logger("daemon")->error("--tls-cert and --tls-key go together");
    return 2;
  }
  if (!d.tls_client_ca.empty() && d.tls_cert.empty()) {
    meridian::Logger("daemon")->error("--tls-client-ca needs --tls-cert and --tls-key");
    return 2;
  }
  if (d.train_binary.empty()) d.train_binary = SelfDir(argv[0]) + "/meridian-train";
  // Job directories are handed to ranks; absolute paths keep them valid
  // whatever the ranks' working directory.
  d.state_dir = std::filesystem::absolute(d.state_dir).lexically_normal().string();
  return RunDaemon(d);
}
