// Who is calling the daemon, and may they. Callers present a bearer token
// (gRPC metadata "authorization: Bearer TOKEN"): one from the token file
// (token_file.h), or a job token the daemon derives for each job and hands
// to its ranks (MERIDIAN_JOB_TOKEN), good only for that job's
// GetAssignment and ReportProgress. Without a token file nobody is asked
// for credentials: every caller is admin (the daemon allows that only on
// loopback or with --insecure).
//
// Errors never say what exists: UNAUTHENTICATED "missing or invalid
// credentials", PERMISSION_DENIED "not allowed for this token". Tokens are
// compared in constant time and never logged.
#pragma once

#include <memory>
#include <limits>
#include <shared_mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "scheduler/auth/token_file.h"

namespace meridian::scheduler {

struct Principal {
  std::string name;  // the token's name (an agent's is its node's); "job:<id>" for a job token
  Role role = Role::kAdmin;
  std::string job_id;  // role kJob: the one job it may act for
  int attempt = 0;     // role kJob: the launch of that job it was made for
  std::vector<std::string> data_roots;  // the token file's data_roots: what its jobs may read (empty: no narrowing)
  // The token file's max_priority for submit tokens; others are unbound
  // (the spec's own range check still applies).
  int max_priority = std::numeric_limits<int>::max();
  // The token file's tenant, else the token's name: whose quota its jobs use.
  std::string tenant;
};

// What a call wants to do, and to what.
enum class Action {
  kManageNode,   // register, heartbeat, deregister: subject = node name
  kReadCluster,  // pools, plans
  kListJobs,     // subject unused (submit tokens see their own jobs)
  kReadJob,      // subject = the job's owner
  kSubmit,
  kCancelJob,    // subject = the job's owner
  kRankCall,     // GetAssignment, ReportProgress: subject = job id
};

class Authorizer {
 public:
  // `token_file` empty: authentication off. `job_key_file` holds this
  // daemon's secret for job tokens (created, mode 0600, when missing).
  static Result<std::unique_ptr<Authorizer>> Create(const std::string& token_file, const std::string& job_key_file);

  bool enabled() const { return !token_file_.empty(); }
  // Reads the token file again (SIGHUP); on an error the old tokens stay.
  Status Reload();
  // `authorization`: the request's "authorization" metadata ("" if none).
  Result<Principal> Authenticate(const std::string& authorization, double now_unix_s) const;
  // The token the ranks of attempt `attempt` (Job.launches) of `job_id`
  // get: good only while that attempt is the job's current one, which the
  // service checks (JobTokenIsCurrent).
  std::string JobToken(const std::string& job_id, int attempt) const;

 private:
  Authorizer(std::string token_file, std::string key) : token_file_(std::move(token_file)), key_(std::move(key)) {}

  std::string token_file_;
  std::string key_;
  mutable std::shared_mutex mu_;
  std::vector<TokenEntry> tokens_;
};

// OK, or PERMISSION_DENIED.
Status Allow(const Principal& who, Action action, const std::string& subject);

// A submit token sees only its own jobs; everyone else sees all.
bool SeesJob(const Principal& who, const std::string& owner);

}  // namespace meridian::scheduler
