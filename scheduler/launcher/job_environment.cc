#include "scheduler/launcher/job_environment.h"

#include <set>

#include "rpc/exchange_tls.h"

namespace meridian::scheduler {

namespace {

bool StartsWith(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

std::string NameOf(const std::string& entry) { return entry.substr(0, entry.find('=')); }

}  // namespace

bool JobMayInherit(const std::string& name) {
  static const std::set<std::string> kNames = {"PATH",   "HOME",    "USER",       "LOGNAME", "LANG",
                                               "LANGUAGE", "TZ",    "TMPDIR",     "LD_LIBRARY_PATH",
                                               "MERIDIAN_PROGRESS"};
  static const char* const kPrefixes[] = {"LC_",   "OMPI_", "PMIX_",     "PRTE_",       "OPAL_",           "OMP_",
                                          "GOMP_", "OPENBLAS_", "HWLOC_", "CUDA_", "NCCL_", "MERIDIAN_LOG_", "MERIDIAN_FAULT_"};
  if (kNames.count(name) > 0) return true;
  for (const char* prefix : kPrefixes)
    if (StartsWith(name, prefix)) return true;
  return false;
}

std::vector<std::string> JobEnvironment(const char* const* inherited, const std::vector<std::string>& set) {
  std::set<std::string> overridden;
  for (const std::string& e : set) overridden.insert(NameOf(e));
  std::vector<std::string> out;
  for (const char* const* e = inherited; e != nullptr && *e != nullptr; ++e) {
    const std::string entry = *e;
    const std::string name = NameOf(entry);
    if (JobMayInherit(name) && overridden.count(name) == 0) out.push_back(entry);
  }
  out.insert(out.end(), set.begin(), set.end());
  return out;
}

std::vector<std::string> ExchangeTlsEnvironment(const std::string& cert_file, const std::string& key_file) {
  return {std::string(rpc::kWanTlsCertEnv) + "=" + cert_file, std::string(rpc::kWanTlsKeyEnv) + "=" + key_file};
}

}  // namespace meridian::scheduler
