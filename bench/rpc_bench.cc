#include "bench/rpc_bench.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "bench/local_daemon.h"
#include "bench/table.h"
#include "meridian/v1/scheduler.grpc.pb.h"

namespace meridian::bench {

namespace {

namespace v1 = meridian::v1;
using Clock = std::chrono::steady_clock;

struct RpcOptions {
  std::string scheduler;  // empty: start a --dry-run daemon on loopback
  std::vector<int> clients = {1, 4, 16};
  double seconds = 3.0;
  double target_heartbeats_per_s = 20000;
};

struct RpcResult {
  long calls = 0, errors = 0;
  double seconds = 0, p50_us = 0, p99_us = 0;
};

template <typename Call>
RpcResult Hammer(const std::string& address, int clients, double seconds, Call call) {
  std::vector<std::vector<double>> latencies(clients);
  std::atomic<long> errors{0};
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      // One channel per client, as separate processes would have.
      grpc::ChannelArguments args;
      args.SetInt("grpc.use_local_subchannel_pool", 1);
      auto stub = v1::Scheduler::NewStub(grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
      long i = 0;
      while (Clock::now() < end) {
        const auto t0 = Clock::now();
        if (!call(*stub, c, i++)) ++errors;
        latencies[c].push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
      }
    });
  }
  for (auto& t : threads) t.join();
  RpcResult r;
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  r.calls = (long)all.size();
  r.errors = errors;
  if (!all.empty()) {
    r.p50_us = all[all.size() / 2];
    r.p99_us = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  }
  return r;
}

int RunRpc(const RpcOptions& o) {
  std::string address = o.scheduler;
  std::unique_ptr<LocalDaemon> daemon;
  std::string state_dir;
  if (address.empty()) {
    state_dir = (std::filesystem::temp_directory_path() / ("meridian-bench-rpc-" + std::to_string(getpid()))).string();
    daemon = std::make_unique<LocalDaemon>(
        std::vector<std::string>{"--dry-run", "--state", state_dir, "--slots-per-dc", "64"}, "/dev/null");
    address = daemon->address();
  }
  auto probe = v1::Scheduler::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  if (!WaitForScheduler(*probe)) {
    std::fprintf(stderr, "error: no scheduler answers at %s\n", address.c_str());
    return 1;
  }
  // A node to heartbeat.
  {
    grpc::ClientContext ctx;
    v1::RegisterNodeRequest req;
    req.mutable_node()->set_name("bench-node");
    req.mutable_node()->set_data_center("dc-east");
    req.mutable_node()->add_gpus()->set_model("cpu");
    v1::RegisterNodeResponse resp;
    grpc::Status s = probe->RegisterNode(&ctx, req, &resp);
    if (!s.ok()) std::fprintf(stderr, "warning: RegisterNode: %s\n", s.error_message().c_str());
  }
  Table table({"rpc", "clients", "calls", "calls/s", "p50(us)", "p99(us)", "errors"});
  double best_heartbeat_rate = 0;
  long total_errors = 0;
  for (int clients : o.clients) {
    RpcResult r = Hammer(address, clients, o.seconds, [](v1::Scheduler::Stub& stub, int, long) {
      grpc::ClientContext ctx;
      v1::HeartbeatRequest req;
      req.set_node("bench-node");
      v1::HeartbeatResponse resp;
      return stub.Heartbeat(&ctx, req, &resp).ok();
    });
    best_heartbeat_rate = std::max(best_heartbeat_rate, r.calls / r.seconds);
    total_errors += r.errors;
    table.AddRow({"Heartbeat", std::to_string(clients), std::to_string(r.calls), Fixed(r.calls / r.seconds, 0),
                  Fixed(r.p50_us, 0), Fixed(r.p99_us, 0), std::to_string(r.errors)});
  }
  for (int clients : o.clients) {
    // One-slot jobs: the first ones run (dry run), the rest queue; every
    // submission is a durable write.
    RpcResult r = Hammer(address, clients, o.seconds, [](v1::Scheduler::Stub& stub, int c, long i) {
      grpc::ClientContext ctx;
      v1::SubmitJobRequest req;
      v1::JobSpec* spec = req.mutable_spec();
      spec->set_name("bench-" + std::to_string(c) + "-" + std::to_string(i));
      spec->mutable_model()->set_preset("d4");
      spec->mutable_model()->set_vocab_size(256);
      spec->mutable_training()->set_batch(1);
      spec->mutable_training()->set_seq(16);
      spec->mutable_training()->set_steps(1);
      spec->mutable_training()->set_data("none");
      spec->mutable_layout()->set_dp(1);
      spec->mutable_layout()->set_pp(1);
      v1::SubmitJobResponse resp;
      return stub.SubmitJob(&ctx, req, &resp).ok();
    });
    total_errors += r.errors;
    table.AddRow({"SubmitJob", std::to_string(clients), std::to_string(r.calls), Fixed(r.calls / r.seconds, 0),
                  Fixed(r.p50_us, 0), Fixed(r.p99_us, 0), std::to_string(r.errors)});
  }
  if (daemon) {
    daemon.reset();
    std::error_code ec;
    std::filesystem::remove_all(state_dir, ec);
  }
  std::printf("# meridian-bench rpc: daemon at %s%s, %.1f s per row, %u hardware threads shared by clients and daemon\n",
              address.c_str(), o.scheduler.empty() ? " (started here, --dry-run)" : "", o.seconds,
              std::thread::hardware_concurrency());
  std::printf("%s", table.ToString().c_str());
  std::printf("# best Heartbeat rate %.0f/s (target %.0f/s): %s\n", best_heartbeat_rate, o.target_heartbeats_per_s,
              best_heartbeat_rate >= o.target_heartbeats_per_s ? "met" : "NOT met");
  return total_errors == 0 ? 0 : 1;
}

}  // namespace

void AddRpcBenchmark(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<RpcOptions>();
  CLI::App* sub = app.add_subcommand("rpc", "Scheduler RPC rate and latency (Heartbeat, SubmitJob)");
  sub->add_option("--scheduler", o->scheduler, "Daemon to measure (default: start a --dry-run one here)");
  sub->add_option("--clients", o->clients, "Concurrent client counts")->delimiter(',');
  sub->add_option("--seconds", o->seconds, "Duration of each row");
  sub->add_option("--target", o->target_heartbeats_per_s, "Heartbeat rate to compare with");
  sub->callback([o, exit_code] { *exit_code = RunRpc(*o); });
}

}  // namespace meridian::bench
