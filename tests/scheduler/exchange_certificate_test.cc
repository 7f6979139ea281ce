// A job's outer exchange certificate, read back with OpenSSL: the name the
// worlds check, a key that belongs to it, a self-signature, a year's
// validity, and a fresh pair every time.
#include "scheduler/launcher/exchange_certificate.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>

namespace meridian::scheduler {
namespace {

struct Parsed {
  std::shared_ptr<X509> cert;
  std::shared_ptr<EVP_PKEY> key;
};

Parsed Parse(const rpc::TlsPair& pair) {
  Parsed p;
  std::shared_ptr<BIO> c(BIO_new_mem_buf(pair.cert_pem.data(), (int)pair.cert_pem.size()), BIO_free);
  p.cert.reset(PEM_read_bio_X509(c.get(), nullptr, nullptr, nullptr), X509_free);
  std::shared_ptr<BIO> k(BIO_new_mem_buf(pair.key_pem.data(), (int)pair.key_pem.size()), BIO_free);
  p.key.reset(PEM_read_bio_PrivateKey(k.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
  return p;
}

// The certificate's subject alternative names of type DNS.
std::vector<std::string> DnsNames(X509* cert) {
  std::vector<std::string> names;
  auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; sans != nullptr && i < sk_GENERAL_NAME_num(sans); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(sans, i);
    if (n->type == GEN_DNS)
      names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(n->d.dNSName)),
                         (size_t)ASN1_STRING_length(n->d.dNSName));
  }
  GENERAL_NAMES_free(sans);
  return names;
}

TEST(ExchangeCertificate, NamesTheExchangeAndHoldsTheKeyItCarries) {
  Result<rpc::TlsPair> pair = MakeExchangeCertificate("job-000042");
  ASSERT_TRUE(pair.ok()) << pair.status().ToString();
  const Parsed p = Parse(*pair);
  ASSERT_TRUE(p.cert && p.key);
  EXPECT_EQ(DnsNames(p.cert.get()), std::vector<std::string>{"meridian-outer-exchange"});
  EXPECT_EQ(X509_check_host(p.cert.get(), rpc::kWanTlsServerName, 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_private_key(p.cert.get(), p.key.get()), 1);
  EXPECT_EQ(X509_verify(p.cert.get(), p.key.get()), 1);  // self-signed with it
  EXPECT_EQ(EVP_PKEY_get_base_id(p.key.get()), EVP_PKEY_EC);
  EXPECT_EQ(EVP_PKEY_get_bits(p.key.get()), 256);
  EXPECT_EQ(X509_check_ca(p.cert.get()), 0);  // signs no other certificate
  char cn[128] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(p.cert.get()), NID_commonName, cn, sizeof cn);
  EXPECT_STREQ(cn, "meridian job job-000042");
}

TEST(ExchangeCertificate, IsValidNowAndForAYear) {
  Result<rpc::TlsPair> pair = MakeExchangeCertificate("job-000001");
  ASSERT_TRUE(pair.ok());
  const Parsed p = Parse(*pair);
  ASSERT_TRUE(p.cert);
  time_t now = time(nullptr);
  EXPECT_LT(X509_cmp_time(X509_get0_notBefore(p.cert.get()), &now), 0);
  time_t in_364_days = now + 364L * 24 * 3600, in_366_days = now + 366L * 24 * 3600;
  EXPECT_GT(X509_cmp_time(X509_get0_notAfter(p.cert.get()), &in_364_days), 0);
  EXPECT_LT(X509_cmp_time(X509_get0_notAfter(p.cert.get()), &in_366_days), 0);
}

TEST(ExchangeCertificate, EveryLaunchGetsAPairOfItsOwn) {
  Result<rpc::TlsPair> a = MakeExchangeCertificate("job-000001"), b = MakeExchangeCertificate("job-000001");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->key_pem, b->key_pem);
  const Parsed pa = Parse(*a), pb = Parse(*b);
  EXPECT_NE(ASN1_INTEGER_cmp(X509_get0_serialNumber(pa.cert.get()), X509_get0_serialNumber(pb.cert.get())), 0);
  EXPECT_NE(X509_check_private_key(pa.cert.get(), pb.key.get()), 1);
}

}  // namespace
}  // namespace meridian::scheduler
