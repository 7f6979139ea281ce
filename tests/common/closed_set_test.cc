#include "common/closed_set.h"

#include <gtest/gtest.h>

#include "common/device.h"

namespace meridian {
namespace {

TEST(ClosedSet, EveryValueRoundTripsThroughItsWord) {
  for (Device d : {Device::kCpu, Device::kCuda}) EXPECT_EQ(*kDevices.Parse(kDevices.Name(d)), d);
  for (DType t : {DType::kFp32, DType::kBf16}) EXPECT_EQ(*kDTypes.Parse(kDTypes.Name(t)), t);
}

TEST(ClosedSet, AnUnknownWordNamesTheSettingAndTheChoices) {
  Result<Device> tpu = kDevices.Parse("tpu");
  ASSERT_FALSE(tpu.ok());
  EXPECT_EQ(tpu.status().message(), "device = tpu: expected cpu or cuda");
  EXPECT_FALSE(kDevices.Parse("").ok());
  EXPECT_FALSE(kDevices.Parse("CPU").ok());  // words are exact
}

TEST(ClosedSet, ChoicesReadAsAList) {
  enum class Three { kA, kB, kC };
  constexpr ClosedSet<Three, 3> three{"three", {{{Three::kA, "a"}, {Three::kB, "b"}, {Three::kC, "c"}}}};
  EXPECT_EQ(three.Choices(), "a, b or c");
  EXPECT_EQ(kDevices.Choices(), "cpu or cuda");
}

}  // namespace
}  // namespace meridian
