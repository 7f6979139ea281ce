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

#ifdef MERIDIAN_AGENT_CUDA
#include "kernels/cuda/device_info.h"
#endif
#include <grpcpp/grpcpp.h>

#include "meridian/v1/scheduler.grpc.pb.h"
#include "scheduler/core/topology.h"
#include "scheduler/launcher/dry_run_launcher.h"
#include "scheduler/launcher/mpirun_launcher.h"
#include "scheduler/service/scheduler_service.h"

namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }

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

int RunDaemon(const std::string& listen, const std::string& state_dir, const std::string& cluster_file,
              int slots_per_dc, double node_timeout, const std::string& train_binary, bool dry_run) {
  using namespace meridian::scheduler;
  meridian::Result<Topology> topo =
      cluster_file.empty() ? meridian::Result<Topology>(DefaultCluster(slots_per_dc)) : LoadClusterFile(cluster_file);
  if (!topo.ok()) {
    std::fprintf(stderr, "error: %s\n", topo.status().ToString().c_str());
    return 2;
  }
  auto store = OpenSqliteStateStore(state_dir);
  if (!store.ok()) {
    std::fprintf(stderr, "error: %s\n", store.status().ToString().c_str());
    return 1;
  }
  MpirunLauncherOptions lo;
  lo.state_dir = state_dir;
  lo.scheduler_address = listen;
  lo.train_binary = train_binary;
  MpirunLauncher mpirun_launcher(lo);
  DryRunLauncher dry_run_launcher;
  Launcher* launcher = dry_run ? static_cast<Launcher*>(&dry_run_launcher) : &mpirun_launcher;
  SchedulerCoreOptions co;
  co.node_timeout_s = node_timeout;
  SchedulerCore core(*topo, store->get(), launcher, co);
  SchedulerService service(&core);
  int port = 0;
  std::unique_ptr<grpc::Server> server = StartSchedulerServer(listen, &service, &port);
  if (!server || port == 0) {
    std::fprintf(stderr, "error: cannot listen on %s (in use?)\n", listen.c_str());
    return 1;
  }
  if (meridian::Status s = core.Recover(); !s.ok()) {
    std::fprintf(stderr, "error: recovering state from %s: %s\n", state_dir.c_str(), s.ToString().c_str());
    return 1;
  }
  std::fprintf(stderr, "meridian-scheduler listening on %s (port %d), state in %s, %d data centers, %d GPUs\n",
               listen.c_str(), port, state_dir.c_str(), (int)topo->data_centers.size(), topo->TotalGpus());
  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);
  while (!g_stop) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    core.CheckLiveness(NowUnixSeconds());
  }
  std::fprintf(stderr, "meridian-scheduler: shutting down\n");
  service.Stop();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  return 0;
}

struct GpuOffer {
  int index;
  std::string model;
  double memory_gb, tflops;
};

// This machine's CUDA devices, where the build has CUDA; empty otherwise.
std::vector<GpuOffer> LocalGpus() {
  std::vector<GpuOffer> out;
#ifdef MERIDIAN_AGENT_CUDA
  for (const meridian::cuda::DeviceInfo& d : meridian::cuda::ListDevices()) {
    // An unknown card is priced at an A100's peak rather than not at all.
    out.push_back({d.index, d.name, d.memory_gb, d.dense_bf16_tflops > 0 ? d.dense_bf16_tflops : 312.0});
  }
#endif
  return out;
}

