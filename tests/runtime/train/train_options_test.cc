// meridian-train's command line: the cross-data-center options parse into
// their fields, and values that cannot run are refused naming the option.
#include "runtime/train/train_options.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace meridian {
namespace {

Result<TrainOptions> Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "meridian-train");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  int exit_code = 0;
  return ParseTrainOptions((int)argv.size(), argv.data(), &exit_code);
}

TEST(TrainOptions, StreamingDilocoOptionsReachTheirFields) {
  Result<TrainOptions> o = Parse({"--dp-sync", "diloco", "--diloco-h", "20", "--diloco-fragments", "4",
                                  "--diloco-overlap", "3", "--diloco-mix", "0.25", "--outer-compress", "int4"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->dp_sync, DpSync::kDiloco);
  EXPECT_EQ(o->diloco_h, 20);
  EXPECT_EQ(o->diloco_fragments, 4);
  EXPECT_EQ(o->diloco_overlap, 3);
  EXPECT_FLOAT_EQ(o->diloco_mix, 0.25f);
  EXPECT_EQ(o->outer_compress, Compression::kInt4);
}

TEST(TrainOptions, StreamingDilocoValuesThatCannotRunNameTheOption) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--diloco-h", "4", "--diloco-fragments", "5"}, "--diloco-fragments = 5"},
      {{"--diloco-fragments", "0"}, "--diloco-fragments = 0"},
      {{"--diloco-h", "4", "--diloco-overlap", "4"}, "--diloco-overlap = 4"},
      {{"--diloco-overlap", "-1"}, "--diloco-overlap = -1"},
      {{"--diloco-mix", "1.5"}, "--diloco-mix"},
      {{"--outer-compress", "int3"}, "int3"},
  };
  for (const auto& [args, expected] : cases) {
    Result<TrainOptions> o = Parse(args);
    ASSERT_FALSE(o.ok()) << expected;
    EXPECT_NE(o.status().message().find(expected), std::string::npos) << o.status().message();
  }
}

}  // namespace
}  // namespace meridian
