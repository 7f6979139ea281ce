#include "proto/enum_words.h"

#include <gtest/gtest.h>

#include "meridian/v1/scheduler.pb.h"
#include "runtime/parallel/dp_sync.h"

namespace meridian {
namespace {

TEST(EnumWords, AValueIsItsNameWithoutTheSharedPrefixInLowerCase) {
  EXPECT_EQ(EnumWord(v1::DEVICE_CUDA), "cuda");
  EXPECT_EQ(EnumWord(v1::DTYPE_BF16), "bf16");
  EXPECT_EQ(EnumWord(v1::DP_SYNC_HIERARCHICAL), "hierarchical");
  EXPECT_EQ(EnumWord(v1::DP_SYNC_AUTO), "auto");
  EXPECT_EQ(EnumWord(v1::DEVICE_UNSPECIFIED), "");         // the default, not a word
  EXPECT_EQ(EnumWord(static_cast<v1::Device>(7)), "7");  // a newer peer's value
}

TEST(EnumWords, WordsParseBackAndAnUnknownOneNamesTheChoices) {
  EXPECT_EQ(*ParseEnumWord<v1::DpSync>("diloco", "layout.dp_sync"), v1::DP_SYNC_DILOCO);
  EXPECT_EQ(*ParseEnumWord<v1::Device>("", "training.device"), v1::DEVICE_UNSPECIFIED);
  Result<v1::Device> tpu = ParseEnumWord<v1::Device>("tpu", "training.device");
  ASSERT_FALSE(tpu.ok());
  EXPECT_EQ(tpu.status().message(), "training.device: 'tpu' (expected cpu or cuda)");
  EXPECT_FALSE(ParseEnumWord<v1::Device>("unspecified", "training.device").ok());
}

// The runtime's sets and the API's name the same modes with the same words:
// that is what carries a placement's mode to the ranks.
TEST(EnumWords, TheRuntimesSyncModesAreTheApisWords) {
  for (DpSync mode : {DpSync::kSync, DpSync::kHierarchical, DpSync::kDiloco}) {
    Result<v1::DpSync> wire = ParseEnumWord<v1::DpSync>(DpSyncName(mode), "dp_sync");
    ASSERT_TRUE(wire.ok()) << wire.status().ToString();
    EXPECT_EQ(*ParseDpSync(EnumWord(*wire)), mode);
  }
}

}  // namespace
}  // namespace meridian
