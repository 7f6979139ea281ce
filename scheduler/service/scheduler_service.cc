#include "scheduler/service/scheduler_service.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include <grpcpp/ext/proto_server_reflection_plugin.h>

#include "common/untrusted_file.h"
#include "scheduler/store/legacy_fields.h"

namespace meridian::scheduler {

namespace {
constexpr int kDefaultPageSize = 500;
constexpr int kMaxPageSize = 1000;
constexpr size_t kLogChunkBytes = 64 << 10;
// How long a following log stream waits for new output before it looks
// again (it also wakes on the job's events).
constexpr double kLogPollSeconds = 0.25;

// The log's size; 0 while it does not exist yet (or is not a plain file:
// the job's directory is its user's, see ReadUntrustedFile).
int64_t LogSize(const std::string& path) {
  int64_t size = 0;
  return ReadUntrustedFile(path, 0, 0, &size).ok() ? size : 0;
}

// The log's `n` bytes at `offset` (fewer if it shrank meanwhile).
Result<std::string> ReadLog(const std::string& path, int64_t offset, size_t n) {
  Result<std::string> data = ReadUntrustedFile(path, offset, n);
  if (!data.ok()) return Status::IOError("job log: " + data.status().message());
  return data;
}
}  // namespace

grpc::Status ToGrpc(const Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(GrpcCodeFor(status.code())), status.message());
}

Result<Principal> SchedulerService::Caller(grpc::ServerContext* ctx) const {
  if (authorizer_ == nullptr) return Principal{"anyone", Role::kAdmin, "", 0, {}};
  std::string authorization;
  const auto& md = ctx->client_metadata();
  if (auto it = md.find("authorization"); it != md.end()) authorization.assign(it->second.data(), it->second.size());
  return authorizer_->Authenticate(authorization, NowUnixSeconds());
}

std::string SchedulerService::ClientKey(grpc::ServerContext* ctx, const Principal& who) const {
  if (authorizer_ != nullptr && authorizer_->enabled()) return "token:" + who.name;
  // Without tokens: the peer's address without its port.
  const std::string peer = ctx->peer();
  return peer.substr(0, peer.rfind(':'));
}

SchedulerService::WatchSlot::WatchSlot(SchedulerService* service, std::string key)
    : service_(service), key_(std::move(key)) {
  std::lock_guard<std::mutex> lock(service_->watches_mu_);
  int& open = service_->watches_[key_];
  ok_ = open < service_->limits_.max_watches_per_client;
  if (ok_) ++open;
}

SchedulerService::WatchSlot::~WatchSlot() {
  if (!ok_) return;
  std::lock_guard<std::mutex> lock(service_->watches_mu_);
  if (--service_->watches_[key_] == 0) service_->watches_.erase(key_);
}

grpc::Status SchedulerService::Check(grpc::ServerContext* ctx, Action action, const std::string& subject,
                                     Principal* who) const {
  Result<Principal> caller = Caller(ctx);
  if (!caller.ok()) return ToGrpc(caller.status());
  if (Status allowed = Allow(*caller, action, subject); !allowed.ok()) return ToGrpc(allowed);
  if (who != nullptr) *who = *caller;
  return grpc::Status::OK;
}

grpc::Status SchedulerService::CheckJob(grpc::ServerContext* ctx, Action action, const std::string& id,
                                        Principal* who) const {
  Result<Principal> caller = Caller(ctx);
  if (!caller.ok()) return ToGrpc(caller.status());
  std::string owner;
  if (caller->role == Role::kSubmit) {  // only a submit token's rights depend on the job
    auto job = core_->GetJob(id);
    if (!job.ok()) return ToGrpc(job.status());
    owner = job->owner();
  }
  if (Status allowed = Allow(*caller, action, owner); !allowed.ok()) return ToGrpc(allowed);
  if (who != nullptr) *who = *caller;
  return grpc::Status::OK;
}

grpc::Status SchedulerService::CheckAttemptIsCurrent(const Principal& who, const std::string& job_id) const {
  if (who.role != Role::kJob) return grpc::Status::OK;
  auto job = core_->GetJob(job_id);
  if (!job.ok()) return ToGrpc(job.status());
  if (Terminal(job->state()) || job->launches() != who.attempt)
    return ToGrpc(Status::Unauthenticated("this job token was for attempt " + std::to_string(who.attempt) + " of " +
                                          job_id + ", which is over"));
  return grpc::Status::OK;
}

