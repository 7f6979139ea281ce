#include "rpc/exchange_tls.h"

#include <memory>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "rpc/client_channel.h"

namespace meridian::rpc {

namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

std::unique_ptr<BIO, BioFree> MemoryBio(const std::string& text) {
  return std::unique_ptr<BIO, BioFree>(BIO_new_mem_buf(text.data(), (int)text.size()));
}

}  // namespace

Result<TlsPair> LoadTlsPair(const std::string& cert_file, const std::string& key_file) {
  TlsPair pair;
  MERIDIAN_ASSIGN_OR_RETURN(pair.cert_pem, ReadPemFile(cert_file));
  MERIDIAN_ASSIGN_OR_RETURN(pair.key_pem, ReadPemFile(key_file));
  auto cert_bio = MemoryBio(pair.cert_pem);
  std::unique_ptr<X509, X509Free> cert(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  // OpenSSL's queue of errors is per thread and gRPC reads it in
  // handshakes on this thread: leave none behind.
  if (!cert) {
    ERR_clear_error();
    return Status::InvalidArgument(cert_file + ": holds no readable PEM certificate");
  }
  auto key_bio = MemoryBio(pair.key_pem);
  std::unique_ptr<EVP_PKEY, KeyFree> key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    ERR_clear_error();
    return Status::InvalidArgument(key_file + ": holds no readable (unencrypted) PEM private key");
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return Status::InvalidArgument(key_file + ": is not the private key of the certificate in " + cert_file);
  }
  return pair;
}

}  // namespace meridian::rpc
