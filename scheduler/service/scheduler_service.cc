#include "scheduler/service/scheduler_service.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>

namespace meridian::scheduler {

namespace {
constexpr int kMaxMessageBytes = 4 << 20;
}  // namespace

grpc::Status ToGrpc(const Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(GrpcCodeFor(status.code())), status.message());
}

grpc::Status SchedulerService::RegisterNode(grpc::ServerContext*, const v1::RegisterNodeRequest* req,
                                            v1::RegisterNodeResponse* resp) {
  if (!req->has_node()) return ToGrpc(Status::InvalidArgument("node: missing"));
  auto node = core_->RegisterNode(req->node());
  if (!node.ok()) return ToGrpc(node.status());
  *resp->mutable_node() = *node;
  return grpc::Status::OK;
}

grpc::Status SchedulerService::Heartbeat(grpc::ServerContext*, const v1::HeartbeatRequest* req,
                                         v1::HeartbeatResponse* resp) {
  if (req->node().empty()) return ToGrpc(Status::InvalidArgument("node: missing"));
  Status s = core_->Heartbeat(req->node());
  resp->set_known(s.ok());
  return ToGrpc(s);
}

grpc::Status SchedulerService::DeregisterNode(grpc::ServerContext*, const v1::DeregisterNodeRequest* req,
                                              v1::DeregisterNodeResponse*) {
  if (req->node().empty()) return ToGrpc(Status::InvalidArgument("node: missing"));
  return ToGrpc(core_->DeregisterNode(req->node()));
}

grpc::Status SchedulerService::ListPools(grpc::ServerContext*, const v1::ListPoolsRequest*,
                                         v1::ListPoolsResponse* resp) {
  *resp = core_->ListPools();
  return grpc::Status::OK;
}

grpc::Status SchedulerService::SubmitJob(grpc::ServerContext*, const v1::SubmitJobRequest* req,
                                         v1::SubmitJobResponse* resp) {
  if (!req->has_spec()) return ToGrpc(Status::InvalidArgument("spec: missing"));
  auto job = core_->SubmitJob(req->spec());
  if (!job.ok()) return ToGrpc(job.status());
  *resp->mutable_job() = *job;
  return grpc::Status::OK;
}

grpc::Status SchedulerService::GetJob(grpc::ServerContext*, const v1::GetJobRequest* req, v1::GetJobResponse* resp) {
  if (req->id().empty()) return ToGrpc(Status::InvalidArgument("id: missing"));
  auto job = core_->GetJob(req->id());
  if (!job.ok()) return ToGrpc(job.status());
  *resp->mutable_job() = *job;
  return grpc::Status::OK;
}

grpc::Status SchedulerService::ListJobs(grpc::ServerContext*, const v1::ListJobsRequest* req,
                                        v1::ListJobsResponse* resp) {
  std::vector<v1::JobState> states;
  for (int s : req->states()) {
    if (!v1::JobState_IsValid(s) || s == v1::JOB_STATE_UNSPECIFIED)
      return ToGrpc(Status::InvalidArgument("states: " + std::to_string(s) + " is not a job state"));
    states.push_back(static_cast<v1::JobState>(s));
  }
  for (v1::Job& j : core_->ListJobs(states)) *resp->add_jobs() = std::move(j);
  return grpc::Status::OK;
}

grpc::Status SchedulerService::CancelJob(grpc::ServerContext*, const v1::CancelJobRequest* req,
                                         v1::CancelJobResponse* resp) {
  if (req->id().empty()) return ToGrpc(Status::InvalidArgument("id: missing"));
  auto job = core_->CancelJob(req->id());
  if (!job.ok()) return ToGrpc(job.status());
  *resp->mutable_job() = *job;
  return grpc::Status::OK;
}

grpc::Status SchedulerService::WatchJob(grpc::ServerContext* ctx, const v1::WatchJobRequest* req,
                                        grpc::ServerWriter<v1::JobEvent>* writer) {
  if (req->id().empty()) return ToGrpc(Status::InvalidArgument("id: missing"));
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
  }
}

grpc::Status SchedulerService::Plan(grpc::ServerContext*, const v1::PlanRequest* req, v1::PlanResponse* resp) {
  if (!req->has_spec()) return ToGrpc(Status::InvalidArgument("spec: missing"));
  auto plan = core_->Plan(req->spec());
  if (!plan.ok()) return ToGrpc(plan.status());
  *resp = *plan;
  return grpc::Status::OK;
}

grpc::Status SchedulerService::GetAssignment(grpc::ServerContext*, const v1::GetAssignmentRequest* req,
                                             v1::GetAssignmentResponse* resp) {
  if (req->job_id().empty()) return ToGrpc(Status::InvalidArgument("job_id: missing"));
  auto a = core_->GetAssignment(req->job_id(), req->rank());
  if (!a.ok()) return ToGrpc(a.status());
  *resp = *a;
  return grpc::Status::OK;
}

grpc::Status SchedulerService::ReportProgress(grpc::ServerContext*, const v1::ReportProgressRequest* req,
                                              v1::ReportProgressResponse* resp) {
  if (req->job_id().empty()) return ToGrpc(Status::InvalidArgument("job_id: missing"));
  auto state = core_->ReportProgress(req->job_id(), req->progress());
  if (!state.ok()) return ToGrpc(state.status());
  resp->set_state(*state);
  return grpc::Status::OK;
}

std::unique_ptr<grpc::Server> StartSchedulerServer(const std::string& address, SchedulerService* service,
                                                   int* bound_port) {
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), bound_port);
  builder.RegisterService(service);
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  return builder.BuildAndStart();
}

}  // namespace meridian::scheduler