grpc::Status SchedulerService::RegisterNode(grpc::ServerContext* ctx, const v1::RegisterNodeRequest* req,
                                            v1::RegisterNodeResponse* resp) {
  if (grpc::Status s = Check(ctx, Action::kManageNode, req->node().name()); !s.ok()) return s;
  if (!req->has_node()) return ToGrpc(Status::InvalidArgument("node: missing"));
  auto node = core_->RegisterNode(req->node());
  if (!node.ok()) return ToGrpc(node.status());
  *resp->mutable_node() = *node;
  return grpc::Status::OK;
}

grpc::Status SchedulerService::Heartbeat(grpc::ServerContext* ctx, const v1::HeartbeatRequest* req,
                                         v1::HeartbeatResponse* resp) {
  if (grpc::Status s = Check(ctx, Action::kManageNode, req->node()); !s.ok()) return s;
  if (req->node().empty()) return ToGrpc(Status::InvalidArgument("node: missing"));
  Status s = core_->Heartbeat(req->node());
  resp->set_known(s.ok());
  return ToGrpc(s);
}

grpc::Status SchedulerService::DeregisterNode(grpc::ServerContext* ctx, const v1::DeregisterNodeRequest* req,
                                              v1::DeregisterNodeResponse*) {
  if (grpc::Status s = Check(ctx, Action::kManageNode, req->node()); !s.ok()) return s;
  if (req->node().empty()) return ToGrpc(Status::InvalidArgument("node: missing"));
  return ToGrpc(core_->DeregisterNode(req->node()));
}

grpc::Status SchedulerService::ListPools(grpc::ServerContext* ctx, const v1::ListPoolsRequest*,
                                         v1::ListPoolsResponse* resp) {
  if (grpc::Status s = Check(ctx, Action::kReadCluster, ""); !s.ok()) return s;
  *resp = core_->ListPools();
  return grpc::Status::OK;
}

grpc::Status SchedulerService::SubmitJob(grpc::ServerContext* ctx, const v1::SubmitJobRequest* req,
                                         v1::SubmitJobResponse* resp) {
  Principal who;
  if (grpc::Status s = Check(ctx, Action::kSubmit, "", &who); !s.ok()) return s;
  if (!req->has_spec()) return ToGrpc(Status::InvalidArgument("spec: missing"));
  if (who.role == Role::kSubmit) {
    const double wait_s = submit_rate_.Take(who.name, NowUnixSeconds());
    if (wait_s > 0) {
      char text[160];
      std::snprintf(text, sizeof text,
                    "this token submits at most %g jobs a minute, %g at once (--max-submits-per-minute, "
                    "--submit-burst): try again in %.1f s",
                    limits_.submits_per_minute, limits_.submit_burst, wait_s);
      return ToGrpc(Status::ResourceExhausted(text));
    }
  }
  v1::JobSpec spec = req->spec();
  if (Status upgraded = UpgradeLegacyFields(&spec); !upgraded.ok()) return ToGrpc(upgraded);
  if (spec.priority() > who.max_priority)
    return ToGrpc(Status::PermissionDenied("spec.priority = " + std::to_string(spec.priority()) +
                                           ": above this token's max_priority " + std::to_string(who.max_priority) +
                                           " (the token file's; a job of higher priority preempts others)"));
  const bool tokens = authorizer_ != nullptr && authorizer_->enabled();
  if (tokens && spec.tenant().empty()) spec.set_tenant(who.tenant);
  if (tokens && who.role != Role::kAdmin && spec.tenant() != who.tenant)
    return ToGrpc(Status::PermissionDenied("spec.tenant: this token submits for tenant " + who.tenant +
                                           " only (the token file's; only an admin names another)"));
  auto job = core_->SubmitJob(spec, tokens ? who.name : "", who.data_roots);
  if (!job.ok()) return ToGrpc(job.status());
  *resp->mutable_job() = *job;
  return grpc::Status::OK;
}

grpc::Status SchedulerService::GetJob(grpc::ServerContext* ctx, const v1::GetJobRequest* req, v1::GetJobResponse* resp) {
  if (req->id().empty()) return ToGrpc(Status::InvalidArgument("id: missing"));
  if (grpc::Status s = CheckJob(ctx, Action::kReadJob, req->id()); !s.ok()) return s;
  auto job = core_->GetJob(req->id());
  if (!job.ok()) return ToGrpc(job.status());
  *resp->mutable_job() = *job;
  return grpc::Status::OK;
}

