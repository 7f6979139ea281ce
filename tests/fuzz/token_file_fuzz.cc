// Hostile token files and authorization headers. An input is a token file,
// then (after a "\n#--authorization--\n" line) the header a caller sends.
// The file is loaded as the daemon loads --token-file; the header is
// authenticated against it, both as sent and as a job id whose job token
// is then presented. Never a crash; never a principal for a token the file
// does not hold.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "scheduler/auth/authorizer.h"
#include "scheduler/auth/token_file.h"
#include "tests/fuzz/fuzz_scratch.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace meridian::scheduler;
  auto pieces = meridian::fuzz::SplitInput(meridian::fuzz::AsText(data, size), "\n#--authorization--\n");
  const auto dir = meridian::fuzz::ScratchDir();
  const std::string token_file = (dir / "tokens.yaml").string();
  meridian::fuzz::WriteBytes(token_file, pieces[0]);
  auto entries = LoadTokenFile(token_file);
  auto authorizer = Authorizer::Create(token_file, (dir / "job-token.key").string());
  if (entries.ok() != authorizer.ok()) std::abort();  // the daemon and the loader must agree
  if (!authorizer.ok()) return 0;
  const std::string header = pieces.size() > 1 ? std::string(pieces[1]) : std::string();
  auto who = (*authorizer)->Authenticate(header, 1.0e9);
  if (who.ok()) {
    // Whoever got in holds a token of the file, or a job token.
    bool known = who->role == Role::kJob;
    for (const TokenEntry& e : *entries) known = known || (e.name == who->name && e.role == who->role);
    if (!known) std::abort();
    for (Action a : {Action::kManageNode, Action::kReadCluster, Action::kListJobs, Action::kReadJob,
                     Action::kSubmit, Action::kCancelJob, Action::kRankCall}) {
      (void)Allow(*who, a, header);
    }
  }
  // A job token made for (header, attempt) reads back as exactly that.
  const int attempt = (int)(header.size() % 1000);
  auto job = (*authorizer)->Authenticate("Bearer " + (*authorizer)->JobToken(header, attempt), 1.0e9);
  if (job.ok() && (job->role != Role::kJob || job->job_id != header || job->attempt != attempt)) std::abort();
  return 0;
}