int RunAgent(const std::string& scheduler, const std::string& name, const std::string& data_center, int slots,
             double interval_s) {
  namespace v1 = meridian::v1;
  auto stub = v1::Scheduler::NewStub(grpc::CreateChannel(scheduler, grpc::InsecureChannelCredentials()));
  v1::RegisterNodeRequest req;
  v1::Node* node = req.mutable_node();
  node->set_name(name);
  node->set_data_center(data_center);
  node->set_host("localhost");
  // A node with CUDA devices offers them (ranks placed there train with
  // --device cuda when the job asks for it); otherwise CPU slots.
  std::vector<GpuOffer> offers = LocalGpus();
  for (int i = 0; offers.empty() && i < slots; ++i) offers.push_back({i, "cpu", 4, 0.1});
  for (const GpuOffer& o : offers) {
    v1::Gpu* g = node->add_gpus();
    g->set_index(o.index);
    g->set_model(o.model);
    g->set_memory_gb(o.memory_gb);
    g->set_tflops(o.tflops);
  }
  grpc::ClientContext ctx;
  v1::RegisterNodeResponse resp;
  grpc::Status s = stub->RegisterNode(&ctx, req, &resp);
  if (!s.ok()) {
    std::fprintf(stderr, "error: RegisterNode: %s\n", s.error_message().c_str());
    return 1;
  }
  std::fprintf(stderr, "agent: node %s registered in %s with %zu %s; heartbeating every %.1f s\n", name.c_str(),
               data_center.c_str(), offers.size(), offers[0].model == "cpu" ? "CPU slots" : offers[0].model.c_str(),
               interval_s);
  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);
  while (!g_stop) {
    std::this_thread::sleep_for(std::chrono::duration<double>(interval_s));
    grpc::ClientContext hc;
    hc.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::HeartbeatRequest hb;
    hb.set_node(name);
    v1::HeartbeatResponse hr;
    grpc::Status st = stub->Heartbeat(&hc, hb, &hr);
    if (!st.ok()) std::fprintf(stderr, "agent: heartbeat failed: %s\n", st.error_message().c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"meridian-scheduler: places and runs Meridian training jobs across data-center GPU pools"};
  std::string listen = "127.0.0.1:50051", state_dir = DefaultStateDir(), cluster, train_binary;
  int slots = (int)std::max(2u, std::thread::hardware_concurrency());
  double node_timeout = 30.0;
  app.add_option("--listen", listen, "host:port to serve on")->capture_default_str();
  app.add_option("--state", state_dir, "State directory (SQLite database, job logs)")->capture_default_str();
  app.add_option("--cluster", cluster, "Cluster file (YAML); default: two data centers on this machine");
  app.add_option("--slots-per-dc", slots, "Slots per data center of the built-in cluster")->capture_default_str();
  app.add_option("--node-timeout", node_timeout, "Seconds without heartbeat before a node is dead")
      ->capture_default_str();
  app.add_option("--train-binary", train_binary, "meridian-train to launch (default: next to this binary)");
  bool dry_run = false;
  app.add_flag("--dry-run", dry_run, "Place jobs but start nothing (control-plane tests and benchmarks)");

  std::string agent_scheduler = "127.0.0.1:50051", agent_name, agent_dc = "dc-east";
  int agent_slots = 2;
  double agent_interval = 2.0;
  CLI::App* agent = app.add_subcommand("agent", "Register this node and keep it alive");
  agent->add_option("--scheduler", agent_scheduler)->capture_default_str();
  agent->add_option("--name", agent_name, "Node name (default: hostname)");
  agent->add_option("--data-center", agent_dc)->capture_default_str();
  agent->add_option("--slots", agent_slots, "CPU slots to offer")->capture_default_str();
  agent->add_option("--interval", agent_interval, "Heartbeat period, seconds")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  if (*agent) {
    if (agent_name.empty()) {
      char host[256] = {0};
      gethostname(host, sizeof(host) - 1);
      agent_name = host;
    }
    return RunAgent(agent_scheduler, agent_name, agent_dc, agent_slots, agent_interval);
  }
  if (train_binary.empty()) train_binary = SelfDir(argv[0]) + "/meridian-train";
  // Job directories are handed to ranks; absolute paths keep them valid
  // whatever the ranks' working directory.
  state_dir = std::filesystem::absolute(state_dir).lexically_normal().string();
  return RunDaemon(listen, state_dir, cluster, slots, node_timeout, train_binary, dry_run);
}