grpc::Status SchedulerService::ListJobs(grpc::ServerContext* ctx, const v1::ListJobsRequest* req,
                                        v1::ListJobsResponse* resp) {
  Principal who;
  if (grpc::Status s = Check(ctx, Action::kListJobs, "", &who); !s.ok()) return s;
  std::vector<v1::JobState> states;
  for (int s : req->states()) {
    if (!v1::JobState_IsValid(s) || s == v1::JOB_STATE_UNSPECIFIED)
      return ToGrpc(Status::InvalidArgument("states: " + std::to_string(s) + " is not a job state"));
    states.push_back(static_cast<v1::JobState>(s));
  }
  if (req->page_size() < 0 || req->page_size() > kMaxPageSize)
    return ToGrpc(Status::InvalidArgument("page_size: " + std::to_string(req->page_size()) + " must be in [0, " +
                                          std::to_string(kMaxPageSize) + "]"));
  const int page_size = req->page_size() > 0 ? req->page_size() : kDefaultPageSize;
  std::vector<v1::Job> jobs = core_->ListJobs(states);
  // The page token is the id of the last job of the previous page.
  size_t first = 0;
  if (!req->page_token().empty()) {
    auto it = std::find_if(jobs.begin(), jobs.end(), [&](const v1::Job& j) { return j.id() == req->page_token(); });
    if (it == jobs.end()) {
      // The job left the filter (its state changed): resume at the first
      // job submitted after it (ids grow with submission: longer, or
      // as long and greater).
      const std::string& after = req->page_token();
      it = std::find_if(jobs.begin(), jobs.end(), [&](const v1::Job& j) {
        return j.id().size() > after.size() || (j.id().size() == after.size() && j.id() > after);
      });
      first = it - jobs.begin();
    } else {
      first = it - jobs.begin() + 1;
    }
  }
  for (size_t i = first; i < jobs.size(); ++i) {
    if (!SeesJob(who, jobs[i].owner())) continue;
    if (resp->jobs_size() == page_size) {
      resp->set_next_page_token(resp->jobs(resp->jobs_size() - 1).id());
      break;
    }
    *resp->add_jobs() = std::move(jobs[i]);
  }
  return grpc::Status::OK;
}

grpc::Status SchedulerService::CancelJob(grpc::ServerContext* ctx, const v1::CancelJobRequest* req,
                                         v1::CancelJobResponse* resp) {
  if (req->id().empty()) return ToGrpc(Status::InvalidArgument("id: missing"));
  if (grpc::Status s = CheckJob(ctx, Action::kCancelJob, req->id()); !s.ok()) return s;
  auto job = core_->CancelJob(req->id());
  if (!job.ok()) return ToGrpc(job.status());
  *resp->mutable_job() = *job;
  return grpc::Status::OK;
}

grpc::Status SchedulerService::OpenJobStream(grpc::ServerContext* ctx, const std::string& id,
                                             std::unique_ptr<WatchSlot>* slot) {
  if (id.empty()) return ToGrpc(Status::InvalidArgument("id: missing"));
  Principal who;
  if (grpc::Status s = CheckJob(ctx, Action::kReadJob, id, &who); !s.ok()) return s;
  *slot = std::make_unique<WatchSlot>(this, ClientKey(ctx, who));
  if (!(*slot)->ok())
    return ToGrpc(Status::ResourceExhausted("this client has " + std::to_string(limits_.max_watches_per_client) +
                                            " streams open (--max-watches-per-client)"));
  return grpc::Status::OK;
}

grpc::Status SchedulerService::WatchJob(grpc::ServerContext* ctx, const v1::WatchJobRequest* req,
                                        grpc::ServerWriter<v1::JobEvent>* writer) {
  std::unique_ptr<WatchSlot> slot;
  if (grpc::Status s = OpenJobStream(ctx, req->id(), &slot); !s.ok()) return s;
  if (req->after_sequence() < 0)
    return ToGrpc(Status::InvalidArgument("after_sequence: " + std::to_string(req->after_sequence()) + " must be >= 0"));
  int64_t after = req->after_sequence();
  for (;;) {
    bool done = false;
    auto events = core_->WaitForEvents(req->id(), after, 0.5, &done);
    if (!events.ok()) return ToGrpc(events.status());
    for (const v1::JobEvent& e : *events) {
      if (!writer->Write(e)) return grpc::Status::OK;  // the client went away
      after = e.sequence();
    }
    if (done) return grpc::Status::OK;
    if (ctx->IsCancelled() || stopping_) return grpc::Status(grpc::StatusCode::CANCELLED, "watch ended");
    // A token revoked or expired since the stream opened ends it.
    if (grpc::Status s = CheckJob(ctx, Action::kReadJob, req->id()); !s.ok()) return s;
  }
}

