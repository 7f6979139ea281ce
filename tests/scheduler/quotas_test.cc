// The quota file (--quota-file): what it reads and how it names mistakes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "scheduler/service/quotas.h"

namespace meridian::scheduler {
namespace {

namespace fs = std::filesystem;

// A file of its own per test: ctest runs the tests of this binary in
// parallel processes, and a shared name let one overwrite another's.
Result<Quotas> Load(const std::string& text) {
  const fs::path path = fs::path(::testing::TempDir()) /
                        (std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + ".quotas.yaml");
  std::ofstream(path) << text;
  return LoadQuotaFile(path.string());
}

TEST(QuotaFile, ReadsGuaranteesBorrowLimitsAndTheDefault) {
  Result<Quotas> q = Load("tenants:\n  lab-a: {gpus: 64, borrow: 32}\n  lab-b: {gpus: 8}\n  \"*\": {gpus: 0, borrow: 4}\n");
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_TRUE(q->enabled());
  EXPECT_EQ(q->For("lab-a").gpus, 64);
  EXPECT_EQ(q->For("lab-a").limit(), 96);
  EXPECT_EQ(q->For("lab-b").gpus, 8);
  EXPECT_GT(q->For("lab-b").limit(), 1'000'000'000);  // borrows without limit
  EXPECT_EQ(q->For("someone").gpus, 0);                 // "*"
  EXPECT_EQ(q->For("someone").limit(), 4);
  // Without "*", a tenant not named has no guarantee and no limit.
  q = Load("tenants:\n  lab-a: {gpus: 1}\n");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->For("other").gpus, 0);
  EXPECT_GT(q->For("other").limit(), 1'000'000'000);
  EXPECT_FALSE(Quotas().enabled());
}

TEST(QuotaFile, MistakesNameTheFileTheTenantAndTheField) {
  const std::pair<const char*, const char*> bad[] = {
      {"tenants:\n  lab-a: {gpus: -1}\n", "tenants.lab-a.gpus = -1"},
      {"tenants:\n  lab-a: {gpus: many}\n", "tenants.lab-a.gpus: expected a whole number"},
      {"tenants:\n  lab-a: {borrow: 2}\n", "tenants.lab-a.gpus: missing"},
      {"tenants:\n  lab-a: {gpus: 2, lend: 1}\n", "tenants.lab-a.lend: unknown field"},
      {"tenants:\n  lab-a: 5\n", "tenants.lab-a: expected {gpus, borrow}"},
      {"tenant:\n  lab-a: {gpus: 2}\n", "expected a map with a `tenants:` map"},
      {"tenants: {}\nextra: 1\n", "extra: unknown field"},
      {"tenants: [", "not YAML"},
  };
  for (const auto& [text, want] : bad) {
    Result<Quotas> q = Load(text);
    ASSERT_FALSE(q.ok()) << text;
    EXPECT_NE(q.status().message().find("quotas.yaml"), std::string::npos) << q.status().message();
    EXPECT_NE(q.status().message().find(want), std::string::npos) << q.status().message();
  }
  EXPECT_EQ(LoadQuotaFile("/nonexistent/quotas.yaml").status().code(), Status::Code::kNotFound);
}

}  // namespace
}  // namespace meridian::scheduler
