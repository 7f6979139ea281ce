// `meridian-scheduler agent`: runs on a node, registers it with the daemon
// (its routable address, host name, data center, GPUs or CPU slots), keeps
// it alive with heartbeats, registers again whenever the daemon does not
// know it (a daemon restarted on empty state), retries with backoff while
// the daemon is unreachable, and deregisters on SIGTERM or SIGINT.
#pragma once

#include <atomic>
#include <string>

namespace meridian::scheduler {

struct NodeAgentOptions {
  std::string scheduler = "127.0.0.1:50051";
  std::string name;           // default: the host name
  std::string data_center = "dc-east";
  std::string advertise;      // default: the address of the interface that reaches the daemon
  int slots = 2;              // CPU slots offered where the node has no CUDA device
  double interval_s = 2.0;    // heartbeat period
  double max_backoff_s = 10.0;
  // Credentials (rpc/client_channel.h): a token file (role agent, named as the
  // node) and the CA that signed the daemon's certificate; default from
  // MERIDIAN_TOKEN_FILE / MERIDIAN_TLS_CA.
  std::string token_file, tls_ca;
};

// Returns the process exit code once `stop` becomes true.
int RunNodeAgent(const NodeAgentOptions& options, const std::atomic<bool>& stop);

}  // namespace meridian::scheduler
