// meridian-train: trains a GPT-2 model, alone or as one rank under mpirun.
// See --help and docs/operations.md.
#include <cstdio>

#include "common/log.h"
#include "runtime/comm/mpi_communicator.h"
#include "runtime/comm/self_communicator.h"
#include "runtime/train/data_roots_check.h"
#include "runtime/train/device_step.h"
#include "runtime/train/scheduler_client.h"
#include "runtime/train/train_options.h"
#include "runtime/train/trainer.h"
#include "rpc/grpc_log.h"

int main(int argc, char** argv) {
  int exit_code = -1;
  meridian::Result<meridian::TrainOptions> options = meridian::ParseTrainOptions(argc, argv, &exit_code);
  if (exit_code >= 0) return exit_code;
  if (!options.ok()) {
    std::fprintf(stderr, "error: %s\n", options.status().message().c_str());
    return 2;
  }
  if (meridian::Status s = meridian::InitLogging("meridian-train", options->log_format, options->log_level); !s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.message().c_str());
    return 2;
  }
  meridian::rpc::RouteGrpcLogsToLogger();
  // Alone, the world is this process; under mpirun, MPI's world.
  std::unique_ptr<meridian::Communicator> world;
  if (meridian::MpiCommunicator::LaunchedByMpirun()) {
    auto mpi = meridian::MpiCommunicator::InitWorld(&argc, &argv);
    if (!mpi.ok()) {
      std::fprintf(stderr, "error: %s\n", mpi.status().ToString().c_str());
      return 1;
    }
    world = std::move(mpi).value();
  } else {
    world = std::make_unique<meridian::SelfCommunicator>("world");
  }
  const int rank = world->rank();
  const bool many_ranks = world->size() > 1;
  // One rank's error ends the job at once: its peers would otherwise wait
  // in their next collective until the watchdog fires.
  auto fail = [&](const meridian::Status& s) {
    std::fprintf(stderr, "error%s: %s\n", many_ranks ? (" [rank " + std::to_string(rank) + "]").c_str() : "",
                 s.ToString().c_str());
    if (many_ranks) meridian::MpiCommunicator::AbortWorld(1);
    return 1;
  };
  // A scheduled rank takes its job, layout and data centers from the daemon.
  std::unique_ptr<meridian::SchedulerClient> scheduler;
  if (!options->scheduler.empty()) {
    auto client = meridian::SchedulerClient::Connect(options->scheduler, options->job);
    if (!client.ok()) return fail(client.status());
    scheduler = std::move(client).value();
    if (meridian::Status s = scheduler->ApplyAssignment(rank, &*options); !s.ok()) return fail(s);
  }
  // The roots the daemon handed this rank, checked before anything is read.
  if (meridian::Status s = meridian::CheckTrainerDataUnderRoots(*options, meridian::HandedRootsFromEnvironment());
      !s.ok())
    return fail(s);
  // On GPUs every group's float traffic goes through NCCL on device memory.
  if (options->device == meridian::Device::kCuda) {
    auto cuda_world = meridian::SetUpCudaWorld(std::move(world), options->gpu);
    if (!cuda_world.ok()) return fail(cuda_world.status());
    world = std::move(cuda_world).value();
  }
  auto trainer = meridian::Trainer::Create(*options, world.get(), meridian::FaultPlan::FromEnvironment());
  if (!trainer.ok()) return fail(trainer.status());
  if (scheduler) {
    (*trainer)->set_progress_callback([&](const meridian::StepReport& r) { scheduler->ReportProgress(r); });
  }
  meridian::Status s = (*trainer)->Run();
  if (!s.ok()) return fail(s);
  return 0;
}