grpc::Status SchedulerService::StreamJobLog(grpc::ServerContext* ctx, const v1::StreamJobLogRequest* req,
                                            grpc::ServerWriter<v1::JobLogChunk>* writer) {
  std::unique_ptr<WatchSlot> slot;
  if (grpc::Status s = OpenJobStream(ctx, req->id(), &slot); !s.ok()) return s;
  auto job = core_->GetJob(req->id());
  if (!job.ok()) return ToGrpc(job.status());
  const std::string path = job->log_path();
  int64_t offset = req->offset() >= 0 ? req->offset() : std::max<int64_t>(0, LogSize(path) + req->offset());
  int64_t after_event = 0;
  bool ended = false;
  for (;;) {
    for (int64_t size; (size = LogSize(path)) > offset;) {
      auto data = ReadLog(path, offset, std::min<int64_t>(size - offset, kLogChunkBytes));
      if (!data.ok()) return ToGrpc(data.status());
      if (data->empty()) break;
      v1::JobLogChunk chunk;
      chunk.set_offset(offset);
      offset += static_cast<int64_t>(data->size());
      chunk.set_data(std::move(*data));
      if (!writer->Write(chunk)) return grpc::Status::OK;  // the client went away
    }
    if (!req->follow() || ended) return grpc::Status::OK;
    if (ctx->IsCancelled() || stopping_) return grpc::Status(grpc::StatusCode::CANCELLED, "log stream ended");
    if (grpc::Status s = CheckJob(ctx, Action::kReadJob, req->id()); !s.ok()) return s;
    // Whether the job has ended is known before the next read, so what it
    // wrote before ending is still read once more.
    auto events = core_->WaitForEvents(req->id(), after_event, kLogPollSeconds, &ended);
    if (!events.ok()) return ToGrpc(events.status());
    if (!events->empty()) after_event = events->back().sequence();
  }
}

grpc::Status SchedulerService::Plan(grpc::ServerContext* ctx, const v1::PlanRequest* req, v1::PlanResponse* resp) {
  if (grpc::Status s = Check(ctx, Action::kReadCluster, ""); !s.ok()) return s;
  if (!req->has_spec()) return ToGrpc(Status::InvalidArgument("spec: missing"));
  v1::JobSpec spec = req->spec();
  if (Status upgraded = UpgradeLegacyFields(&spec); !upgraded.ok()) return ToGrpc(upgraded);
  auto plan = core_->Plan(spec);
  if (!plan.ok()) return ToGrpc(plan.status());
  *resp = *plan;
  return grpc::Status::OK;
}

grpc::Status SchedulerService::GetAssignment(grpc::ServerContext* ctx, const v1::GetAssignmentRequest* req,
                                             v1::GetAssignmentResponse* resp) {
  Principal who;
  if (grpc::Status s = Check(ctx, Action::kRankCall, req->job_id(), &who); !s.ok()) return s;
  if (req->job_id().empty()) return ToGrpc(Status::InvalidArgument("job_id: missing"));
  if (grpc::Status s = CheckAttemptIsCurrent(who, req->job_id()); !s.ok()) return s;
  auto a = core_->GetAssignment(req->job_id(), req->rank());
  if (!a.ok()) return ToGrpc(a.status());
  *resp = *a;
  return grpc::Status::OK;
}

grpc::Status SchedulerService::ReportProgress(grpc::ServerContext* ctx, const v1::ReportProgressRequest* req,
                                              v1::ReportProgressResponse* resp) {
  Principal who;
  if (grpc::Status s = Check(ctx, Action::kRankCall, req->job_id(), &who); !s.ok()) return s;
  if (req->job_id().empty()) return ToGrpc(Status::InvalidArgument("job_id: missing"));
  if (grpc::Status s = CheckAttemptIsCurrent(who, req->job_id()); !s.ok()) return s;
  auto state = core_->ReportProgress(req->job_id(), req->progress());
  if (!state.ok()) return ToGrpc(state.status());
  resp->set_state(*state);
  return grpc::Status::OK;
}

std::unique_ptr<grpc::Server> StartSchedulerServer(
    const std::string& address, SchedulerService* service, int* bound_port, const ServerTls& tls,
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors) {
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  std::shared_ptr<grpc::ServerCredentials> creds = grpc::InsecureServerCredentials();
  if (!tls.cert_pem.empty()) {
    grpc::SslServerCredentialsOptions ssl(
        tls.client_ca_pem.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                                  : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    ssl.pem_root_certs = tls.client_ca_pem;
    ssl.pem_key_cert_pairs.push_back({tls.key_pem, tls.cert_pem});
    creds = grpc::SslServerCredentials(ssl);
  }
  builder.AddListeningPort(address, creds, bound_port);
  builder.RegisterService(service);
  builder.SetMaxReceiveMessageSize(service->limits().max_message_bytes);
  if (!interceptors.empty()) builder.experimental().SetInterceptorCreators(std::move(interceptors));
  return builder.BuildAndStart();
}

}  // namespace meridian::scheduler
