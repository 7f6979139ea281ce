// What a job inherits from the daemon: the allow-list and nothing else,
// with what the daemon sets for the job on top.
#include <gtest/gtest.h>

#include <algorithm>

#include "scheduler/launcher/job_environment.h"

namespace meridian::scheduler {
namespace {

bool Has(const std::vector<std::string>& env, const std::string& entry) {
  return std::find(env.begin(), env.end(), entry) != env.end();
}

TEST(JobEnvironment, TheDaemonsCredentialsNeverReachTheJob) {
  const char* daemon[] = {"PATH=/usr/bin",
                          "MERIDIAN_TOKEN_FILE=/etc/meridian/admin.token",
                          "MERIDIAN_TLS_KEY=/etc/meridian/daemon.key",
                          "SSH_AUTH_SOCK=/run/agent.sock",
                          "AWS_SECRET_ACCESS_KEY=x",
                          "OMPI_ALLOW_RUN_AS_ROOT=1",
                          "LC_ALL=C.UTF-8",
                          "MERIDIAN_LOG_FORMAT=json",
                          "MERIDIAN_FAULT_STALL=1:3",
                          "OPENBLAS_CORETYPE=Haswell",
                          nullptr};
  const std::vector<std::string> env = JobEnvironment(daemon, {"MERIDIAN_JOB_TOKEN=t"});
  for (const char* kept : {"PATH=/usr/bin", "OMPI_ALLOW_RUN_AS_ROOT=1", "LC_ALL=C.UTF-8", "MERIDIAN_LOG_FORMAT=json",
                           "MERIDIAN_FAULT_STALL=1:3", "OPENBLAS_CORETYPE=Haswell", "MERIDIAN_JOB_TOKEN=t"})
    EXPECT_TRUE(Has(env, kept)) << kept;
  for (const std::string& e : env) {
    EXPECT_EQ(e.find("MERIDIAN_TOKEN_FILE"), std::string::npos);
    EXPECT_EQ(e.find("MERIDIAN_TLS_KEY"), std::string::npos);
    EXPECT_EQ(e.find("SSH_AUTH_SOCK"), std::string::npos);
    EXPECT_EQ(e.find("AWS_"), std::string::npos);
  }
  EXPECT_EQ(env.size(), 7u);
}

TEST(JobEnvironment, WhatTheDaemonSetsReplacesWhatItInherits) {
  const char* daemon[] = {"HOME=/root", "USER=root", nullptr};
  const std::vector<std::string> env = JobEnvironment(daemon, {"HOME=/home/alice", "USER=alice"});
  EXPECT_EQ(env, (std::vector<std::string>{"HOME=/home/alice", "USER=alice"}));
}

TEST(JobEnvironment, OnlyTheDaemonNamesTheExchangeCertificate) {
  // A daemon started inside another job's environment must not pass that
  // job's exchange key on.
  const char* daemon[] = {"MERIDIAN_WAN_TLS_CERT=/other/exchange.crt", "MERIDIAN_WAN_TLS_KEY=/other/exchange.key",
                          nullptr};
  EXPECT_TRUE(JobEnvironment(daemon, {}).empty());
  const std::vector<std::string> set =
      ExchangeTlsEnvironment("/jobs/launch/j1/exchange.crt", "/jobs/launch/j1/exchange.key");
  EXPECT_EQ(set, (std::vector<std::string>{"MERIDIAN_WAN_TLS_CERT=/jobs/launch/j1/exchange.crt",
                                           "MERIDIAN_WAN_TLS_KEY=/jobs/launch/j1/exchange.key"}));
  EXPECT_EQ(JobEnvironment(daemon, set), set);
}

TEST(JobEnvironment, AnEmptyEnvironmentGivesOnlyWhatIsSet) {
  EXPECT_TRUE(JobEnvironment(nullptr, {}).empty());
  const char* none[] = {nullptr};
  EXPECT_EQ(JobEnvironment(none, {"A=1"}), std::vector<std::string>{"A=1"});
}

}  // namespace
}  // namespace meridian::scheduler
