// The certificate of one job's outer exchange (rpc/exchange_tls.h): made by
// a daemon that runs with TLS at each launch of a job that runs as one
// world per data center, and given to that job's ranks alone. Self-signed
// and trusted by nothing but the job's own worlds, so the daemon's own key
// never leaves it and one job's key opens no other job's exchange.
#pragma once

#include <string>

#include "common/status.h"
#include "rpc/exchange_tls.h"

namespace meridian::scheduler {

// A fresh EC P-256 key and a self-signed certificate for it: subject
// "meridian job JOB_ID", subject alternative name DNS:meridian-outer-exchange,
// valid from an hour ago (clocks of data centers differ) for a year, usable
// to serve and to call. Internal when OpenSSL fails.
Result<rpc::TlsPair> MakeExchangeCertificate(const std::string& job_id);

}  // namespace meridian::scheduler
