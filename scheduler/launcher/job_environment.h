// The environment a job's launcher (and so every rank) starts with. Never
// the daemon's whole environment: an operator's MERIDIAN_TOKEN_FILE or TLS
// key, an SSH agent socket or anything else the daemon holds would hand the
// job the daemon's rights. Only an allow-list passes, and what the daemon
// sets for the job (its token, its CA, its outer exchange's certificate and
// key, launch.env) comes on top.
#pragma once

#include <string>
#include <vector>

namespace meridian::scheduler {

// True for a NAME the job may inherit from the daemon: locale and time
// zone (LANG, LANGUAGE, LC_*, TZ), PATH, HOME, USER, LOGNAME, TMPDIR,
// LD_LIBRARY_PATH, the MPI, OpenMP, BLAS, CUDA and NCCL runtimes' own
// settings (OMPI_*, PMIX_*, PRTE_*, OPAL_*, OMP_*, GOMP_*, OPENBLAS_*, HWLOC_*,
// CUDA_*, NCCL_*), and Meridian's logging, progress and fault-injection
// settings (MERIDIAN_LOG_*, MERIDIAN_PROGRESS, MERIDIAN_FAULT_*). Nothing
// else: no other MERIDIAN_* (tokens, TLS keys), no SSH_AUTH_SOCK.
bool JobMayInherit(const std::string& name);

// `inherited` (NAME=VALUE entries, null-terminated like environ) filtered
// by JobMayInherit, then `set` (NAME=VALUE) replacing or adding entries.
std::vector<std::string> JobEnvironment(const char* const* inherited, const std::vector<std::string>& set);

// The entries that tell a job's ranks where the daemon put the job's own
// outer exchange certificate and key (MERIDIAN_WAN_TLS_CERT,
// MERIDIAN_WAN_TLS_KEY; rpc/exchange_tls.h): paths every host of the job
// sees, in its launch directory.
std::vector<std::string> ExchangeTlsEnvironment(const std::string& cert_file, const std::string& key_file);

}  // namespace meridian::scheduler
