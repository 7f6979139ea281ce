// Who may call the daemon, over a real channel: bearer tokens and their
// roles, job tokens, revocation on reload, and TLS (server and mutual).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "rpc/client_channel.h"
#include "scheduler/auth/token_file.h"
#include "scheduler/service/scheduler_service.h"
#include "tests/scheduler/core_fixture.h"
#include "tests/scheduler/tiny_job.h"

namespace meridian::scheduler {
namespace {

namespace fs = std::filesystem;

const char* kTokens = R"(tokens:
  - {name: ops, role: admin, token: "admin-token-0123456789"}
  - {name: alice, role: submit, token: "alice-token-0123456789"}
  - {name: bob, role: submit, token: "bob-token-0123456789ab", max_priority: 10, tenant: lab-b}
  - {name: viewer, role: read, token: "read-token-0123456789"}
  - {name: n1, role: agent, token: "agent-token-0123456789"}
  - {name: old, role: admin, token: "expired-token-0123456789", expires: 1000}
)";

void Write(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

class AuthTest : public CoreFixture {
 protected:
  void SetUp() override { Write(dir_ / "tokens.yaml", kTokens); }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }
  void Start(const ServerTls& tls = ServerTls()) {
    ASSERT_NO_FATAL_FAILURE(StartCore());
    authorizer_ = std::move(Authorizer::Create((dir_ / "tokens.yaml").string(), (dir_ / "job.key").string())).value();
    service_ = std::make_unique<SchedulerService>(core_.get(), authorizer_.get());
    server_ = StartSchedulerServer("127.0.0.1:0", service_.get(), &port_, tls);
    ASSERT_TRUE(server_ != nullptr);
  }
  std::unique_ptr<v1::Scheduler::Stub> Client(const std::string& token, const std::string& ca = "",
                                              const std::string& cert = "", const std::string& key = "") {
    rpc::ClientSecurity s;
    s.token = token;
    s.tls_ca_pem = ca;
    s.tls_cert_pem = cert;
    s.tls_key_pem = key;
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");
    return v1::Scheduler::NewStub(rpc::OpenChannel("127.0.0.1:" + std::to_string(port_), s, args));
  }
  static grpc::Status Pools(v1::Scheduler::Stub& stub) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::ListPoolsResponse r;
    return stub.ListPools(&ctx, v1::ListPoolsRequest(), &r);
  }
  static grpc::Status Submit(v1::Scheduler::Stub& stub, v1::Job* job = nullptr, int priority = 0,
                             const std::string& tenant = "") {
    grpc::ClientContext ctx;
    v1::SubmitJobRequest req;
    *req.mutable_spec() = TinyJob(1, 1);
    req.mutable_spec()->set_priority(priority);
    req.mutable_spec()->set_tenant(tenant);
    v1::SubmitJobResponse r;
    grpc::Status s = stub.SubmitJob(&ctx, req, &r);
    if (job != nullptr) *job = r.job();
    return s;
  }
  static grpc::Status Get(v1::Scheduler::Stub& stub, const std::string& id) {
    grpc::ClientContext ctx;
    v1::GetJobRequest req;
    req.set_id(id);
    v1::GetJobResponse r;
    return stub.GetJob(&ctx, req, &r);
  }
  static grpc::Status Cancel(v1::Scheduler::Stub& stub, const std::string& id) {
    grpc::ClientContext ctx;
    v1::CancelJobRequest req;
    req.set_id(id);
    v1::CancelJobResponse r;
    return stub.CancelJob(&ctx, req, &r);
  }
  static grpc::Status Assignment(v1::Scheduler::Stub& stub, const std::string& id) {
    grpc::ClientContext ctx;
    v1::GetAssignmentRequest req;
    req.set_job_id(id);
    v1::GetAssignmentResponse r;
    return stub.GetAssignment(&ctx, req, &r);
  }
  static std::vector<std::string> List(v1::Scheduler::Stub& stub) {
    grpc::ClientContext ctx;
    v1::ListJobsResponse r;
    EXPECT_TRUE(stub.ListJobs(&ctx, v1::ListJobsRequest(), &r).ok());
    std::vector<std::string> ids;
    for (const v1::Job& j : r.jobs()) ids.push_back(j.id());
    return ids;
  }
  static grpc::Status Register(v1::Scheduler::Stub& stub, const std::string& name) {
    grpc::ClientContext ctx;
    v1::RegisterNodeRequest req;
    req.mutable_node()->set_name(name);
    req.mutable_node()->set_data_center("dc-east");
    req.mutable_node()->set_host("10.0.0.9");
    req.mutable_node()->add_gpus()->set_model("cpu");
    v1::RegisterNodeResponse r;
    return stub.RegisterNode(&ctx, req, &r);
  }
  // A self-signed certificate for localhost / 127.0.0.1: {cert, key}.
  std::pair<std::string, std::string> SelfSigned(const std::string& name) {
    const fs::path cert = dir_ / (name + ".crt"), key = dir_ / (name + ".key");
    const std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -addext "
                            "subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " + key.string() + " -out " +
                            cert.string() + " >/dev/null 2>&1";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    return {rpc::ReadPemFile(cert.string()).value(), rpc::ReadPemFile(key.string()).value()};
  }

