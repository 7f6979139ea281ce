// TLS of the outer exchange between a job's worlds (runtime/parallel/
// wan_exchange.h). Where the daemon runs with TLS it makes each job one
// self-signed certificate and key (scheduler/launcher/exchange_certificate.h)
// and hands the ranks their paths; every world's leader serves with that
// pair and trusts nothing else, so only holders of the job's key can serve
// or call the exchange. Both sides read the names here, which is why they
// sit below runtime/ and scheduler/.
#pragma once

#include <string>

#include "common/status.h"

namespace meridian::rpc {

// The paths of the job's exchange certificate and key (PEM), set by the
// daemon for a job's ranks; unset: the exchange is plaintext.
inline constexpr char kWanTlsCertEnv[] = "MERIDIAN_WAN_TLS_CERT";
inline constexpr char kWanTlsKeyEnv[] = "MERIDIAN_WAN_TLS_KEY";

// The one name the certificate is for (its subject alternative name). The
// worlds' leaders move between hosts, so clients check this name, not the
// host they dial.
inline constexpr char kWanTlsServerName[] = "meridian-outer-exchange";

struct TlsPair {
  std::string cert_pem, key_pem;
};

// Reads a PEM certificate and its private key and checks that the key is
// the certificate's, so a wrong or damaged file is named at start-up rather
// than showing up as handshakes that fail without a word of why. NotFound
// or InvalidArgument naming the file.
Result<TlsPair> LoadTlsPair(const std::string& cert_file, const std::string& key_file);

}  // namespace meridian::rpc
