#include "runtime/train/fault_plan.h"

#include <gtest/gtest.h>

namespace meridian {
namespace {

TEST(FaultPlan, ParsesRankStepAndAnOptionalAttempt) {
  std::optional<Fault> f = ParseFault("1:3");
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->rank, 1);
  EXPECT_EQ(f->step, 3);
  EXPECT_EQ(f->attempt, 0);
  f = ParseFault("3:150:1");
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->attempt, 1);
  EXPECT_FALSE(ParseFault(nullptr).has_value());
  EXPECT_FALSE(ParseFault("").has_value());
  EXPECT_FALSE(ParseFault("soon").has_value());
  EXPECT_FALSE(ParseFault("2").has_value());
}

TEST(FaultPlan, NoPlanNeverTrips) {
  const FaultPlan none;
  for (long step = 1; step < 10; ++step) EXPECT_TRUE(none.AtStepStart(0, step, 1).ok());
}

TEST(FaultPlan, AFailureTripsOnlyItsRankStepAndAttempt) {
  FaultPlan plan;
  plan.fail = Fault{1, 3, 2};
  EXPECT_TRUE(plan.AtStepStart(1, 2, 2).ok());
  EXPECT_TRUE(plan.AtStepStart(0, 3, 2).ok());
  EXPECT_TRUE(plan.AtStepStart(1, 3, 1).ok());  // an earlier launch
  EXPECT_TRUE(plan.AtStepStart(1, 3, 3).ok());  // the restart gets past it
  Status s = plan.AtStepStart(1, 3, 2);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "MERIDIAN_FAULT_FAIL: rank 1 fails at step 3");
  plan.fail->attempt = 0;  // every launch
  EXPECT_FALSE(plan.AtStepStart(1, 3, 7).ok());
}

TEST(FaultPlan, AStallWaitsInsteadOfReturning) {
  FaultPlan plan;
  plan.stall = Fault{0, 2, 0};
  int stalls = 0;
  plan.stall_wait = [&] { ++stalls; };
  EXPECT_TRUE(plan.AtStepStart(0, 1, 1).ok());
  EXPECT_EQ(stalls, 0);
  EXPECT_TRUE(plan.AtStepStart(0, 2, 1).ok());
  EXPECT_EQ(stalls, 1);
}

}  // namespace
}  // namespace meridian
