#include "scheduler/launcher/exchange_certificate.h"

#include <memory>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace meridian::scheduler {

namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using CertPtr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;

void FreeBio(BIO* b) { BIO_free(b); }
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, FreeBio>>;

Status Failed(const std::string& what) {
  char reason[256] = "no detail";
  if (unsigned long e = ERR_get_error(); e != 0) ERR_error_string_n(e, reason, sizeof reason);
  ERR_clear_error();
  return Status::Internal("exchange certificate: " + what + ": " + reason);
}

// Adds one v3 extension written as OpenSSL's config text ("critical,CA:FALSE").
bool AddExtension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  return ext && X509_add_ext(cert, ext.get(), -1) == 1;
}

Result<std::string> ToPem(bool (*write)(BIO*, const void*), const void* what, const char* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || !write(bio.get(), what)) return Failed(std::string("writing the ") + name);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, (size_t)n);
}

}  // namespace

Result<rpc::TlsPair> MakeExchangeCertificate(const std::string& job_id) {
  KeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return Failed("generating a P-256 key");
  CertPtr cert(X509_new());
  if (!cert) return Failed("a new certificate");
  // A random 127-bit serial: certificates of relaunches never repeat one.
  BnPtr serial(BN_new());
  if (!serial || BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())))
    return Failed("a serial number");
  X509_NAME* name = X509_get_subject_name(cert.get());
  const std::string common_name = ("meridian job " + job_id).substr(0, 64);  // X.509's limit on a CN
  if (X509_set_version(cert.get(), 2) != 1 ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(common_name.c_str()),
                                 -1, -1, 0) != 1 ||
      X509_set_issuer_name(cert.get(), name) != 1)
    return Failed("the subject");
  if (!X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) ||
      !X509_gmtime_adj(X509_getm_notAfter(cert.get()), 365L * 24 * 3600))
    return Failed("the validity");
  if (X509_set_pubkey(cert.get(), key.get()) != 1) return Failed("the public key");
  // A leaf, not a CA: the key it holds signs handshakes, never other
  // certificates. The same certificate serves and calls (mutual TLS).
  if (!AddExtension(cert.get(), NID_basic_constraints, "critical,CA:FALSE") ||
      !AddExtension(cert.get(), NID_subject_alt_name, (std::string("DNS:") + rpc::kWanTlsServerName).c_str()) ||
      !AddExtension(cert.get(), NID_ext_key_usage, "serverAuth,clientAuth") ||
      !AddExtension(cert.get(), NID_subject_key_identifier, "hash"))
    return Failed("the extensions");
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) return Failed("signing");
  rpc::TlsPair pair;
  MERIDIAN_ASSIGN_OR_RETURN(
      pair.cert_pem,
      ToPem([](BIO* b, const void* x) { return PEM_write_bio_X509(b, (X509*)x) == 1; }, cert.get(), "certificate"));
  MERIDIAN_ASSIGN_OR_RETURN(pair.key_pem, ToPem(
                                              [](BIO* b, const void* k) {
                                                return PEM_write_bio_PrivateKey(b, (EVP_PKEY*)k, nullptr, nullptr, 0,
                                                                                nullptr, nullptr) == 1;
                                              },
                                              key.get(), "private key"));
  return pair;
}

}  // namespace meridian::scheduler
