#include "runtime/train/scheduler_client.h"

#include <chrono>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "common/log.h"
#include "meridian/v1/scheduler.grpc.pb.h"
#include "rpc/client_channel.h"
#include "runtime/train/assignment_check.h"
#include "runtime/train/assignment_options.h"

namespace meridian {

namespace {

// A daemon that restarts (even after kill -9) is found again within about a
// second: gRPC's default reconnect backoff grows to two minutes, during
// which every progress report would fail at once.
grpc::ChannelArguments ChannelArguments() {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  return args;
}

class GrpcSchedulerClient : public SchedulerClient {
 public:
  GrpcSchedulerClient(const std::string& address, std::string job_id, const rpc::ClientSecurity& security)
      : address_(address),
        job_id_(std::move(job_id)),
        stub_(v1::Scheduler::NewStub(rpc::OpenChannel(address, security, ChannelArguments()))) {}

  Status ApplyAssignment(int rank, TrainOptions* o) override {
    grpc::ClientContext ctx;
    // A daemon that restarts while the ranks start is waited for.
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    ctx.set_wait_for_ready(true);
    v1::GetAssignmentRequest req;
    req.set_job_id(job_id_);
    req.set_rank(rank);
    v1::GetAssignmentResponse resp;
    grpc::Status s = stub_->GetAssignment(&ctx, req, &resp);
    if (!s.ok())
      return Status::Unavailable("GetAssignment(" + job_id_ + ", rank " + std::to_string(rank) + ") from " +
                                 address_ + ": " + s.error_message());
    // One world per data center: this process is rank `rank` of world
    // --wan-world, which the placement maps to one of the job's ranks.
    int job_rank = rank;
    if (resp.placement().dc_worlds()) {
      job_rank = WorldRank(resp.placement(), o->wan_world, rank);
      if (job_rank < 0)
        return Status::InvalidArgument("job " + job_id_ + " runs as one world per data center: rank " +
                                       std::to_string(rank) + " of --wan-world " + std::to_string(o->wan_world) +
                                       " is none of its ranks");
      *resp.mutable_assignment() = resp.placement().ranks(job_rank);
      world_ = resp.assignment().data_center();
    }
    const v1::RankAssignment& a = resp.assignment();
    Logger("train")->info("[rank {}] assignment: {}/{} ({}) gpu {}, replica {}, stage {}, layers [{},{})", job_rank,
                          a.data_center(), a.node(), a.host(), a.gpu(), a.dp_index(), a.stage(), a.layer_begin(),
                          a.layer_end());
    if (a.rank() != job_rank)
      return Status::Internal("GetAssignment(rank " + std::to_string(job_rank) + ") answered rank " +
                              std::to_string(a.rank()));
    MERIDIAN_RETURN_IF_ERROR(CheckAssignment(rank, a, FindRankSurroundings()));
    MERIDIAN_RETURN_IF_ERROR(ApplyJobToOptions(resp.spec(), resp.placement(), a, resp.attempt(), o));
    attempt_ = resp.attempt();
    return ValidateTrainOptions(*o);
  }

  ~GrpcSchedulerClient() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (sender_.joinable()) sender_.join();  // sends what is still pending (the final step) first
  }

  // Off the step's critical path: queued here, sent by a background thread.
  // Reports that pile up while an RPC is in flight collapse into the newest,
  // except those that carry an eval loss.
  void ReportProgress(const StepReport& r) override {
    v1::Progress p;
    p.set_step(r.step);
    p.set_loss(r.loss);
    p.set_tokens_per_s(r.tokens_per_s);
    p.set_eval_loss(r.eval_loss);
    p.set_mfu(r.mfu);
    p.set_bytes_intra_dc(r.bytes_intra_dc);
    p.set_bytes_inter_dc(r.bytes_inter_dc);
    p.set_world(world_);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!pending_.empty() && pending_.back().eval_loss() == 0) pending_.back() = p;
      else pending_.push_back(p);
      if (!sender_.joinable()) sender_ = std::thread([this] { SendLoop(); });
    }
    cv_.notify_all();
  }

 private:
  void SendLoop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
      if (pending_.empty()) return;  // stopping, nothing left
      const v1::Progress p = pending_.front();
      pending_.pop_front();
      lock.unlock();
      Send(p);
      lock.lock();
    }
  }

  void Send(const v1::Progress& progress) {
    grpc::ClientContext ctx;
    // Waits (briefly) for a daemon that is reconnecting instead of failing
    // at once: the report then reaches a daemon that has just restarted.
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    ctx.set_wait_for_ready(true);
    v1::ReportProgressRequest req;
    req.set_job_id(job_id_);
    *req.mutable_progress() = progress;
    req.mutable_progress()->set_attempt(attempt_);
    v1::ReportProgressResponse resp;
    grpc::Status s = stub_->ReportProgress(&ctx, req, &resp);
    if (!s.ok() && !warned_) {
      Logger("train")->warn("ReportProgress to {}: {} (training continues)", address_, s.error_message());
      warned_ = true;
    }
  }

  std::string address_, job_id_;
  std::unique_ptr<v1::Scheduler::Stub> stub_;
  bool warned_ = false;  // sender thread only
  std::atomic<int> attempt_{0};
  std::string world_;  // this world's data center (one world per data center); set before any report
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<v1::Progress> pending_;
  bool stopping_ = false;
  std::thread sender_;
};

}  // namespace

Result<std::unique_ptr<SchedulerClient>> SchedulerClient::Connect(const std::string& address,
                                                                  const std::string& job_id) {
  if (address.empty() || job_id.empty()) return Status::InvalidArgument("--scheduler and --job go together");
  // The daemon hands its ranks a job token (MERIDIAN_JOB_TOKEN) and the CA
  // to trust (MERIDIAN_TLS_CA).
  MERIDIAN_ASSIGN_OR_RETURN(rpc::ClientSecurity security, rpc::LoadClientSecurity());
  return std::unique_ptr<SchedulerClient>(new GrpcSchedulerClient(address, job_id, security));
}

}  // namespace meridian