  std::unique_ptr<Authorizer> authorizer_;
  std::unique_ptr<SchedulerService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

TEST_F(AuthTest, MissingWrongAndExpiredTokensAreUnauthenticated) {
  Start();
  for (const std::string& token : {std::string(), std::string("not-a-token-at-all-000"),
                                   std::string("expired-token-0123456789"), std::string("job.job-000001.00ff")}) {
    auto stub = Client(token);
    grpc::Status s = Pools(*stub);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << token;
    EXPECT_EQ(s.error_message(), "missing or invalid credentials");
  }
  EXPECT_TRUE(Pools(*Client("admin-token-0123456789")).ok());
}

TEST_F(AuthTest, EachRoleMayDoItsOwnThingsOnly) {
  Start();
  auto viewer = Client("read-token-0123456789"), agent = Client("agent-token-0123456789");
  EXPECT_TRUE(Pools(*viewer).ok());
  EXPECT_EQ(Submit(*viewer).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Submit(*agent).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Pools(*agent).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(Register(*agent, "n1").ok());
  EXPECT_EQ(Register(*agent, "n2").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Register(*viewer, "n1").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(Register(*Client("admin-token-0123456789"), "n2").ok());
}

TEST_F(AuthTest, ASubmitTokenSeesAndCancelsItsOwnJobsOnly) {
  Start();
  auto alice = Client("alice-token-0123456789"), bob = Client("bob-token-0123456789ab");
  v1::Job mine, theirs;
  ASSERT_TRUE(Submit(*alice, &mine).ok());
  ASSERT_TRUE(Submit(*bob, &theirs).ok());
  EXPECT_EQ(mine.owner(), "alice");
  EXPECT_EQ(List(*alice), std::vector<std::string>{mine.id()});
  EXPECT_EQ(List(*Client("read-token-0123456789")).size(), 2u);
  EXPECT_EQ(Get(*alice, theirs.id()).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Cancel(*alice, theirs.id()).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Cancel(*Client("read-token-0123456789"), mine.id()).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // A job's output is the job's: its log stream is refused to other owners.
  auto log_status = [](v1::Scheduler::Stub& stub, const std::string& id) {
    grpc::ClientContext ctx;
    v1::StreamJobLogRequest req;
    req.set_id(id);
    auto reader = stub.StreamJobLog(&ctx, req);
    v1::JobLogChunk chunk;
    while (reader->Read(&chunk)) {
    }
    return reader->Finish();
  };
  EXPECT_EQ(log_status(*alice, theirs.id()).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(log_status(*alice, mine.id()).ok());
  EXPECT_EQ(log_status(*Client("not-a-token-at-all-000"), mine.id()).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(Cancel(*alice, mine.id()).ok());
  EXPECT_TRUE(Cancel(*Client("admin-token-0123456789"), theirs.id()).ok());
}

TEST_F(AuthTest, ASubmitTokensJobsStayWithinItsMaxPriority) {
  Start();
  auto alice = Client("alice-token-0123456789"), bob = Client("bob-token-0123456789ab");
  // alice has no max_priority: 0. Below it is always allowed.
  EXPECT_TRUE(Submit(*alice, nullptr, 0).ok());
  EXPECT_TRUE(Submit(*alice, nullptr, -5).ok());
  grpc::Status above = Submit(*alice, nullptr, 1);
  EXPECT_EQ(above.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(above.error_message().find("max_priority 0"), std::string::npos) << above.error_message();
  EXPECT_TRUE(Submit(*bob, nullptr, 10).ok());
  EXPECT_EQ(Submit(*bob, nullptr, 11).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(Submit(*Client("admin-token-0123456789"), nullptr, 1000).ok());
}

// A submit token's jobs count against its tenant's quota: the token
// file's tenant, else its name; only an admin names another.
TEST_F(AuthTest, ASubmitTokensJobsAreItsTenants) {
  Start();
  auto alice = Client("alice-token-0123456789"), bob = Client("bob-token-0123456789ab");
  v1::Job job;
  ASSERT_TRUE(Submit(*alice, &job).ok());
  EXPECT_EQ(job.spec().tenant(), "alice");
  ASSERT_TRUE(Submit(*bob, &job).ok());
  EXPECT_EQ(job.spec().tenant(), "lab-b");
  ASSERT_TRUE(Submit(*bob, &job, 0, "lab-b").ok());
  grpc::Status other = Submit(*bob, nullptr, 0, "lab-a");
  EXPECT_EQ(other.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(other.error_message().find("spec.tenant"), std::string::npos) << other.error_message();
  ASSERT_TRUE(Submit(*Client("admin-token-0123456789"), &job, 0, "lab-a").ok());
  EXPECT_EQ(job.spec().tenant(), "lab-a");
  EXPECT_EQ(Submit(*Client("admin-token-0123456789"), nullptr, 0, "lab a").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(AuthTest, AJobTokenActsForItsJobOnly) {
  Start();
  auto admin = Client("admin-token-0123456789");
  v1::Job a, b;
  ASSERT_TRUE(Submit(*admin, &a).ok());
  ASSERT_TRUE(Submit(*admin, &b).ok());
  auto ranks_of_a = Client(authorizer_->JobToken(a.id(), a.launches()));
  EXPECT_TRUE(Assignment(*ranks_of_a, a.id()).ok());
  EXPECT_EQ(Assignment(*ranks_of_a, b.id()).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Submit(*ranks_of_a).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Assignment(*Client("alice-token-0123456789"), a.id()).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // A token for another job id is not made by editing the id.
  std::string forged = authorizer_->JobToken(a.id(), a.launches());
  forged.replace(forged.find(a.id()), a.id().size(), b.id());
  EXPECT_EQ(Assignment(*Client(forged), b.id()).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // Nor one for another attempt by editing the attempt.
  std::string next = authorizer_->JobToken(a.id(), a.launches());
  next.replace(next.find("." + std::to_string(a.launches()) + "."), 3, "." + std::to_string(a.launches() + 1) + ".");
  EXPECT_EQ(Assignment(*Client(next), a.id()).error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

// A job token expires with its attempt: once the job is relaunched (a
// rank died) or ended, the old attempt's ranks are turned away.
TEST_F(AuthTest, AJobTokenEndsWithItsAttempt) {
  Start();
  auto admin = Client("admin-token-0123456789");
  v1::Job a;
  ASSERT_TRUE(Submit(*admin, &a).ok());
  ASSERT_EQ(a.launches(), 1);
  auto first = Client(authorizer_->JobToken(a.id(), 1));
  EXPECT_TRUE(Assignment(*first, a.id()).ok());
  launcher_.Exit(a.id(), 1);  // a rank failed: the job restarts as attempt 2
  auto job = core_->GetJob(a.id());
  ASSERT_TRUE(job.ok());
  ASSERT_EQ(job->launches(), 2) << v1::JobState_Name(job->state());
  grpc::Status stale = Assignment(*first, a.id());
  EXPECT_EQ(stale.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(stale.error_message().find("attempt 1"), std::string::npos) << stale.error_message();
  auto second = Client(authorizer_->JobToken(a.id(), 2));
  EXPECT_TRUE(Assignment(*second, a.id()).ok());
  launcher_.Exit(a.id(), 0);  // it succeeds: no attempt is current any more
  EXPECT_EQ(Assignment(*second, a.id()).error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(AuthTest, ATokenTakenOutOfTheFileIsRevokedOnReload) {
  Start();
  auto alice = Client("alice-token-0123456789");
  ASSERT_TRUE(Pools(*alice).ok());
  std::string without_alice = kTokens;
  without_alice.erase(without_alice.find("  - {name: alice"), without_alice.find("  - {name: bob") -
                                                                 without_alice.find("  - {name: alice"));
  Write(dir_ / "tokens.yaml", without_alice);
  ASSERT_TRUE(authorizer_->Reload().ok());
  EXPECT_EQ(Pools(*alice).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // A broken file keeps the tokens in force.
  Write(dir_ / "tokens.yaml", "tokens: [{name: x, role: boss, token: \"0123456789abcdef\"}]\n");
  EXPECT_FALSE(authorizer_->Reload().ok());
  EXPECT_TRUE(Pools(*Client("bob-token-0123456789ab")).ok());
}

TEST_F(AuthTest, AStreamEndsWhenItsTokenIsRevoked) {
  Start();
  auto alice = Client("alice-token-0123456789");
  v1::SubmitJobResponse submitted;
  {
    grpc::ClientContext ctx;
    v1::SubmitJobRequest req;
    *req.mutable_spec() = TinyJob(1, 1);
    ASSERT_TRUE(alice->SubmitJob(&ctx, req, &submitted).ok());
  }
  grpc::ClientContext ctx;
  v1::WatchJobRequest req;
  req.set_id(submitted.job().id());
  auto stream = alice->WatchJob(&ctx, req);
  v1::JobEvent event;
  ASSERT_TRUE(stream->Read(&event));  // open, and past its first check
  std::string without_alice = kTokens;
  without_alice.erase(without_alice.find("  - {name: alice"), without_alice.find("  - {name: bob") -
                                                                 without_alice.find("  - {name: alice"));
  Write(dir_ / "tokens.yaml", without_alice);
  ASSERT_TRUE(authorizer_->Reload().ok());
  const auto revoked = std::chrono::steady_clock::now();
  while (stream->Read(&event)) {
  }
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_LT(std::chrono::steady_clock::now() - revoked, std::chrono::seconds(5));
}

TEST_F(AuthTest, TlsRefusesPlaintextAndUntrustedCertificates) {
  const auto [cert, key] = SelfSigned("server");
  const auto [other_cert, other_key] = SelfSigned("other");
  Start(ServerTls{cert, key, ""});
  EXPECT_TRUE(Pools(*Client("admin-token-0123456789", cert)).ok());
  EXPECT_EQ(Pools(*Client("admin-token-0123456789")).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(Pools(*Client("admin-token-0123456789", other_cert)).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(AuthTest, MutualTlsRefusesAClientWithoutACertificate) {
  const auto [cert, key] = SelfSigned("server");
  const auto [client_cert, client_key] = SelfSigned("client");
  Start(ServerTls{cert, key, client_cert});
  EXPECT_TRUE(Pools(*Client("admin-token-0123456789", cert, client_cert, client_key)).ok());
  EXPECT_EQ(Pools(*Client("admin-token-0123456789", cert)).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST(TokenFile, MalformedEntriesAreNamedWithoutEchoingTokens) {
  const fs::path path = fs::path(::testing::TempDir()) / "bad_tokens.yaml";
  auto error = [&](const std::string& text) {
    Write(path, text);
    Result<std::vector<TokenEntry>> r = LoadTokenFile(path.string());
    EXPECT_FALSE(r.ok());
    return r.ok() ? std::string() : r.status().message();
  };
  EXPECT_NE(error("tokens: [{name: a, role: boss, token: \"0123456789abcdef\"}]").find("tokens[0].role"),
            std::string::npos);
  EXPECT_NE(error("tokens: [{name: a, role: read, token: short}]").find("tokens[0].token"), std::string::npos);
  EXPECT_NE(error("tokens: [{name: a, role: read, token: \"0123456789abcdef\", colour: red}]").find("colour"),
            std::string::npos);
  const std::string repeated = error(
      "tokens: [{name: a, role: read, token: \"0123456789abcdef\"}, {name: b, role: read, token: \"0123456789abcdef\"}]");
  EXPECT_NE(repeated.find("tokens[1].token"), std::string::npos);
  EXPECT_EQ(repeated.find("0123456789abcdef"), std::string::npos);
}

TEST(TokenFile, DataRootsAreAbsolutePathsPerToken) {
  const fs::path path = fs::path(::testing::TempDir()) / "roots.yaml";
  Write(path, "tokens:\n  - {name: alice, role: submit, token: \"alice-token-0123456789\", data_roots: [/data/alice]}\n");
  Result<std::vector<TokenEntry>> r = LoadTokenFile(path.string());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)[0].data_roots, std::vector<std::string>{"/data/alice"});
  for (const char* bad : {"data_roots: [data/alice]", "data_roots: []", "data_roots: /data", "data_roots: [\"\"]"}) {
    Write(path, std::string("tokens:\n  - {name: a, role: submit, token: \"alice-token-0123456789\", ") + bad + "}\n");
    r = LoadTokenFile(path.string());
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("tokens[0].data_roots"), std::string::npos) << r.status().message();
  }
}

TEST(TokenFile, MaxPriorityIsAPriorityPerToken) {
  const fs::path path = fs::temp_directory_path() / "meridian_token_priority.yaml";
  Write(path, "tokens:\n  - {name: alice, role: submit, token: \"alice-token-0123456789\", max_priority: 7}\n");
  Result<std::vector<TokenEntry>> r = LoadTokenFile(path.string());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)[0].max_priority, 7);
  for (const char* bad : {"max_priority: 1001", "max_priority: high"}) {
    Write(path, std::string("tokens:\n  - {name: alice, role: submit, token: \"alice-token-0123456789\", ") + bad +
                    "}\n");
    r = LoadTokenFile(path.string());
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("tokens[0]"), std::string::npos) << r.status().message();
  }
  fs::remove(path);
}

TEST(TokenFile, TenantIsANamePerToken) {
  const fs::path path = fs::path(::testing::TempDir()) / "tenant.yaml";
  Write(path, "tokens:\n  - {name: alice, role: submit, token: \"alice-token-0123456789\", tenant: lab-a}\n");
  Result<std::vector<TokenEntry>> r = LoadTokenFile(path.string());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)[0].tenant, "lab-a");
  for (const char* bad : {"tenant: \"\"", "tenant: \"lab a\"", "tenant: [a]"}) {
    Write(path, std::string("tokens:\n  - {name: a, role: submit, token: \"alice-token-0123456789\", ") + bad + "}\n");
    r = LoadTokenFile(path.string());
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("tokens[0]"), std::string::npos) << r.status().message();
  }
}

// Found by token_file_fuzz: a key that is not a plain string threw out of
// the loader (and would have ended the daemon on SIGHUP).
TEST(TokenFile, KeysThatAreNotStringsAreRefused) {
  const fs::path path = fs::path(::testing::TempDir()) / "odd_keys.yaml";
  Write(path, "tokens: []\n? [a, b]\n: 1\n");
  Result<std::vector<TokenEntry>> r = LoadTokenFile(path.string());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unknown field"), std::string::npos) << r.status().message();
  Write(path, "tokens: [{? {x: 1} : 1, name: a}]\n");
  r = LoadTokenFile(path.string());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("tokens[0]"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace meridian::scheduler

namespace meridian::scheduler {
namespace {

// Limits and paging, over the same kind of real channel.
class LimitsTest : public AuthTest {
 protected:
  void StartWith(SchedulerCoreOptions core_options, ServiceLimits limits) {
    cluster_ = DefaultCluster(1);
    options_ = std::move(core_options);
    ASSERT_NO_FATAL_FAILURE(StartCore());
    authorizer_ = std::move(Authorizer::Create((dir_ / "tokens.yaml").string(), (dir_ / "job.key").string())).value();
    service_ = std::make_unique<SchedulerService>(core_.get(), authorizer_.get(), limits);
    server_ = StartSchedulerServer("127.0.0.1:0", service_.get(), &port_);
    ASSERT_TRUE(server_ != nullptr);
  }
};

TEST_F(LimitsTest, WaitingJobsAreLimitedInAllAndPerToken) {
  SchedulerCoreOptions o;
  o.max_waiting_jobs = 3;
  o.max_waiting_per_owner = 2;
  StartWith(o, ServiceLimits());
  auto alice = Client("alice-token-0123456789"), bob = Client("bob-token-0123456789ab");
  // One slot per data center: the first two jobs run, the rest wait.
  ASSERT_TRUE(Submit(*alice).ok());
  ASSERT_TRUE(Submit(*bob).ok());
  ASSERT_TRUE(Submit(*alice).ok());
  ASSERT_TRUE(Submit(*alice).ok());
  grpc::Status s = Submit(*alice);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(s.error_message().find("--max-queued-per-token 2"), std::string::npos) << s.error_message();
  ASSERT_TRUE(Submit(*bob).ok());
  s = Submit(*bob);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(s.error_message().find("--max-queued-jobs 3"), std::string::npos) << s.error_message();
}

// Submit+cancel loops: the queue limit counts only waiting jobs, the rate
// counts every submit. Admin tokens are not limited.
TEST_F(LimitsTest, SubmitsPerTokenAreRateLimitedCancelledJobsIncluded) {
  ServiceLimits limits;
  limits.submits_per_minute = 1;
  limits.submit_burst = 3;
  StartWith(SchedulerCoreOptions(), limits);
  auto alice = Client("alice-token-0123456789");
  for (int i = 0; i < 3; ++i) {
    grpc::ClientContext ctx;
    v1::SubmitJobRequest req;
    *req.mutable_spec() = TinyJob(1, 1);
    v1::SubmitJobResponse r;
    ASSERT_TRUE(alice->SubmitJob(&ctx, req, &r).ok());
    grpc::ClientContext cancel_ctx;
    v1::CancelJobRequest cancel;
    cancel.set_id(r.job().id());
    v1::CancelJobResponse cancelled;
    ASSERT_TRUE(alice->CancelJob(&cancel_ctx, cancel, &cancelled).ok());
  }
  grpc::Status s = Submit(*alice);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(s.error_message().find("--max-submits-per-minute"), std::string::npos) << s.error_message();
  EXPECT_TRUE(Submit(*Client("bob-token-0123456789ab")).ok());  // a bucket per token
  EXPECT_TRUE(Submit(*Client("admin-token-0123456789")).ok());
}

TEST(RateLimiter, RefillsAtItsRateUpToItsBurst) {
  RateLimiter r(/*per_minute=*/60, /*burst=*/2);
  EXPECT_EQ(r.Take("a", 100.0), 0.0);
  EXPECT_EQ(r.Take("a", 100.0), 0.0);
  EXPECT_NEAR(r.Take("a", 100.0), 1.0, 1e-9);   // empty: one a second
  EXPECT_EQ(r.Take("a", 101.0), 0.0);
  EXPECT_EQ(r.Take("b", 101.0), 0.0);           // its own bucket
  EXPECT_EQ(r.Take("a", 1000.0), 0.0);          // refilled, but only to the burst
  EXPECT_EQ(r.Take("a", 1000.0), 0.0);
  EXPECT_GT(r.Take("a", 1000.0), 0.0);
}

TEST_F(LimitsTest, ARequestPastTheRankLimitIsRefusedNamingIt) {
  SchedulerCoreOptions o;
  o.max_ranks_per_job = 1;
  StartWith(o, ServiceLimits());
  grpc::ClientContext ctx;
  v1::SubmitJobRequest req;
  *req.mutable_spec() = TinyJob(2, 1);
  v1::SubmitJobResponse r;
  grpc::Status s = Client("admin-token-0123456789")->SubmitJob(&ctx, req, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("--max-ranks-per-job 1"), std::string::npos) << s.error_message();
}

TEST_F(LimitsTest, WatchesPerClientAreLimited) {
  ServiceLimits limits;
  limits.max_watches_per_client = 1;
  StartWith(SchedulerCoreOptions(), limits);
  auto admin = Client("admin-token-0123456789");
  v1::Job job;
  ASSERT_TRUE(Submit(*admin, &job).ok());
  v1::WatchJobRequest req;
  req.set_id(job.id());
  grpc::ClientContext first_ctx;
  auto first = admin->WatchJob(&first_ctx, req);
  v1::JobEvent e;
  ASSERT_TRUE(first->Read(&e));  // the first stream is open
  grpc::ClientContext second_ctx;
  auto second = admin->WatchJob(&second_ctx, req);
  while (second->Read(&e)) {
  }
  grpc::Status s = second->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(s.error_message().find("--max-watches-per-client"), std::string::npos);
  first_ctx.TryCancel();
}

TEST_F(LimitsTest, ListJobsPagesAndFiltersByState) {
  StartWith(SchedulerCoreOptions(), ServiceLimits());
  auto admin = Client("admin-token-0123456789");
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    v1::Job j;
    ASSERT_TRUE(Submit(*admin, &j).ok());
    ids.push_back(j.id());
  }
  std::vector<std::string> seen;
  v1::ListJobsRequest req;
  req.set_page_size(2);
  int pages = 0;
  do {
    grpc::ClientContext ctx;
    v1::ListJobsResponse r;
    ASSERT_TRUE(admin->ListJobs(&ctx, req, &r).ok());
    EXPECT_LE(r.jobs_size(), 2);
    for (const v1::Job& j : r.jobs()) seen.push_back(j.id());
    req.set_page_token(r.next_page_token());
    ++pages;
  } while (!req.page_token().empty() && pages < 10);
  EXPECT_EQ(seen, ids);
  EXPECT_EQ(pages, 3);
  grpc::ClientContext ctx;
  v1::ListJobsRequest queued;
  queued.add_states(v1::QUEUED);
  v1::ListJobsResponse r;
  ASSERT_TRUE(admin->ListJobs(&ctx, queued, &r).ok());
  EXPECT_EQ(r.jobs_size(), 3);  // two run on the two slots
  grpc::ClientContext bad_ctx;
  v1::ListJobsRequest bad;
  bad.set_page_size(100000);
  EXPECT_EQ(admin->ListJobs(&bad_ctx, bad, &r).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace meridian::scheduler
