#include "common/status.h"

#include <gtest/gtest.h>

namespace meridian {
namespace {

Result<int> ParsePositive(int v) {
  if (v <= 0) return Status::InvalidArgument("value: " + std::to_string(v) + " must be > 0");
  return v;
}

Status UseTwice(int v, int* out) {
  MERIDIAN_ASSIGN_OR_RETURN(int x, ParsePositive(v));
  *out = 2 * x;
  return Status::OK();
}

TEST(Status, OkByDefaultAndNamesItsCode) {
  EXPECT_TRUE(Status().ok());
  Status s = Status::Corruption("model.bin: checksum mismatch");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.ToString(), "Corruption: model.bin: checksum mismatch");
  EXPECT_EQ(s.WithContext("ckpt/step_1").message(), "ckpt/step_1: model.bin: checksum mismatch");
}

TEST(Status, AssignOrReturnPropagatesErrors) {
  int out = 0;
  EXPECT_TRUE(UseTwice(3, &out).ok());
  EXPECT_EQ(out, 6);
  Status s = UseTwice(-1, &out);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("-1"), std::string::npos);
}

}  // namespace
}  // namespace meridian
