// How every client reaches the daemon: meridianctl, agents, ranks and the
// benchmarks. TLS when a CA is given (mutual TLS when a client
// certificate is too), and a bearer token on every call.
//
// From the environment, unless options say otherwise:
//   MERIDIAN_TOKEN_FILE  a file whose first line is the token (tokens are
//                        never taken from the command line)
//   MERIDIAN_JOB_TOKEN   the token itself: set by the daemon for a job's ranks
//   MERIDIAN_TLS_CA      PEM file of the CA that signed the daemon's certificate
//   MERIDIAN_TLS_CERT, MERIDIAN_TLS_KEY   this client's certificate (mutual TLS)
#pragma once

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "common/status.h"

namespace meridian::rpc {

struct ClientSecurity {
  std::string token;  // "" : none
  std::string tls_ca_pem, tls_cert_pem, tls_key_pem;  // contents; tls_ca_pem "" : plaintext
};

// Reads the files named by the options or, where an option is empty, by
// the environment. NotFound / InvalidArgument naming the file.
Result<ClientSecurity> LoadClientSecurity(std::string token_file = "", std::string tls_ca = "",
                                          std::string tls_cert = "", std::string tls_key = "");

std::shared_ptr<grpc::Channel> OpenChannel(const std::string& address, const ClientSecurity& security,
                                           const grpc::ChannelArguments& args = grpc::ChannelArguments());

// A PEM file's contents; NotFound naming it.
Result<std::string> ReadPemFile(const std::string& path);

}  // namespace meridian::rpc
