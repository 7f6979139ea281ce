// Hostile requests, as random protobuf messages: the first byte picks the
// RPC, the rest is its serialized request (what the transport hands the
// service once it parses). One daemon lives through every input: a
// SQLite store on scratch space, a synthetic two-data-center cluster and a
// launcher that starts nothing, so jobs pile up, launch, exit and restart
// as the inputs say. Every call must end in a status, never a crash, and
// the core's state must stay fit to serialize.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "meridian/v1/scheduler.pb.h"
#include "scheduler/core/synthetic_cluster.h"
#include "scheduler/service/scheduler_core.h"
#include "scheduler/service/scheduler_service.h"
#include "scheduler/store/state_store.h"
#include "tests/fuzz/fuzz_scratch.h"
#include "tests/scheduler/fake_launcher.h"

namespace {

namespace v1 = meridian::v1;
using namespace meridian::scheduler;

struct Daemon {
  std::unique_ptr<StateStore> store;
  FakeLauncher launcher;
  std::unique_ptr<SchedulerCore> core;
  std::unique_ptr<SchedulerService> service;

  Daemon() {
    const auto dir = meridian::fuzz::ScratchDir() / "state";
    std::filesystem::create_directories(dir);
    auto opened = OpenSqliteStateStore(dir.string());
    if (!opened.ok()) std::abort();
    store = std::move(opened).value();
    SchedulerCoreOptions options;
    options.data_roots = {(meridian::fuzz::ScratchDir() / "data").string()};
    options.max_waiting_jobs = 200;  // bounds what the inputs can pile up
    options.max_ranks_per_job = 4096;
    core = std::make_unique<SchedulerCore>(SyntheticCluster({}), store.get(), &launcher, options);
    if (!core->Recover().ok()) std::abort();
    service = std::make_unique<SchedulerService>(core.get());
  }
};

template <typename Request, typename Response, typename Method>
void Call(Daemon& d, Method method, std::string_view bytes) {
  Request req;
  if (!req.ParseFromArray(bytes.data(), (int)bytes.size())) return;  // the transport refuses these
  Response resp;
  grpc::ServerContext ctx;
  grpc::Status s = ((*d.service).*method)(&ctx, &req, &resp);
  if (s.ok()) {
    std::string out;
    if (!resp.SerializeToString(&out)) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Daemon* d = new Daemon();  // lives as long as the process, as a daemon does
  if (size == 0) return 0;
  const std::string_view body = meridian::fuzz::AsText(data + 1, size - 1);
  using S = SchedulerService;
  switch (data[0] % 12) {
    case 0: Call<v1::RegisterNodeRequest, v1::RegisterNodeResponse>(*d, &S::RegisterNode, body); break;
    case 1: Call<v1::HeartbeatRequest, v1::HeartbeatResponse>(*d, &S::Heartbeat, body); break;
    case 2: Call<v1::DeregisterNodeRequest, v1::DeregisterNodeResponse>(*d, &S::DeregisterNode, body); break;
    case 3: Call<v1::ListPoolsRequest, v1::ListPoolsResponse>(*d, &S::ListPools, body); break;
    case 4: Call<v1::SubmitJobRequest, v1::SubmitJobResponse>(*d, &S::SubmitJob, body); break;
    case 5: Call<v1::GetJobRequest, v1::GetJobResponse>(*d, &S::GetJob, body); break;
    case 6: Call<v1::ListJobsRequest, v1::ListJobsResponse>(*d, &S::ListJobs, body); break;
    case 7: Call<v1::CancelJobRequest, v1::CancelJobResponse>(*d, &S::CancelJob, body); break;
    case 8: Call<v1::PlanRequest, v1::PlanResponse>(*d, &S::Plan, body); break;
    case 9: Call<v1::GetAssignmentRequest, v1::GetAssignmentResponse>(*d, &S::GetAssignment, body); break;
    case 10: Call<v1::ReportProgressRequest, v1::ReportProgressResponse>(*d, &S::ReportProgress, body); break;
    case 11: {
      // The oldest launched job's processes end, with the code the input says;
      // then the periodic liveness pass runs.
      if (!d->launcher.launched.empty()) {
        const std::string id = d->launcher.launched.front();
        d->launcher.launched.erase(d->launcher.launched.begin());
        d->launcher.Exit(id, body.empty() ? 0 : (int)(int8_t)body[0]);
      }
      d->core->CheckLiveness(NowUnixSeconds());
      break;
    }
  }
  return 0;
}
