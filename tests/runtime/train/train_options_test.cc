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

TEST(TrainOptions, WorldsOptionsReachTheirFieldsAndEachStageItsPort) {
  Result<TrainOptions> o =
      Parse({"--dp-sync", "diloco", "--diloco-h", "10", "--diloco-overlap", "1", "--diloco-elastic", "--wan-world",
             "1", "--wan-peers", "hostA:7100,10.0.0.2:7200", "--wan-join", "--wan-timeout", "5"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->wan_world, 1);
  EXPECT_TRUE(o->wan_join);
  EXPECT_DOUBLE_EQ(o->wan_timeout, 5.0);
  Result<std::vector<std::string>> stage2 = o->WanPeerAddresses(2);
  ASSERT_TRUE(stage2.ok());
  EXPECT_EQ(*stage2, (std::vector<std::string>{"hostA:7102", "10.0.0.2:7202"}));
}

TEST(TrainOptions, WorldsOptionsThatCannotRunNameTheOption) {
  const std::vector<std::string> elastic = {"--dp-sync", "diloco", "--diloco-overlap", "1", "--diloco-elastic"};
  auto with = [&](std::vector<std::string> more) {
    std::vector<std::string> args = elastic;
    args.insert(args.end(), more.begin(), more.end());
    return args;
  };
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {with({"--wan-world", "0"}), "needs --wan-peers"},
      {with({"--wan-peers", "a:1,b:1"}), "needs --wan-world"},
      {{"--wan-world", "0", "--wan-peers", "a:1,b:1"}, "needs --dp-sync diloco with --diloco-elastic"},
      {with({"--wan-world", "2", "--wan-peers", "a:1,b:1"}), "beyond the 2 worlds"},
      {with({"--wan-world", "0", "--wan-peers", "a:1,b"}), "\"b\" is not HOST:PORT"},
      {with({"--wan-world", "0", "--wan-peers", "a:1,b:x7"}), "\"b:x7\" is not HOST:PORT"},
      {with({"--wan-world", "0", "--wan-peers", "a:1,b:70000"}), "is not HOST:PORT"},
      {with({"--wan-timeout", "0"}), "--wan-timeout = 0"},
  };
  for (const auto& [args, expected] : cases) {
    Result<TrainOptions> o = Parse(args);
    ASSERT_FALSE(o.ok()) << expected;
    EXPECT_NE(o.status().message().find(expected), std::string::npos) << o.status().message();
  }
}

TEST(TrainOptions, TheWanWindowIsAPeriodOrAListOfWindows) {
  const std::vector<std::string> elastic = {"--dp-sync", "diloco", "--diloco-overlap", "1", "--diloco-elastic"};
  auto with = [&](std::vector<std::string> more) {
    std::vector<std::string> args = elastic;
    args.insert(args.end(), more.begin(), more.end());
    return args;
  };
  for (const char* window : {"5400:600:120", "@1796000000-1796000600.5,1796005400-1.796006e9"}) {
    Result<TrainOptions> o = Parse(with({"--wan-window", window}));
    ASSERT_TRUE(o.ok()) << o.status().message();
    EXPECT_EQ(o->wan_window, window);
  }
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {with({"--wan-window", "@10-5"}), "--wan-window = @10-5: windows[0] = 10: must close after it opens"},
      {with({"--wan-window", "@0-10,5-20"}), "--wan-window = @0-10,5-20: windows[1] = 5"},
      {with({"--wan-window", "@0-10;20-30"}), "--wan-window = @0-10;20-30: windows[0]: expected ','"},
      {with({"--wan-window", "10-20"}), "--wan-window = 10-20: expected PERIOD:UP[:PHASE]"},
      {{"--dp-sync", "diloco", "--wan-window", "@0-10"}, "needs --diloco-elastic"},
  };
  for (const auto& [args, expected] : cases) {
    Result<TrainOptions> o = Parse(args);
    ASSERT_FALSE(o.ok()) << expected;
    EXPECT_NE(o.status().message().find(expected), std::string::npos) << o.status().message();
  }
}

TEST(TrainOptions, EachPeerMayHaveItsLinksWindow) {
  const std::vector<std::string> world = {"--dp-sync",  "diloco", "--diloco-overlap", "1",
                                          "--diloco-elastic", "--wan-world", "0", "--wan-peers",
                                          "a:1,b:1,c:1"};
  auto with = [&](std::vector<std::string> more) {
    std::vector<std::string> args = world;
    args.insert(args.end(), more.begin(), more.end());
    return args;
  };
  Result<TrainOptions> o = Parse(with({"--wan-peer-windows", ";5400:600:120;@1796000000-1796000600,1796005400-1796006000"}));
  ASSERT_TRUE(o.ok()) << o.status().message();
  std::vector<LinkSchedule> windows = o->WanPeerWindows().value();
  ASSERT_EQ(windows.size(), 3u);
  EXPECT_TRUE(windows[0].always_up());
  EXPECT_DOUBLE_EQ(windows[1].period_s, 5400);
  EXPECT_DOUBLE_EQ(windows[1].phase_s, 120);
  ASSERT_EQ(windows[2].windows.size(), 2u);
  EXPECT_DOUBLE_EQ(windows[2].windows[1].first, 1796005400);
  // Every link always up is as good as none given.
  o = Parse(with({"--wan-peer-windows", ";;"}));
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_EQ(o->WanPeerWindows().value().size(), 3u);
  o = Parse(world);
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_TRUE(o->WanPeerWindows().value().empty());

  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {with({"--wan-peer-windows", ";5400:600"}), "--wan-peer-windows = ;5400:600: has 2 entries for the 3 worlds"},
      {with({"--wan-peer-windows", ";;;"}), "has 4 entries for the 3 worlds"},
      {with({"--wan-peer-windows", ";10-20;"}), "--wan-peer-windows entry 1 = 10-20: expected PERIOD:UP[:PHASE]"},
      {with({"--wan-peer-windows", ";;@10-5"}), "--wan-peer-windows entry 2 = @10-5: windows[0] = 10"},
      {{"--dp-sync", "diloco", "--diloco-overlap", "1", "--diloco-elastic", "--wan-peer-windows", ";600:60"},
       "--wan-peer-windows = ;600:60: needs --wan-world"},
  };
  for (const auto& [args, expected] : cases) {
    Result<TrainOptions> bad = Parse(args);
    ASSERT_FALSE(bad.ok()) << expected;
    EXPECT_NE(bad.status().message().find(expected), std::string::npos) << bad.status().message();
  }
}

}  // namespace
}  // namespace meridian
