#include "bench/load_bench.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "bench/local_daemon.h"
#include "bench/table.h"
#include "meridian/v1/scheduler.grpc.pb.h"
#include "rpc/client_channel.h"

namespace meridian::bench {

namespace {

namespace fs = std::filesystem;
namespace v1 = meridian::v1;
using Clock = std::chrono::steady_clock;
using rpc::ClientSecurity;

struct LoadOptions {
  int clients = 16;
  double seconds = 10;
  std::vector<std::string> modes = {"tls", "plain"};
  std::string work_dir;  // default: a temporary folder, removed at the end
};

// What each client does, in turn, as fast as the daemon answers.
enum Rpc { kSubmit, kCancel, kList, kGet, kWatch, kHeartbeat, kRpcs };
constexpr std::array<const char*, kRpcs> kRpcNames = {"SubmitJob", "CancelJob", "ListJobs",
                                                      "GetJob",    "WatchJob",  "Heartbeat"};

// One client: a user (submit token) who submits a job and cancels it, a
// viewer (read token) who lists jobs, reads and watches the training job,
// and the agent of one node (its agent token), each on its own connection
// as separate processes would be.
struct ClientResult {
  std::array<std::vector<double>, kRpcs> latency_us;
  std::array<long, kRpcs> errors{};
  std::string first_error;
  std::vector<std::string> submitted;
};

// The credentials of one mode: empty tokens and CA in plain mode.
struct Credentials {
  std::string ca_pem;
  std::string admin;
  std::vector<std::string> users, viewers, agents;  // per client
  ClientSecurity For(const std::string& token) const { return ClientSecurity{token, ca_pem, "", ""}; }
};

std::string RandomToken() {
  std::ifstream urandom("/dev/urandom", std::ios::binary);
  unsigned char bytes[16];
  urandom.read(reinterpret_cast<char*>(bytes), sizeof bytes);
  std::string hex;
  for (unsigned char b : bytes) {
    char two[3];
    std::snprintf(two, sizeof two, "%02x", b);
    hex += two;
  }
  return hex;
}

// A self-signed certificate for 127.0.0.1 and a token file with every
// client's tokens. Returns the daemon's extra arguments, or an error.
Result<std::vector<std::string>> SecureDaemon(const std::string& dir, int clients, Credentials* creds) {
  if (!RunLogged({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                  "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", dir + "/daemon.key", "-out",
                  dir + "/daemon.crt"},
                 dir + "/openssl.log"))
    return Status::IOError("openssl could not make a certificate (" + dir + "/openssl.log)");
  auto ca = rpc::ReadPemFile(dir + "/daemon.crt");
  if (!ca.ok()) return ca.status();
  creds->ca_pem = *ca;
  std::ofstream tokens(dir + "/tokens.yaml");
  tokens << "tokens:\n";
  auto add = [&](const std::string& name, const char* role) {
    const std::string token = RandomToken();
    tokens << "  - {name: " << name << ", role: " << role << ", token: \"" << token << "\"}\n";
    return token;
  };
  creds->admin = add("load-admin", "admin");
  for (int c = 0; c < clients; ++c) {
    creds->users.push_back(add("user-" + std::to_string(c), "submit"));
    creds->viewers.push_back(add("viewer-" + std::to_string(c), "read"));
    creds->agents.push_back(add("load-node-" + std::to_string(c), "agent"));
  }
  tokens.close();
  return std::vector<std::string>{"--tls-cert", dir + "/daemon.crt", "--tls-key", dir + "/daemon.key",
                                  "--token-file", dir + "/tokens.yaml"};
}

// A small DP2 job held to dc-east: the training job fills dc-east's two
// slots, so the users' jobs of the same shape queue behind it (and are
// cancelled) rather than start training processes of their own.
v1::JobSpec SmallJob(const std::string& name, const std::string& data, int64_t steps) {
  v1::JobSpec spec;
  spec.set_name(name);
  spec.mutable_model()->set_preset("d4");
  spec.mutable_model()->set_n_layer(2);
  spec.mutable_model()->set_n_embd(64);
  spec.mutable_model()->set_n_head(2);
  spec.mutable_model()->set_vocab_size(256);
  spec.mutable_model()->set_max_seq_len(32);
  v1::TrainingOptions* t = spec.mutable_training();
  t->set_batch(2);
  t->set_seq(32);
  t->set_steps(steps);
  t->set_data(data);
  t->set_threads(1);
  spec.mutable_layout()->set_dp(2);
  spec.mutable_layout()->set_pp(1);
  spec.add_data_centers("dc-east");
  return spec;
}

double Micros(Clock::time_point since) {
  return std::chrono::duration<double, std::micro>(Clock::now() - since).count();
}

void RunClient(const std::string& address, const Credentials& creds, int c, const std::string& training_job,
               const std::string& data, Clock::time_point end, ClientResult* out) {
  auto open = [&](const std::vector<std::string>& tokens) {
    // A channel of its own: separate processes do not share connections.
    grpc::ChannelArguments args;
    args.SetInt("grpc.use_local_subchannel_pool", 1);
    return v1::Scheduler::NewStub(
        rpc::OpenChannel(address, creds.For(tokens.empty() ? "" : tokens[c]), args));
  };
  auto user = open(creds.users), viewer = open(creds.viewers), agent = open(creds.agents);
  const std::string node = "load-node-" + std::to_string(c);
  auto fail = [&](Rpc rpc, const grpc::Status& s) {
    ++out->errors[rpc];
    if (out->first_error.empty()) out->first_error = std::string(kRpcNames[rpc]) + ": " + s.error_message();
  };
  {
    grpc::ClientContext ctx;
    v1::RegisterNodeRequest req;
    req.mutable_node()->set_name(node);
    req.mutable_node()->set_data_center("dc-west");
    req.mutable_node()->set_host("127.0.0.1");
    req.mutable_node()->add_gpus()->set_model("cpu");
    v1::RegisterNodeResponse resp;
    if (grpc::Status s = agent->RegisterNode(&ctx, req, &resp); !s.ok()) fail(kHeartbeat, s);
  }
  std::string last_job;
  for (long i = 0; Clock::now() < end; ++i) {
    const Rpc rpc = static_cast<Rpc>(i % kRpcs);
    const auto t0 = Clock::now();
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    grpc::Status s;
    switch (rpc) {
      case kSubmit: {
        v1::SubmitJobRequest req;
        *req.mutable_spec() = SmallJob("load-" + std::to_string(c) + "-" + std::to_string(i), data, 1);
        v1::SubmitJobResponse resp;
        s = user->SubmitJob(&ctx, req, &resp);
        if (s.ok()) out->submitted.push_back(last_job = resp.job().id());
        break;
      }
      case kCancel: {
        if (last_job.empty()) continue;
        v1::CancelJobRequest req;
        req.set_id(last_job);
        v1::CancelJobResponse resp;
        s = user->CancelJob(&ctx, req, &resp);
        break;
      }
      case kList: {
        v1::ListJobsRequest req;
        req.set_page_size(100);
        v1::ListJobsResponse resp;
        s = viewer->ListJobs(&ctx, req, &resp);
        break;
      }
      case kGet: {
        v1::GetJobRequest req;
        req.set_id(training_job);
        v1::GetJobResponse resp;
        s = viewer->GetJob(&ctx, req, &resp);
        if (s.ok() && resp.job().state() != v1::RUNNING)
          s = grpc::Status(grpc::StatusCode::INTERNAL, "the training job is " + v1::JobState_Name(resp.job().state()));
        break;
      }
      case kWatch: {
        // Until the first event arrives: what a dashboard waits for.
        v1::WatchJobRequest req;
        req.set_id(training_job);
        auto reader = viewer->WatchJob(&ctx, req);
        v1::JobEvent event;
        const bool got = reader->Read(&event);
        ctx.TryCancel();
        s = reader->Finish();
        if (got && s.error_code() == grpc::StatusCode::CANCELLED) s = grpc::Status::OK;  // we hung up
        if (!got && s.ok()) s = grpc::Status(grpc::StatusCode::INTERNAL, "the watch ended with no event");
        break;
      }
      case kHeartbeat: {
        v1::HeartbeatRequest req;
        req.set_node(node);
        v1::HeartbeatResponse resp;
        s = agent->Heartbeat(&ctx, req, &resp);
        if (s.ok() && !resp.known()) s = grpc::Status(grpc::StatusCode::NOT_FOUND, "node " + node + " unknown");
        break;
      }
      case kRpcs:
        break;
    }
    out->latency_us[rpc].push_back(Micros(t0));
    if (!s.ok()) fail(rpc, s);
  }
}

bool Cancel(v1::Scheduler::Stub& stub, const std::string& id) {
  grpc::ClientContext ctx;
  v1::CancelJobRequest req;
  req.set_id(id);
  v1::CancelJobResponse resp;
  return stub.CancelJob(&ctx, req, &resp).ok();
}

// The daemon's view after the load (jobs a user submitted last, with no
// time left to cancel them, cancelled first): every submitted job must
// exist and be cancelled, and ListJobs, page by page, must list each job
// once. Returns the problems found.
std::vector<std::string> Audit(v1::Scheduler::Stub& admin, const std::vector<std::string>& submitted,
                               const std::string& training_job) {
  std::vector<std::string> problems;
  std::map<std::string, int> listed;
  std::string token;
  do {
    grpc::ClientContext ctx;
    v1::ListJobsRequest req;
    req.set_page_size(1000);
    req.set_page_token(token);
    v1::ListJobsResponse resp;
    if (grpc::Status s = admin.ListJobs(&ctx, req, &resp); !s.ok()) {
      problems.push_back("ListJobs: " + s.error_message());
      return problems;
    }
    for (const v1::Job& j : resp.jobs()) ++listed[j.id()];
    token = resp.next_page_token();
  } while (!token.empty());
  for (const std::string& id : submitted) {
    grpc::ClientContext ctx;
    v1::GetJobRequest req;
    req.set_id(id);
    v1::GetJobResponse resp;
    grpc::Status s = admin.GetJob(&ctx, req, &resp);
    if (s.ok() && resp.job().state() == v1::QUEUED && Cancel(admin, id)) resp.mutable_job()->set_state(v1::CANCELLED);
    if (!s.ok()) problems.push_back(id + ": " + s.error_message());
    else if (resp.job().state() != v1::CANCELLED)
      problems.push_back(id + " is " + v1::JobState_Name(resp.job().state()));
    if (listed[id] != 1) problems.push_back(id + " listed " + std::to_string(listed[id]) + " times");
  }
  if (listed[training_job] != 1) problems.push_back("the training job is not listed once");
  if (listed.size() != submitted.size() + 1)
    problems.push_back("ListJobs lists " + std::to_string(listed.size()) + " jobs, " +
                       std::to_string(submitted.size() + 1) + " were submitted");
  return problems;
}

v1::Job GetJob(v1::Scheduler::Stub& stub, const std::string& id) {
  grpc::ClientContext ctx;
  v1::GetJobRequest req;
  req.set_id(id);
  v1::GetJobResponse resp;
  (void)stub.GetJob(&ctx, req, &resp);
  return resp.job();
}

struct ModeResult {
  std::array<std::vector<double>, kRpcs> latency_us;
  std::array<long, kRpcs> errors{};
  long submitted = 0;
  int64_t steps_during_load = 0;
  std::vector<std::string> problems;
  double seconds = 0;
};

// One mode: a daemon of its own, the training job, the clients, the audit.
Result<ModeResult> RunMode(const LoadOptions& o, const std::string& mode, const std::string& dir) {
  std::error_code ec;
  fs::remove_all(dir, ec);  // a fresh daemon: no jobs of an earlier run to recover
  fs::create_directories(dir);
  const std::string data_dir = fs::path(dir).parent_path().string() + "/data";
  Credentials creds;
  // Its users submit as fast as they can: past the per-token rate limit
  // they would measure the refusal, not the daemon.
  std::vector<std::string> args = {"--state", dir + "/state", "--slots-per-dc", "2", "--max-submits-per-minute",
                                   "1000000", "--submit-burst", "1000000"};
  if (mode == "tls") {
    auto secure = SecureDaemon(dir, o.clients, &creds);
    if (!secure.ok()) return secure.status();
    args.insert(args.end(), secure->begin(), secure->end());
  }
  LocalDaemon daemon(args, dir + "/daemon.log");
  auto admin = v1::Scheduler::NewStub(rpc::OpenChannel(daemon.address(), creds.For(creds.admin)));
  if (!WaitForScheduler(*admin)) return Status::Unavailable("the daemon did not come up (" + dir + "/daemon.log)");

  // The training job, long enough to outlast the load; cancelled after it.
  const std::string data = data_dir + "/train_*.bin";
  std::string training_job;
  {
    grpc::ClientContext ctx;
    v1::SubmitJobRequest req;
    *req.mutable_spec() = SmallJob("training", data, 1000000);
    v1::SubmitJobResponse resp;
    if (grpc::Status s = admin->SubmitJob(&ctx, req, &resp); !s.ok())
      return Status::Internal("SubmitJob (training): " + s.error_message());
    training_job = resp.job().id();
  }
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  v1::Job job;
  while ((job = GetJob(*admin, training_job)).last_progress().step() < 1) {
    if (Clock::now() > deadline || job.state() == v1::FAILED)
      return Status::Internal("the training job did not start: " + v1::JobState_Name(job.state()) + " " +
                              job.message() + " (" + dir + "/daemon.log)");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const int64_t first_step = job.last_progress().step();

  std::vector<ClientResult> results(o.clients);
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  for (int c = 0; c < o.clients; ++c)
    threads.emplace_back(RunClient, daemon.address(), std::cref(creds), c, training_job, data, end, &results[c]);
  for (std::thread& t : threads) t.join();

  ModeResult r;
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<std::string> submitted;
  for (ClientResult& cr : results) {
    for (int k = 0; k < kRpcs; ++k) {
      r.latency_us[k].insert(r.latency_us[k].end(), cr.latency_us[k].begin(), cr.latency_us[k].end());
      r.errors[k] += cr.errors[k];
    }
    if (!cr.first_error.empty()) r.problems.push_back(cr.first_error);
    submitted.insert(submitted.end(), cr.submitted.begin(), cr.submitted.end());
  }
  r.submitted = (long)submitted.size();
  job = GetJob(*admin, training_job);
  r.steps_during_load = job.last_progress().step() - first_step;
  if (job.state() != v1::RUNNING) r.problems.push_back("the training job is " + v1::JobState_Name(job.state()));
  if (r.steps_during_load <= 0) r.problems.push_back("the training job made no progress during the load");
  for (std::string& p : Audit(*admin, submitted, training_job)) r.problems.push_back(std::move(p));
  if (!Cancel(*admin, training_job)) r.problems.push_back("the training job could not be cancelled");
  const auto stop_by = Clock::now() + std::chrono::seconds(30);
  while (GetJob(*admin, training_job).state() == v1::RUNNING && Clock::now() < stop_by)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  return r;
}

std::string Percentile(std::vector<double>& v, int p) {
  if (v.empty()) return "-";
  std::sort(v.begin(), v.end());
  return Fixed(v[std::min(v.size() - 1, v.size() * p / 100)] / 1000.0, 2);
}

int RunLoad(const LoadOptions& o) {
  const bool temporary = o.work_dir.empty();
  const std::string dir = temporary ? (fs::temp_directory_path() / ("meridian-bench-load-" + std::to_string(getpid()))).string()
                                    : o.work_dir;
  fs::create_directories(dir);
  if (!RunLogged({BenchBinDir() + "/meridian-data", "synth", "--out", dir + "/data", "--train-bytes", "200000",
                  "--val-bytes", "10000"},
                 dir + "/data.log")) {
    std::fprintf(stderr, "error: meridian-data synth failed (%s/data.log)\n", dir.c_str());
    return 1;
  }
  Table table({"mode", "rpc", "calls", "calls/s", "p50(ms)", "p99(ms)", "errors"});
  std::vector<std::string> summary;
  bool clean = true;
  for (const std::string& mode : o.modes) {
    auto r = RunMode(o, mode, dir + "/" + mode);
    if (!r.ok()) {
      std::fprintf(stderr, "error: %s: %s\n", mode.c_str(), r.status().ToString().c_str());
      return 1;
    }
    const char* label = mode == "tls" ? "TLS+tokens" : "plaintext";
    for (int k = 0; k < kRpcs; ++k) {
      const long calls = (long)r->latency_us[k].size();
      table.AddRow({label, kRpcNames[k], std::to_string(calls), Fixed(calls / r->seconds, 0),
                    Percentile(r->latency_us[k], 50), Percentile(r->latency_us[k], 99), std::to_string(r->errors[k])});
    }
    summary.push_back(std::string(label) + ": " + std::to_string(r->submitted) + " jobs submitted and cancelled, " +
                      (r->problems.empty() ? "every one accounted for" : std::to_string(r->problems.size()) + " problems") +
                      "; the training job trained " + std::to_string(r->steps_during_load) + " steps meanwhile");
    for (const std::string& p : r->problems) summary.push_back("  problem: " + p);
    clean = clean && r->problems.empty();
  }
  if (temporary && clean) {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  std::printf("# meridian-bench load: %d clients x (user, viewer, agent), %.0f s per mode, one daemon per mode on "
              "loopback, a DP2 training job running; %u hardware threads shared by clients, daemon and job\n",
              o.clients, o.seconds, std::thread::hardware_concurrency());
  std::printf("# WatchJob: until the first event arrives; GetJob and WatchJob read the running training job\n");
  std::printf("%s", table.ToString().c_str());
  for (const std::string& line : summary) std::printf("# %s\n", line.c_str());
  if (!clean && temporary) std::printf("# logs kept in %s\n", dir.c_str());
  return clean ? 0 : 1;
}

}  // namespace

void AddLoadBenchmark(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<LoadOptions>();
  CLI::App* sub = app.add_subcommand(
      "load", "Concurrent clients (submit, cancel, list, get, watch, heartbeat) against a daemon running a job, "
              "with TLS and tokens and without");
  sub->add_option("--clients", o->clients, "Concurrent clients (each a user, a viewer and an agent)")
      ->check(CLI::Range(1, 512));
  sub->add_option("--seconds", o->seconds, "Duration of each mode")->check(CLI::PositiveNumber);
  sub->add_option("--modes", o->modes, "tls, plain, or both")
      ->delimiter(',')
      ->check(CLI::IsMember({"tls", "plain"}));
  sub->add_option("--work-dir", o->work_dir, "Keep the daemons' state and logs here");
  sub->callback([o, exit_code] { *exit_code = RunLoad(*o); });
}

}  // namespace meridian::bench
