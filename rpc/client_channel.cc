#include "rpc/client_channel.h"

#include <cstdlib>
#include <fstream>
#include <iterator>

#include <grpcpp/support/client_interceptor.h>

namespace meridian::rpc {

namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

// Adds "authorization: Bearer TOKEN" to every call's metadata. Done here,
// not with call credentials, because gRPC sends those over TLS only and a
// loopback daemon may be plaintext.
class BearerToken : public grpc::experimental::Interceptor {
 public:
  explicit BearerToken(const std::string& token) : header_("Bearer " + token) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA))
      methods->GetSendInitialMetadata()->insert({"authorization", header_});
    methods->Proceed();
  }

 private:
  std::string header_;
};

class BearerTokenFactory : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit BearerTokenFactory(std::string token) : token_(std::move(token)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(grpc::experimental::ClientRpcInfo*) override {
    return new BearerToken(token_);
  }

 private:
  std::string token_;
};

}  // namespace

Result<std::string> ReadPemFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound(path + ": cannot read");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.find("-----BEGIN") == std::string::npos) return Status::InvalidArgument(path + ": not a PEM file");
  return text;
}

Result<ClientSecurity> LoadClientSecurity(std::string token_file, std::string tls_ca, std::string tls_cert,
                                          std::string tls_key) {
  ClientSecurity s;
  if (token_file.empty()) token_file = Env("MERIDIAN_TOKEN_FILE");
  if (!token_file.empty()) {
    std::ifstream in(token_file);
    if (!in) return Status::NotFound(token_file + ": cannot read the token file");
    std::getline(in, s.token);
    while (!s.token.empty() && (s.token.back() == '\r' || s.token.back() == ' ')) s.token.pop_back();
    if (s.token.empty()) return Status::InvalidArgument(token_file + ": the first line holds no token");
  } else {
    s.token = Env("MERIDIAN_JOB_TOKEN");
  }
  if (tls_ca.empty()) tls_ca = Env("MERIDIAN_TLS_CA");
  if (tls_cert.empty()) tls_cert = Env("MERIDIAN_TLS_CERT");
  if (tls_key.empty()) tls_key = Env("MERIDIAN_TLS_KEY");
  if (!tls_ca.empty()) {
    MERIDIAN_ASSIGN_OR_RETURN(s.tls_ca_pem, ReadPemFile(tls_ca));
  }
  if (tls_cert.empty() != tls_key.empty())
    return Status::InvalidArgument("a client certificate needs both MERIDIAN_TLS_CERT and MERIDIAN_TLS_KEY");
  if (!tls_cert.empty()) {
    if (tls_ca.empty()) return Status::InvalidArgument(tls_cert + ": a client certificate needs TLS (MERIDIAN_TLS_CA)");
    MERIDIAN_ASSIGN_OR_RETURN(s.tls_cert_pem, ReadPemFile(tls_cert));
    MERIDIAN_ASSIGN_OR_RETURN(s.tls_key_pem, ReadPemFile(tls_key));
  }
  return s;
}

std::shared_ptr<grpc::Channel> OpenChannel(const std::string& address, const ClientSecurity& security,
                                           const grpc::ChannelArguments& args) {
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (security.tls_ca_pem.empty()) {
    creds = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = security.tls_ca_pem;
    ssl.pem_cert_chain = security.tls_cert_pem;
    ssl.pem_private_key = security.tls_key_pem;
    creds = grpc::SslCredentials(ssl);
  }
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> interceptors;
  if (!security.token.empty()) interceptors.push_back(std::make_unique<BearerTokenFactory>(security.token));
  return grpc::experimental::CreateCustomChannelWithInterceptors(address, creds, args, std::move(interceptors));
}

}  // namespace meridian::rpc
