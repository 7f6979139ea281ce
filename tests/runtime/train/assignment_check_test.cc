// A rank's start-up check of where it runs: host by address or name (or a
// name that resolves to one of its addresses), data center from its host.
#include <gtest/gtest.h>

#include "runtime/train/assignment_check.h"

namespace meridian {
namespace {

v1::RankAssignment Placed(const std::string& host, const std::string& dc) {
  v1::RankAssignment a;
  a.set_node("hostc");
  a.set_host(host);
  a.set_data_center(dc);
  return a;
}

RankSurroundings HostC() {
  RankSurroundings s;
  s.hostname = "hostc";
  s.addresses = {"127.0.0.1", "10.78.2.2", "::1"};
  s.data_center = "dc-b";
  return s;
}

TEST(AssignmentCheckTest, MatchesByAddressOrName) {
  EXPECT_TRUE(CheckAssignment(1, Placed("10.78.2.2", "dc-b"), HostC()).ok());
  EXPECT_TRUE(CheckAssignment(1, Placed("hostc", "dc-b"), HostC()).ok());
  EXPECT_TRUE(CheckAssignment(1, Placed("hostc.cluster.example", "dc-b"), HostC()).ok());
  EXPECT_TRUE(CheckAssignment(1, Placed("localhost", "dc-b"), HostC()).ok());  // the one-machine cluster
  EXPECT_TRUE(CheckAssignment(1, Placed("", "dc-b"), HostC()).ok());
}

TEST(AssignmentCheckTest, AWrongHostNamesBothSides) {
  const Status s = CheckAssignment(3, Placed("10.78.1.2", "dc-b"), HostC());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("rank 3"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("host 10.78.1.2"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("runs on hostc"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("10.78.2.2"), std::string::npos) << s.message();
  EXPECT_FALSE(CheckAssignment(3, Placed("hosta", "dc-b"), HostC()).ok());
}

TEST(AssignmentCheckTest, ANameThatResolvesToOurAddressMatches) {
  RankSurroundings here = HostC();
  here.resolve = [](const std::string& host) {
    return host == "node-17.dc-b.internal" ? std::vector<std::string>{"10.78.2.2"} : std::vector<std::string>{};
  };
  EXPECT_TRUE(CheckAssignment(0, Placed("node-17.dc-b.internal", "dc-b"), here).ok());
  EXPECT_FALSE(CheckAssignment(0, Placed("node-18.dc-b.internal", "dc-b"), here).ok());
}

TEST(AssignmentCheckTest, AWrongDataCenterIsAnError) {
  const Status s = CheckAssignment(0, Placed("10.78.2.2", "dc-a"), HostC());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("(dc-a)"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("data center dc-b"), std::string::npos) << s.message();
  RankSurroundings silent = HostC();
  silent.data_center.clear();  // the host does not say: not checked
  EXPECT_TRUE(CheckAssignment(0, Placed("10.78.2.2", "dc-a"), silent).ok());
}

}  // namespace
}  // namespace meridian
