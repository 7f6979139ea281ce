#include "common/progress_bar.h"

#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace meridian {
namespace {

TEST(ProgressBarTest, RendersTheBarPercentAmountsRateAndEta) {
  EXPECT_EQ(ProgressBar::Render("checkpoint step 7", 512ull << 20, 1ull << 30, ProgressBar::Unit::kBytes, 2.0),
            "checkpoint step 7 [##########..........]  50%  512.0 MiB/1.0 GiB  256.0 MiB/s  ETA 2s");
  EXPECT_EQ(ProgressBar::Render("steps", 12, 12, ProgressBar::Unit::kItems, 3.0),
            "steps [####################] 100%  12/12  4/s");
  // An unknown total: the count and the rate only.
  EXPECT_EQ(ProgressBar::Render("loading x", 3000, 0, ProgressBar::Unit::kBytes, 1.0), "loading x  2.9 KiB  2.9 KiB/s");
}

TEST(ProgressBarTest, NeverDrawsWhenTurnedOffAndCountsFromManyThreads) {
  setenv("MERIDIAN_PROGRESS", "never", 1);
  EXPECT_FALSE(ProgressBar::Enabled());
  ProgressBar bar("x", 8000);
  EXPECT_FALSE(bar.shown());
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) threads.emplace_back([&] {
    for (int i = 0; i < 1000; ++i) bar.Advance(1);
  });
  for (auto& t : threads) t.join();
  EXPECT_EQ(bar.done(), 8000u);
  setenv("MERIDIAN_PROGRESS", "always", 1);
  EXPECT_TRUE(ProgressBar::Enabled());
  unsetenv("MERIDIAN_PROGRESS");
}

}  // namespace
}  // namespace meridian
