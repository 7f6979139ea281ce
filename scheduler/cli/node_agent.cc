#include "scheduler/cli/node_agent.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#ifdef MERIDIAN_AGENT_CUDA
#include "kernels/cuda/device_info.h"
#endif
#include "common/log.h"
#include "common/net_address.h"
#include "meridian/v1/scheduler.grpc.pb.h"
#include "rpc/client_channel.h"

namespace meridian::scheduler {

namespace {

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

// Sleeps up to `seconds`, waking early when asked to stop.
void SleepUnlessStopped(double seconds, const std::atomic<bool>& stop) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!stop && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

std::chrono::system_clock::time_point Deadline(double seconds) {
  return std::chrono::system_clock::now() +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::duration<double>(seconds));
}

}  // namespace

int RunNodeAgent(const NodeAgentOptions& o, const std::atomic<bool>& stop) {
  Result<rpc::ClientSecurity> security = rpc::LoadClientSecurity(o.token_file, o.tls_ca);
  if (!security.ok()) {
    Logger("agent")->error("{}", security.status().ToString());
    return 2;
  }
  auto stub = v1::Scheduler::NewStub(rpc::OpenChannel(o.scheduler, *security));
  const std::string name = o.name.empty() ? HostName() : o.name;
  if (name.empty()) {
    Logger("agent")->error("no --name and no host name");
    return 2;
  }
  // A node with CUDA devices offers them (ranks placed there train with
  // --device cuda when the job asks for it); otherwise CPU slots.
  std::vector<GpuOffer> offers = LocalGpus();
  if (offers.empty())
    for (int i = 0; i < o.slots; ++i) offers.push_back({i, "cpu", 4, 0.1});

  // The node's address as ranks and mpirun will see it; found once the
  // daemon's host resolves (and again on every registration, since routes
  // may change while the daemon is away).
  auto address = [&]() -> Result<std::string> {
    if (!o.advertise.empty()) return o.advertise;
    MERIDIAN_ASSIGN_OR_RETURN(std::string a, LocalAddressTowards(o.scheduler));
    return IsLoopback(a) ? std::string("localhost") : a;  // one machine: the local launcher's name
  };
  auto register_node = [&]() -> grpc::Status {
    Result<std::string> host = address();
    if (!host.ok()) return grpc::Status(grpc::StatusCode::UNAVAILABLE, host.status().message());
    v1::RegisterNodeRequest req;
    v1::Node* node = req.mutable_node();
    node->set_name(name);
    node->set_data_center(o.data_center);
    node->set_host(*host);
    node->set_hostname(HostName());
    for (const GpuOffer& g : offers) {
      v1::Gpu* p = node->add_gpus();
      p->set_index(g.index);
      p->set_model(g.model);
      p->set_memory_gb(g.memory_gb);
      p->set_tflops(g.tflops);
    }
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline(5));
    v1::RegisterNodeResponse resp;
    grpc::Status s = stub->RegisterNode(&ctx, req, &resp);
    if (s.ok()) {
      Logger("agent")->info("node {} registered in {} as {} with {} {}; heartbeating every {:.1f} s", name,
                            o.data_center, *host, offers.size(),
                            offers[0].model == "cpu" ? "CPU slots" : offers[0].model, o.interval_s);
    }
    return s;
  };

  bool registered = false;
  double backoff = 0.25;
  std::string last_error;
  while (!stop) {
    grpc::Status s;
    if (!registered) {
      s = register_node();
      registered = s.ok();
      // Refusals the daemon will repeat (an unknown data center, a bad
      // name) end the agent; everything else is retried.
      if (s.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
        Logger("agent")->error("RegisterNode refused: {}", s.error_message());
        return 1;
      }
    } else {
      grpc::ClientContext ctx;
      ctx.set_deadline(Deadline(5));
      v1::HeartbeatRequest hb;
      hb.set_node(name);
      v1::HeartbeatResponse hr;
      s = stub->Heartbeat(&ctx, hb, &hr);
      if (s.error_code() == grpc::StatusCode::NOT_FOUND) {
        Logger("agent")->warn("the scheduler does not know node {} (restarted?): registering again", name);
        registered = false;
        continue;
      }
    }
    if (s.ok()) {
      if (!last_error.empty()) Logger("agent")->info("scheduler {} reachable again", o.scheduler);
      last_error.clear();
      backoff = 0.25;
      SleepUnlessStopped(o.interval_s, stop);
      continue;
    }
    // Say so once per outage, not on every retry.
    if (s.error_message() != last_error) {
      Logger("agent")->warn("{} to {} failed: {} (retrying)", registered ? "heartbeat" : "RegisterNode", o.scheduler,
                            s.error_message());
      last_error = s.error_message();
    }
    SleepUnlessStopped(registered ? o.interval_s : backoff, stop);
    backoff = std::min(o.max_backoff_s, backoff * 2);
  }
  if (registered) {
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline(3));
    v1::DeregisterNodeRequest req;
    req.set_node(name);
    v1::DeregisterNodeResponse resp;
    grpc::Status s = stub->DeregisterNode(&ctx, req, &resp);
    if (s.ok()) Logger("agent")->info("node {} deregistered", name);
    else Logger("agent")->warn("node {} could not deregister: {}", name, s.error_message());
  }
  return 0;
}

}  // namespace meridian::scheduler
