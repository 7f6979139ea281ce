// meridianctl: command-line client of the scheduler daemon.
//   pools | nodes | submit FILE.yaml [--watch] [--priority N] [--tenant T] | plan FILE.yaml | list [--state S] | get ID | watch ID | cancel ID
//   | logs ID [-f] [--tail BYTES]
// Readable tables by default, --json (anywhere on the line) for scripts:
// every field, zeros included, 64-bit numbers as numbers. Exit codes: 0 ok,
// 1 the daemon said no (its message is printed), 2 bad usage or job file,
// 3 a watched job ended other than SUCCEEDED.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>

#include <CLI/CLI.hpp>
#include <grpcpp/grpcpp.h>

#include "common/command_line.h"
#include "common/link_schedule.h"
#include "meridian/v1/scheduler.grpc.pb.h"
#include "proto/enum_words.h"
#include "rpc/client_channel.h"
#include "scheduler/cli/job_file.h"
#include "scheduler/cli/proto_json.h"

namespace v1 = meridian::v1;

namespace {

bool g_json = false;

void PrintJson(const google::protobuf::Message& m) {
  std::printf("%s\n", meridian::scheduler::ProtoToJson(m).dump().c_str());
}

int Fail(const grpc::Status& s, const char* what) {
  std::fprintf(stderr, "error: %s: %s (%d)\n", what, s.error_message().c_str(), (int)s.error_code());
  return 1;
}

std::string State(v1::JobState s) { return v1::JobState_Name(s); }

// A contact-window schedule in words ("600 s every 5400 s (11% up)"); as
// given where it does not parse.
std::string WindowWords(const std::string& spec) {
  const meridian::Result<meridian::LinkSchedule> s = meridian::ParseWindowSpec(spec, "window");
  return s.ok() ? s->Describe() + ": " + spec : spec;
}

void PrintPlacement(const v1::Placement& p) {
  std::printf("placement: dp %d x pp %d, %s gradient sync, predicted %.3f s/step "
              "(compute %.3f, pipeline comm %.3f, dp comm %.3f)\n",
              p.dp(), p.pp(), meridian::EnumWord(p.dp_sync()).c_str(), p.predicted_step_s(), p.compute_s(), p.pipeline_comm_s(),
              p.dp_comm_s());
  // Contact windows the DiLoCo exchange waits for: the least-up link's, and
  // for a job of one world per data center each link's own.
  if (!p.wan_window().empty())
    std::printf("contact windows: the least-up link crossed is up %s\n", WindowWords(p.wan_window()).c_str());
  for (const v1::LinkWindow& w : p.link_windows())
    std::printf("contact windows: link %s <-> %s is up %s\n", w.a().c_str(), w.b().c_str(),
                WindowWords(w.schedule()).c_str());
  if (p.has_tuned_diloco()) {
    const v1::DilocoChoice& d = p.tuned_diloco();
    std::printf("tuned for these links: outer compression %s, %d fragment(s), overlap %d inner step(s)\n",
                d.outer_compress().c_str(), d.fragments(), d.overlap());
  }
  std::printf("  %4s %-10s %-10s %-10s %3s %3s %5s %-8s %s\n", "rank", "dc", "node", "host", "gpu", "dp", "stage",
              "layers", "stage-GB");
  for (const v1::RankAssignment& r : p.ranks()) {
    const std::string layers = "[" + std::to_string(r.layer_begin()) + "," + std::to_string(r.layer_end()) + ")";
    std::printf("  %4d %-10s %-10s %-10s %3d %3d %5d %-8s", r.rank(), r.data_center().c_str(), r.node().c_str(),
                r.host().c_str(), r.gpu(), r.dp_index(), r.stage(), layers.c_str());
    if (r.stage() < p.stage_memory_bytes_size()) std::printf(" %.2f", p.stage_memory_bytes(r.stage()) / 1e9);
    std::printf("\n");
  }
  if (p.modes_size() == 0) return;
  // Replicas cross data centers: what each way of synchronising them costs
  // here (* the one predicted above), with the options that select it.
  std::printf("modes priced across data centers:\n  %-30s %10s %10s %12s  %s\n", "mode", "step-s", "dp-comm-s",
              "WAN-MB/step", "options");
  for (const v1::ModePrice& m : p.modes()) {
    std::printf("%s %-30s %10.4f %10.4f %12.3f  %s\n", m.chosen() ? "*" : " ", m.mode().c_str(), m.predicted_step_s(),
                m.dp_comm_s(), m.wan_bytes_per_step() / 1e6, m.train_args().c_str());
  }
}

// "42s", "17m", "5h", "3d": how long ago a Unix time was.
std::string Age(double unix_s) {
  if (unix_s <= 0) return "-";
  const double s = std::max(0.0, std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count() - unix_s);
  if (s < 120) return std::to_string((long)s) + "s";
  if (s < 7200) return std::to_string((long)(s / 60)) + "m";
  if (s < 172800) return std::to_string((long)(s / 3600)) + "h";
  return std::to_string((long)(s / 86400)) + "d";
}

void PrintJob(const v1::Job& j) {
  std::printf("%s  %-10s %5s  %s", j.id().c_str(), State(j.state()).c_str(), Age(j.submitted_unix_s()).c_str(),
              j.spec().name().c_str());
  if (j.last_progress().step() > 0)
    std::printf("  step %lld/%lld loss %.4f", (long long)j.last_progress().step(), (long long)j.spec().training().steps(),
                j.last_progress().loss());
  if (!j.spec().tenant().empty()) std::printf("  tenant %s", j.spec().tenant().c_str());
  if (j.spec().priority() != 0) std::printf("  priority %d", j.spec().priority());
  if (j.restarts() > 0) std::printf("  restarts %d", j.restarts());
  if (!j.message().empty()) std::printf("  (%s)", j.message().c_str());
  std::printf("\n");
}

int Watch(v1::Scheduler::Stub& stub, const std::string& id) {
  grpc::ClientContext ctx;
  v1::WatchJobRequest req;
  req.set_id(id);
  auto reader = stub.WatchJob(&ctx, req);
  v1::JobEvent e;
  v1::JobState last = v1::JOB_STATE_UNSPECIFIED;
  while (reader->Read(&e)) {
    last = e.state();
    if (g_json) {
      PrintJson(e);
      continue;
    }
    if (e.has_progress() && e.progress().step() > 0) {
      std::printf("[%s] step %lld | loss %.4f | %.0f tok/s%s\n", id.c_str(), (long long)e.progress().step(),
                  e.progress().loss(), e.progress().tokens_per_s(),
                  e.progress().eval_loss() > 0 ? (" | eval " + std::to_string(e.progress().eval_loss())).c_str() : "");
    } else {
      std::printf("[%s] %s: %s\n", id.c_str(), State(e.state()).c_str(), e.message().c_str());
    }
    std::fflush(stdout);
  }
  grpc::Status s = reader->Finish();
  if (!s.ok()) return Fail(s, "WatchJob");
  return last == v1::SUCCEEDED ? 0 : 3;
}

// The job's output as the daemon's machine has it, written to stdout as it
// arrives; with follow until the job ends. offset < 0: the last -offset
// bytes.
int Logs(v1::Scheduler::Stub& stub, const std::string& id, bool follow, long long offset) {
  grpc::ClientContext ctx;
  v1::StreamJobLogRequest req;
  req.set_id(id);
  req.set_follow(follow);
  req.set_offset(offset);
  auto reader = stub.StreamJobLog(&ctx, req);
  v1::JobLogChunk chunk;
  while (reader->Read(&chunk)) {
    if (g_json) PrintJson(chunk);
    else std::fwrite(chunk.data().data(), 1, chunk.data().size(), stdout);
    std::fflush(stdout);
  }
  grpc::Status s = reader->Finish();
  if (!s.ok()) return Fail(s, "StreamJobLog");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"meridianctl: talk to the Meridian scheduler"};
  std::string address = std::getenv("MERIDIAN_SCHEDULER") ? std::getenv("MERIDIAN_SCHEDULER") : "127.0.0.1:50051";
  app.add_option("--scheduler", address, "Daemon address (or $MERIDIAN_SCHEDULER)")->capture_default_str();
  app.add_flag("--json", g_json, "Print JSON instead of tables");
  std::string token_file, tls_ca, tls_cert, tls_key;
  app.add_option("--token-file", token_file, "File whose first line is your token (or $MERIDIAN_TOKEN_FILE)")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-ca", tls_ca, "PEM CA that signed the daemon's certificate (or $MERIDIAN_TLS_CA)")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-cert", tls_cert, "Your PEM certificate, for mutual TLS (or $MERIDIAN_TLS_CERT)")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-key", tls_key, "Its PEM private key (or $MERIDIAN_TLS_KEY)")->check(CLI::ExistingFile);
  // As on every program; results and errors stay plain output on stdout and
  // stderr, the log carries only the libraries' diagnostics.
  std::string log_format, log_level;
  meridian::AddLogOptions(app, &log_format, &log_level);
  app.require_subcommand(1);
  // Options of meridianctl itself (--json, --scheduler, ...) go anywhere on
  // the line, before or after the verb: the verbs, added below, inherit this.
  app.fallthrough();
  std::string file, id;
  bool watch_after = false;
  auto* pools = app.add_subcommand("pools", "Data centers, GPUs free/total, links");
  auto* nodes = app.add_subcommand("nodes", "Every node and its GPUs");
  auto* submit = app.add_subcommand("submit", "Submit a job file");
  submit->add_option("file", file)->required();
  submit->add_flag("--watch", watch_after, "Stream its progress until it ends");
  std::optional<int> priority;
  submit->add_option("--priority", priority,
                     "The job's priority in the queue, in place of its job file's (higher first, [-1000, 1000])");
  std::string tenant;
  submit->add_option("--tenant", tenant,
                     "Whose GPU quota the job counts against, in place of its job file's (only an admin token "
                     "names a tenant not its own)");
  auto* plan = app.add_subcommand("plan", "Show where a job would run and its predicted step time");
  plan->add_option("file", file)->required();
  auto* list = app.add_subcommand("list", "Jobs");
  std::vector<std::string> list_states;
  list->add_option("--state", list_states, "Only jobs in these states (QUEUED, RUNNING, ...; repeatable)");
  auto* get = app.add_subcommand("get", "One job");
  get->add_option("id", id)->required();
  auto* watch = app.add_subcommand("watch", "Stream a job's events until it ends");
  watch->add_option("id", id)->required();
  auto* cancel = app.add_subcommand("cancel", "Cancel a job");
  cancel->add_option("id", id)->required();
  auto* logs = app.add_subcommand("logs", "Print a job's output (every rank's), from the daemon");
  logs->add_option("id", id)->required();
  bool follow = false;
  long long tail_bytes = 0;
  logs->add_flag("-f,--follow", follow, "Keep printing what the job writes until it ends");
  logs->add_option("--tail", tail_bytes, "Start this many bytes before the end")->check(CLI::NonNegativeNumber);
  if (std::optional<int> exit_code = meridian::ParseCommandLine(app, argc, argv)) return *exit_code;
  if (meridian::Status s = meridian::InitLogging("meridianctl", log_format, log_level); !s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.message().c_str());
    return meridian::kExitUsage;
  }

  meridian::Result<meridian::rpc::ClientSecurity> security =
      meridian::rpc::LoadClientSecurity(token_file, tls_ca, tls_cert, tls_key);
  if (!security.ok()) {
    std::fprintf(stderr, "error: %s\n", security.status().ToString().c_str());
    return 2;
  }
  auto stub = v1::Scheduler::NewStub(meridian::rpc::OpenChannel(address, *security));
  auto ctx = [] {
    auto c = std::make_unique<grpc::ClientContext>();
    c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return c;
  };

  if (*pools || *nodes) {
    v1::ListPoolsResponse r;
    grpc::Status s = stub->ListPools(ctx().get(), v1::ListPoolsRequest(), &r);
    if (!s.ok()) return Fail(s, "ListPools");
    if (g_json) {
      PrintJson(r);
      return 0;
    }
    if (*pools) {
      std::printf("%-12s %8s %6s %6s %12s %-8s\n", "data-center", "nodes", "gpus", "free", "fabric-Gb/s", "launcher");
      for (const auto& p : r.pools())
        std::printf("%-12s %8d %6d %6d %12.0f %-8s\n", p.data_center().c_str(), p.nodes_size(), p.total_gpus(),
                    p.free_gpus(), p.fabric_gbps(), p.launcher().c_str());
      for (const auto& l : r.links())
        std::printf("link %s <-> %s: %.1f Gbit/s, %.1f ms%s%s\n", l.a().c_str(), l.b().c_str(), l.gbps(), l.latency_ms(),
                    l.duty_cycle() > 0 && l.duty_cycle() < 1 ? ", up " : "",
                    l.duty_cycle() > 0 && l.duty_cycle() < 1 ? l.schedule().c_str() : "");
      if (r.insecure())
        std::printf("WARNING: the daemon runs with --insecure: anyone who reaches its port may use it\n");
    } else {
      std::printf("%-14s %-12s %-15s %-12s %5s %5s %-6s %s\n", "node", "data-center", "host", "hostname", "gpus",
                  "alive", "model", "jobs");
      for (const auto& p : r.pools()) {
        for (const auto& n : p.nodes()) {
          std::string jobs;
          for (const auto& g : n.gpus())
            if (!g.job_id().empty()) jobs += std::to_string(g.index()) + ":" + g.job_id() + " ";
          std::printf("%-14s %-12s %-15s %-12s %5d %5s %-6s %s\n", n.name().c_str(), n.data_center().c_str(),
                      n.host().c_str(), n.hostname().empty() ? "-" : n.hostname().c_str(), n.gpus_size(),
                      n.alive() ? "yes" : "no",
                      n.gpus_size() ? n.gpus(0).model().c_str() : "-", jobs.c_str());
        }
      }
    }
    return 0;
  }
  if (*submit || *plan) {
    auto spec = meridian::scheduler::LoadJobFile(file);
    if (!spec.ok()) {
      std::fprintf(stderr, "error: %s\n", spec.status().message().c_str());
      return 2;
    }
    // Data globs are relative to where meridianctl runs, not to the daemon.
    for (std::string* path : {spec->mutable_training()->mutable_data(), spec->mutable_training()->mutable_val_data()}) {
      if (!path->empty() && (*path)[0] != '/') *path = (std::filesystem::current_path() / *path).string();
    }
    if (priority) spec->set_priority(*priority);
    if (!tenant.empty()) spec->set_tenant(tenant);
    if (*plan) {
      v1::PlanRequest req;
      *req.mutable_spec() = *spec;
      v1::PlanResponse r;
      grpc::Status s = stub->Plan(ctx().get(), req, &r);
      if (!s.ok()) return Fail(s, "Plan");
      if (g_json) PrintJson(r);
      else {
        PrintPlacement(r.placement());
        if (!r.fits_now()) std::printf("(does not fit now: %s)\n", r.message().c_str());
      }
      return 0;
    }
    v1::SubmitJobRequest req;
    *req.mutable_spec() = *spec;
    v1::SubmitJobResponse r;
    grpc::Status s = stub->SubmitJob(ctx().get(), req, &r);
    if (!s.ok()) return Fail(s, "SubmitJob");
    if (g_json) PrintJson(r.job());
    else {
      std::printf("submitted %s (%s)\n", r.job().id().c_str(), State(r.job().state()).c_str());
      if (r.job().has_placement() && r.job().placement().ranks_size() > 0) PrintPlacement(r.job().placement());
    }
    if (watch_after) return Watch(*stub, r.job().id());
    return 0;
  }
  if (*list) {
    v1::ListJobsRequest req;
    for (const std::string& name : list_states) {
      v1::JobState state;
      if (!v1::JobState_Parse(name, &state) || state == v1::JOB_STATE_UNSPECIFIED) {
        std::fprintf(stderr, "error: --state %s: not a job state\n", name.c_str());
        return 2;
      }
      req.add_states(state);
    }
    // Every page, in order.
    v1::ListJobsResponse all;
    do {
      v1::ListJobsResponse r;
      grpc::Status s = stub->ListJobs(ctx().get(), req, &r);
      if (!s.ok()) return Fail(s, "ListJobs");
      for (auto& j : *r.mutable_jobs()) *all.add_jobs() = std::move(j);
      req.set_page_token(r.next_page_token());
    } while (!req.page_token().empty());
    if (g_json) PrintJson(all);
    else for (const auto& j : all.jobs()) PrintJob(j);
    return 0;
  }
  if (*logs) return Logs(*stub, id, follow, -tail_bytes);
  if (*get) {
    v1::GetJobRequest req;
    req.set_id(id);
    v1::GetJobResponse r;
    grpc::Status s = stub->GetJob(ctx().get(), req, &r);
    if (!s.ok()) return Fail(s, "GetJob");
    if (g_json) PrintJson(r.job());
    else {
      PrintJob(r.job());
      if (r.job().placement().ranks_size() > 0) PrintPlacement(r.job().placement());
      if (!r.job().log_path().empty()) std::printf("log: %s\n", r.job().log_path().c_str());
    }
    return 0;
  }
  if (*watch) return Watch(*stub, id);
  if (*cancel) {
    v1::CancelJobRequest req;
    req.set_id(id);
    v1::CancelJobResponse r;
    grpc::Status s = stub->CancelJob(ctx().get(), req, &r);
    if (!s.ok()) return Fail(s, "CancelJob");
    if (g_json) PrintJson(r.job());
    else std::printf("cancelling %s\n", id.c_str());
    return 0;
  }
  return 2;
}
