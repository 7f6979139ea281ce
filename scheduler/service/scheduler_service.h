// The gRPC face of SchedulerCore: unpacks requests, calls the core, maps
// its Status to a gRPC status in one place (ToGrpc).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_interceptor.h>

#include "meridian/v1/scheduler.grpc.pb.h"
#include "scheduler/auth/authorizer.h"
#include "scheduler/service/rate_limiter.h"
#include "scheduler/service/scheduler_core.h"

namespace meridian::scheduler {

grpc::Status ToGrpc(const Status& status);

// Limits the service enforces on its own (the core's are in its options).
struct ServiceLimits {
  int max_message_bytes = 4 << 20;  // --max-message-bytes: larger requests are refused by the transport
  int max_watches_per_client = 16;  // --max-watches-per-client: open WatchJob/StreamJobLog streams per token (or address)
  // --max-submits-per-minute and --submit-burst: a submit token's jobs, each
  // submit counted (cancelled jobs too). Admin tokens are not limited.
  double submits_per_minute = 60;
  double submit_burst = 30;
};

class SchedulerService final : public v1::Scheduler::Service {
 public:
  // `authorizer` may be null: no authentication (every caller is admin).
  explicit SchedulerService(SchedulerCore* core, const Authorizer* authorizer = nullptr,
                            ServiceLimits limits = ServiceLimits())
      : core_(core),
        authorizer_(authorizer),
        limits_(limits),
        submit_rate_(limits.submits_per_minute, limits.submit_burst) {}
  const ServiceLimits& limits() const { return limits_; }
  // Makes open WatchJob and StreamJobLog streams return (server shutdown).
  void Stop() { stopping_ = true; }

  grpc::Status RegisterNode(grpc::ServerContext*, const v1::RegisterNodeRequest*, v1::RegisterNodeResponse*) override;
  grpc::Status Heartbeat(grpc::ServerContext*, const v1::HeartbeatRequest*, v1::HeartbeatResponse*) override;
  grpc::Status DeregisterNode(grpc::ServerContext*, const v1::DeregisterNodeRequest*,
                              v1::DeregisterNodeResponse*) override;
  grpc::Status ListPools(grpc::ServerContext*, const v1::ListPoolsRequest*, v1::ListPoolsResponse*) override;
  grpc::Status SubmitJob(grpc::ServerContext*, const v1::SubmitJobRequest*, v1::SubmitJobResponse*) override;
  grpc::Status GetJob(grpc::ServerContext*, const v1::GetJobRequest*, v1::GetJobResponse*) override;
  grpc::Status ListJobs(grpc::ServerContext*, const v1::ListJobsRequest*, v1::ListJobsResponse*) override;
  grpc::Status CancelJob(grpc::ServerContext*, const v1::CancelJobRequest*, v1::CancelJobResponse*) override;
  grpc::Status WatchJob(grpc::ServerContext*, const v1::WatchJobRequest*, grpc::ServerWriter<v1::JobEvent>*) override;
  grpc::Status StreamJobLog(grpc::ServerContext*, const v1::StreamJobLogRequest*,
                            grpc::ServerWriter<v1::JobLogChunk>*) override;
  grpc::Status Plan(grpc::ServerContext*, const v1::PlanRequest*, v1::PlanResponse*) override;
  grpc::Status GetAssignment(grpc::ServerContext*, const v1::GetAssignmentRequest*,
                             v1::GetAssignmentResponse*) override;
  grpc::Status ReportProgress(grpc::ServerContext*, const v1::ReportProgressRequest*,
                              v1::ReportProgressResponse*) override;

 private:
  // Who calls: UNAUTHENTICATED for missing or invalid credentials.
  Result<Principal> Caller(grpc::ServerContext* ctx) const;
  // UNAUTHENTICATED or PERMISSION_DENIED, or OK with *who set.
  grpc::Status Check(grpc::ServerContext* ctx, Action action, const std::string& subject,
                     Principal* who = nullptr) const;
  // For calls about one job (a submit token may act on its own jobs only).
  grpc::Status CheckJob(grpc::ServerContext* ctx, Action action, const std::string& id,
                        Principal* who = nullptr) const;
  // A job token is good only for its attempt while that attempt is the
  // job's current one: UNAUTHENTICATED once the job was relaunched or ended.
  grpc::Status CheckAttemptIsCurrent(const Principal& who, const std::string& job_id) const;

  // Who a client is for its limits: its token's name, or its address.
  std::string ClientKey(grpc::ServerContext* ctx, const Principal& who) const;
  // One open watch or log stream of a client, while it lasts; !ok() past
  // the limit.
  class WatchSlot {
   public:
    WatchSlot(SchedulerService* service, std::string key);
    ~WatchSlot();
    bool ok() const { return ok_; }

   private:
    SchedulerService* service_;
    std::string key_;
    bool ok_ = false;
  };

  // A WatchJob or StreamJobLog may start: the id is given, the caller may
  // read the job, and *slot holds one of the client's open streams.
  grpc::Status OpenJobStream(grpc::ServerContext* ctx, const std::string& id, std::unique_ptr<WatchSlot>* slot);

  SchedulerCore* core_;
  const Authorizer* authorizer_;
  ServiceLimits limits_;
  RateLimiter submit_rate_;  // per submit token
  std::mutex watches_mu_;
  std::map<std::string, int> watches_;  // client -> open watches
  std::atomic<bool> stopping_{false};
};

// The server's TLS: PEM contents; cert_pem "" serves plaintext;
// client_ca_pem set requires and verifies client certificates.
struct ServerTls {
  std::string cert_pem, key_pem, client_ca_pem;
};

// Builds and starts a server on `address` (host:port; port 0 picks one)
// with reflection and the standard gRPC health service (grpc.health.v1)
// on. *bound_port receives the port. `interceptors` see every call (the
// daemon's RPC metrics).
std::unique_ptr<grpc::Server> StartSchedulerServer(
    const std::string& address, SchedulerService* service, int* bound_port, const ServerTls& tls = ServerTls(),
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors = {});

}  // namespace meridian::scheduler
