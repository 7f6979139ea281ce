#include "scheduler/auth/authorizer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <mutex>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

namespace meridian::scheduler {

namespace {

constexpr const char* kBearer = "Bearer ";
constexpr const char* kJobTokenPrefix = "job.";
constexpr size_t kKeyBytes = 32;

Status Denied() { return Status::PermissionDenied("not allowed for this token"); }
Status Unknown() { return Status::Unauthenticated("missing or invalid credentials"); }

bool ConstantTimeEqual(const std::string& a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string Hex(const unsigned char* data, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 15];
  }
  return out;
}

// The daemon's job-token secret: read, or made once and kept (0600).
Result<std::string> LoadOrCreateKey(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string key((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (key.size() == kKeyBytes) return key;
  if (in.is_open() && !key.empty()) return Status::Corruption(path + ": not a job-token key (expected 32 bytes)");
  unsigned char fresh[kKeyBytes];
  if (RAND_bytes(fresh, sizeof(fresh)) != 1) return Status::Internal("no random bytes for the job-token key");
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError(path + ": " + std::strerror(errno));
  const bool written = write(fd, fresh, sizeof(fresh)) == (ssize_t)sizeof(fresh) && fsync(fd) == 0;
  close(fd);
  if (!written) return Status::IOError(path + ": cannot write the job-token key");
  return std::string(reinterpret_cast<char*>(fresh), sizeof(fresh));
}

}  // namespace

Result<std::unique_ptr<Authorizer>> Authorizer::Create(const std::string& token_file,
                                                       const std::string& job_key_file) {
  MERIDIAN_ASSIGN_OR_RETURN(std::string key, LoadOrCreateKey(job_key_file));
  std::unique_ptr<Authorizer> a(new Authorizer(token_file, std::move(key)));
  if (a->enabled()) MERIDIAN_RETURN_IF_ERROR(a->Reload());
  return a;
}

Status Authorizer::Reload() {
  if (!enabled()) return Status::OK();
  MERIDIAN_ASSIGN_OR_RETURN(std::vector<TokenEntry> tokens, LoadTokenFile(token_file_));
  std::unique_lock<std::shared_mutex> lock(mu_);
  tokens_ = std::move(tokens);
  return Status::OK();
}

// job.<id>.<attempt>.<HMAC-SHA256 of "<id>.<attempt>" under the daemon's key>
std::string Authorizer::JobToken(const std::string& job_id, int attempt) const {
  const std::string subject = job_id + "." + std::to_string(attempt);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), key_.data(), (int)key_.size(), reinterpret_cast<const unsigned char*>(subject.data()),
       subject.size(), mac, &n);
  return kJobTokenPrefix + subject + "." + Hex(mac, n);
}

Result<Principal> Authorizer::Authenticate(const std::string& authorization, double now) const {
  if (!enabled()) return Principal{"anyone", Role::kAdmin, "", 0, {}};
  if (authorization.rfind(kBearer, 0) != 0) return Unknown();
  const std::string token = authorization.substr(std::strlen(kBearer));
  if (token.rfind(kJobTokenPrefix, 0) == 0) {
    const size_t start = std::strlen(kJobTokenPrefix);
    const size_t mac_dot = token.rfind('.');
    const size_t attempt_dot = mac_dot == std::string::npos || mac_dot == 0 ? std::string::npos
                                                                            : token.rfind('.', mac_dot - 1);
    if (attempt_dot == std::string::npos || attempt_dot < start) return Unknown();
    const std::string job_id = token.substr(start, attempt_dot - start);
    const std::string attempt_text = token.substr(attempt_dot + 1, mac_dot - attempt_dot - 1);
    if (job_id.empty() || attempt_text.empty() || attempt_text.size() > 9 ||
        attempt_text.find_first_not_of("0123456789") != std::string::npos)
      return Unknown();
    const int attempt = std::stoi(attempt_text);
    if (!ConstantTimeEqual(token, JobToken(job_id, attempt))) return Unknown();
    return Principal{"job:" + job_id, Role::kJob, job_id, attempt, {}};
  }
  std::shared_lock<std::shared_mutex> lock(mu_);
  const TokenEntry* found = nullptr;
  for (const TokenEntry& e : tokens_)  // every entry compared: the time does not say which matched
    if (ConstantTimeEqual(token, e.token)) found = &e;
  if (found == nullptr || (found->expires_unix_s > 0 && now >= found->expires_unix_s)) return Unknown();
  return Principal{found->name, found->role, "", 0, found->data_roots,
                   found->role == Role::kSubmit ? found->max_priority : std::numeric_limits<int>::max(),
                   found->tenant.empty() ? found->name : found->tenant};
}

Status Allow(const Principal& who, Action action, const std::string& subject) {
  switch (who.role) {
    case Role::kAdmin:
      return Status::OK();
    case Role::kAgent:
      return action == Action::kManageNode && subject == who.name ? Status::OK() : Denied();
    case Role::kJob:
      return action == Action::kRankCall && subject == who.job_id ? Status::OK() : Denied();
    case Role::kRead:
      return action == Action::kReadCluster || action == Action::kListJobs || action == Action::kReadJob
                 ? Status::OK()
                 : Denied();
    case Role::kSubmit:
      if (action == Action::kReadCluster || action == Action::kListJobs || action == Action::kSubmit)
        return Status::OK();
      return (action == Action::kReadJob || action == Action::kCancelJob) && subject == who.name ? Status::OK()
                                                                                                  : Denied();
  }
  return Denied();
}

bool SeesJob(const Principal& who, const std::string& owner) {
  return who.role != Role::kSubmit || owner == who.name;
}

}  // namespace meridian::scheduler
