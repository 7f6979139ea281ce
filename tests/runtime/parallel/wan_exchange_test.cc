// The outer exchange between worlds, on loopback: rounds with every
// world, without a world that is gone, late and early contributions,
// resumable chunked transfers, state for a joining world, links' contact
// windows, the token, and TLS with the job's own certificate.
#include "runtime/parallel/wan_exchange.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "scheduler/launcher/exchange_certificate.h"

namespace meridian {
namespace {

std::vector<uint8_t> Bytes(size_t n, uint8_t seed) {
  std::vector<uint8_t> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = (uint8_t)(seed + i * 7);
  return out;
}

// `count` worlds of one stage, each listening on a port of its own.
// `adjust` changes each world's options before it starts.
std::vector<std::unique_ptr<WanExchange>> StartWorlds(int count, const std::string& token = "job-token",
                                                      size_t chunk_bytes = 1 << 20,
                                                      const std::function<void(WanExchangeOptions&)>& adjust = {}) {
  std::vector<std::unique_ptr<WanExchange>> worlds;
  std::vector<std::string> addresses(count);
  for (int w = 0; w < count; ++w) {
    WanExchangeOptions o;
    o.world = w;
    o.listen = "127.0.0.1:0";
    o.peers.assign(count, "");
    o.token = token;
    o.connect_timeout_s = 1.0;
    o.wait_timeout_s = 5.0;
    o.chunk_bytes = chunk_bytes;
    if (adjust) adjust(o);
    auto started = WanExchange::Start(o);
    EXPECT_TRUE(started.ok()) << started.status().ToString();
    addresses[w] = "127.0.0.1:" + std::to_string((*started)->port());
    worlds.push_back(std::move(*started));
  }
  for (auto& w : worlds) w->SetPeers(addresses);
  return worlds;
}

WanContribution Make(double tokens, uint64_t digest, size_t bytes, uint8_t seed) {
  WanContribution c;
  c.tokens = tokens;
  c.start_digest = digest;
  c.gradient = Bytes(bytes, seed);
  return c;
}

TEST(WanExchange, EveryWorldContributesAndAllAgree) {
  auto worlds = StartWorlds(3, "job-token", 1000);  // chunks much smaller than the transfer
  std::vector<std::unique_ptr<WanRound>> rounds;
  for (int w = 0; w < 3; ++w) rounds.push_back(worlds[w]->Post(0, Make(100.0 * (w + 1), 7, 5000 + w, (uint8_t)w)));
  for (int w = 0; w < 3; ++w) {
    ASSERT_TRUE(rounds[w]->Wait().ok());
    std::vector<WanContribution> got = rounds[w]->TakeContributions();
    ASSERT_EQ(got.size(), 3u) << "world " << w;
    for (int from = 0; from < 3; ++from) {
      EXPECT_EQ(got[from].world, from);
      EXPECT_EQ(got[from].tokens, 100.0 * (from + 1));
      EXPECT_EQ(got[from].start_digest, 7u);
      EXPECT_EQ(got[from].gradient, Bytes(5000 + from, (uint8_t)from));
      EXPECT_TRUE(got[from].state.empty());
    }
    EXPECT_TRUE(worlds[w]->last_round_clean());
    EXPECT_EQ(worlds[w]->last_round_worlds(), 3);
  }
}

TEST(WanExchange, StateTravelsAfterTheGradient) {
  auto worlds = StartWorlds(2, "job-token", 64);
  WanContribution a = Make(1.0, 1, 100, 1);
  a.state = Bytes(300, 9);
  auto r0 = worlds[0]->Post(3, a);
  auto r1 = worlds[1]->Post(3, Make(1.0, 2, 100, 2));
  ASSERT_TRUE(r1->Wait().ok());
  std::vector<WanContribution> got = r1->TakeContributions();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].gradient, Bytes(100, 1));
  EXPECT_EQ(got[0].state, Bytes(300, 9));
  ASSERT_TRUE(r0->Wait().ok());
}

TEST(WanExchange, AWorldThatIsGoneIsLeftOutAtOnce) {
  auto worlds = StartWorlds(3);
  worlds[2].reset();  // its data center is lost
  const auto t0 = std::chrono::steady_clock::now();
  auto r0 = worlds[0]->Post(0, Make(1.0, 1, 10, 0));
  auto r1 = worlds[1]->Post(0, Make(1.0, 1, 10, 1));
  ASSERT_TRUE(r0->Wait().ok());
  ASSERT_TRUE(r1->Wait().ok());
  // Left out when its connection was refused, long before the wait timeout.
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 4.0);
  EXPECT_EQ(r0->TakeContributions().size(), 2u);
  EXPECT_FALSE(worlds[0]->last_round_clean());
  EXPECT_EQ(worlds[0]->last_round_worlds(), 2);
}

TEST(WanExchange, ARoundClosedEarlyKeepsWhatArrivedAndDropsLateParts) {
  auto worlds = StartWorlds(2);
  auto r0 = worlds[0]->Post(0, Make(1.0, 1, 10, 0));
  EXPECT_FALSE(r0->Test());  // world 1 has not contributed yet
  r0->Close();
  EXPECT_TRUE(r0->Test());
  EXPECT_EQ(r0->TakeContributions().size(), 1u);
  // World 1's late part of round 0 is refused, and it is not counted as lost.
  auto r1 = worlds[1]->Post(0, Make(1.0, 1, 10, 1));
  ASSERT_TRUE(r1->Wait().ok());
  EXPECT_EQ(r1->TakeContributions().size(), 2u);  // world 0's part had reached it
  EXPECT_TRUE(worlds[1]->last_round_clean());
}

TEST(WanExchange, AContributionForARoundNotYetPostedWaitsForIt) {
  auto worlds = StartWorlds(2);
  auto ahead = worlds[0]->Post(5, Make(2.0, 1, 10, 0));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto behind = worlds[1]->Post(5, Make(3.0, 1, 10, 1));
  ASSERT_TRUE(behind->Wait().ok());
  std::vector<WanContribution> got = behind->TakeContributions();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].tokens, 2.0);
  ASSERT_TRUE(ahead->Wait().ok());
  EXPECT_EQ(ahead->TakeContributions().size(), 2u);
}

TEST(WanExchange, AWorldWithoutTheJobsTokenIsRefused) {
  auto worlds = StartWorlds(2);
  WanExchangeOptions o = worlds[1]->options();
  o.world = 1;
  o.listen = "127.0.0.1:0";
  o.token = "stolen";
  o.peers = {"127.0.0.1:" + std::to_string(worlds[0]->port()), ""};
  auto intruder = WanExchange::Start(o);
  ASSERT_TRUE(intruder.ok());
  auto pushed = (*intruder)->Post(0, Make(1.0, 1, 10, 0));
  ASSERT_TRUE(pushed->Wait().ok());
  EXPECT_FALSE((*intruder)->last_round_clean());  // its push was refused
  auto r0 = worlds[0]->Post(0, Make(1.0, 1, 10, 0));
  r0->Close();
  EXPECT_EQ(r0->TakeContributions().size(), 1u);  // nothing from the intruder
  EXPECT_EQ((*intruder)->FetchState().status().code(), Status::Code::kNotFound);
}

TEST(WanExchange, AJoiningWorldFetchesTheOuterState) {
  auto worlds = StartWorlds(3);
  // World 0 is gone; world 1 serves the state; world 2 joins.
  worlds[0].reset();
  WanState served;
  served.step = 42;
  served.start = {1.0f, 2.0f, 3.0f};
  served.momentum = {0.5f, -0.5f, 0.25f};
  served.start_digest = DigestFloats(served.start.data(), 3);
  worlds[1]->SetStateProvider([served] { return served; });
  Result<WanState> fetched = worlds[2]->FetchState();
  ASSERT_TRUE(fetched.ok()) << fetched.status().ToString();
  EXPECT_EQ(fetched->step, 42);
  EXPECT_EQ(fetched->start, served.start);
  EXPECT_EQ(fetched->momentum, served.momentum);
  EXPECT_EQ(fetched->start_digest, served.start_digest);
}

// Unix seconds now, as contact windows are given.
double UnixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// A link up only in the explicit windows [open, close).
LinkSchedule Windows(std::vector<std::pair<double, double>> windows) {
  LinkSchedule schedule;
  schedule.windows = std::move(windows);
  return schedule;
}

// The schedule of the link between worlds a and b, seen from both ends.
std::function<void(WanExchangeOptions&)> LinkBetween(int a, int b, const LinkSchedule& schedule) {
  return [=](WanExchangeOptions& o) {
    if (o.world != a && o.world != b) return;
    o.peer_windows.resize(o.peers.size());
    o.peer_windows[o.world == a ? b : a] = schedule;
  };
}

std::vector<int> WorldsOf(const std::vector<WanContribution>& contributions) {
  std::vector<int> out;
  for (const WanContribution& c : contributions) out.push_back(c.world);
  return out;
}

TEST(WanExchange, APeerOutOfItsContactWindowIsLeftOutAtOnceAndGetsNothing) {
  // The link between worlds 0 and 2 was up only in the first second of 1970.
  auto worlds = StartWorlds(3, "job-token", 1 << 20, [](WanExchangeOptions& o) {
    o.wait_timeout_s = 30.0;  // a round that waited for world 2 would take this long
    LinkBetween(0, 2, Windows({{1.0, 2.0}}))(o);
  });
  const auto t0 = std::chrono::steady_clock::now();
  auto r0 = worlds[0]->Post(0, Make(1.0, 1, 10, 0));
  auto r1 = worlds[1]->Post(0, Make(1.0, 1, 10, 1));
  ASSERT_TRUE(r0->Wait().ok());
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 5.0);
  EXPECT_EQ(WorldsOf(r0->TakeContributions()), (std::vector<int>{0, 1}));
  EXPECT_EQ(worlds[0]->last_round_worlds(), 2);
  EXPECT_FALSE(worlds[0]->last_round_clean());  // world 2 missed its part: the next one carries the state
  // World 0 stops: whatever it was to push is delivered or given up by now.
  worlds[0].reset();
  auto r2 = worlds[2]->Post(0, Make(1.0, 1, 10, 2));
  ASSERT_TRUE(r2->Wait().ok());
  EXPECT_EQ(WorldsOf(r2->TakeContributions()), (std::vector<int>{1, 2})) << "world 0 pushed outside the window";
  ASSERT_TRUE(r1->Wait().ok());
  EXPECT_EQ(WorldsOf(r1->TakeContributions()), (std::vector<int>{0, 1, 2}));  // its links have no schedule
}

TEST(WanExchange, AContactWindowOpenNowIsAsNoSchedule) {
  const double now = UnixNow();
  auto worlds = StartWorlds(3, "job-token", 1000, [now](WanExchangeOptions& o) {
    o.wait_timeout_s = 30.0;
    o.peer_windows.assign(o.peers.size(), Windows({{now - 100.0, now + 100.0}}));
  });
  std::vector<std::unique_ptr<WanRound>> rounds;
  for (int w = 0; w < 3; ++w) rounds.push_back(worlds[w]->Post(0, Make(100.0 * (w + 1), 7, 5000 + w, (uint8_t)w)));
  for (int w = 0; w < 3; ++w) {
    ASSERT_TRUE(rounds[w]->Wait().ok());
    std::vector<WanContribution> got = rounds[w]->TakeContributions();
    ASSERT_EQ(WorldsOf(got), (std::vector<int>{0, 1, 2})) << "world " << w;
    for (int from = 0; from < 3; ++from) EXPECT_EQ(got[from].gradient, Bytes(5000 + from, (uint8_t)from));
    EXPECT_TRUE(worlds[w]->last_round_clean());
    EXPECT_EQ(worlds[w]->last_round_worlds(), 3);
  }
}

TEST(WanExchange, AJoiningWorldAsksOnlyPeersInTheirContactWindow) {
  // World 2 joins; its link to world 0 is out of its window, to world 1 in it.
  auto worlds = StartWorlds(3, "job-token", 1 << 20, LinkBetween(0, 2, Windows({{1.0, 2.0}})));
  WanState from0, from1;
  from0.step = 10;
  from0.start = {1.0f};
  from0.momentum = {0.0f};
  from1 = from0;
  from1.step = 11;
  worlds[0]->SetStateProvider([from0] { return from0; });
  worlds[1]->SetStateProvider([from1] { return from1; });
  Result<WanState> fetched = worlds[2]->FetchState();
  ASSERT_TRUE(fetched.ok()) << fetched.status().ToString();
  EXPECT_EQ(fetched->step, 11);
  // With world 1 gone no one in a window is left to ask.
  worlds[1].reset();
  Result<WanState> none = worlds[2]->FetchState();
  EXPECT_EQ(none.status().code(), Status::Code::kNotFound);
  EXPECT_NE(none.status().message().find("1 not asked: out of their contact windows"), std::string::npos)
      << none.status().ToString();
}

// A job's exchange certificate and key, as the daemon writes them, in a
// directory of the test's own.
class TlsFiles {
 public:
  explicit TlsFiles(const std::string& tag) {
    dir_ = std::filesystem::temp_directory_path() / ("wan-tls-" + std::to_string(getpid()) + "-" + tag);
    std::filesystem::create_directories(dir_);
    Result<rpc::TlsPair> pair = scheduler::MakeExchangeCertificate("job-" + tag);
    EXPECT_TRUE(pair.ok()) << pair.status().ToString();
    std::ofstream(cert()) << pair->cert_pem;
    std::ofstream(key()) << pair->key_pem;
  }
  ~TlsFiles() { std::filesystem::remove_all(dir_); }
  std::string cert() const { return (dir_ / "exchange.crt").string(); }
  std::string key() const { return (dir_ / "exchange.key").string(); }
  std::function<void(WanExchangeOptions&)> Use() const {
    return [this](WanExchangeOptions& o) {
      o.tls_cert_file = cert();
      o.tls_key_file = key();
    };
  }

 private:
  std::filesystem::path dir_;
};

TEST(WanExchange, WorldsExchangeOverTlsWithTheJobsCertificate) {
  TlsFiles job("tls");
  auto worlds = StartWorlds(2, "job-token", 1000, job.Use());
  auto r0 = worlds[0]->Post(0, Make(1.0, 1, 5000, 0));
  auto r1 = worlds[1]->Post(0, Make(2.0, 1, 5000, 1));
  ASSERT_TRUE(r0->Wait().ok());
  ASSERT_TRUE(r1->Wait().ok());
  for (auto* r : {r0.get(), r1.get()}) {
    std::vector<WanContribution> got = r->TakeContributions();
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].gradient, Bytes(5000, 0));
    EXPECT_EQ(got[1].gradient, Bytes(5000, 1));
  }
  EXPECT_TRUE(worlds[0]->last_round_clean());
  EXPECT_TRUE(worlds[1]->last_round_clean());
  WanState served;
  served.step = 7;
  served.start = {1.0f};
  served.momentum = {2.0f};
  worlds[0]->SetStateProvider([served] { return served; });
  Result<WanState> fetched = worlds[1]->FetchState();
  ASSERT_TRUE(fetched.ok()) << fetched.status().ToString();
  EXPECT_EQ(fetched->step, 7);
}

TEST(WanExchange, AWorldWithoutTheJobsCertificateCanNeitherJoinNorContribute) {
  TlsFiles job("job"), other("other");
  auto worlds = StartWorlds(2, "job-token", 1 << 20, job.Use());
  WanState served;
  served.step = 3;
  worlds[0]->SetStateProvider([served] { return served; });
  const std::string world0 = "127.0.0.1:" + std::to_string(worlds[0]->port());
  // Another job's certificate (the token is right), and none at all.
  for (const TlsFiles* intruder_tls : {static_cast<const TlsFiles*>(&other), static_cast<const TlsFiles*>(nullptr)}) {
    WanExchangeOptions o = worlds[1]->options();
    o.listen = "127.0.0.1:0";
    o.peers = {world0, ""};
    o.tls_cert_file = intruder_tls ? intruder_tls->cert() : "";
    o.tls_key_file = intruder_tls ? intruder_tls->key() : "";
    auto intruder = WanExchange::Start(o);
    ASSERT_TRUE(intruder.ok()) << intruder.status().ToString();
    EXPECT_EQ((*intruder)->FetchState().status().code(), Status::Code::kNotFound);
    auto pushed = (*intruder)->Post(0, Make(1.0, 1, 10, 0));
    ASSERT_TRUE(pushed->Wait().ok());
    EXPECT_FALSE((*intruder)->last_round_clean());  // its push never got through
  }
  auto r0 = worlds[0]->Post(0, Make(1.0, 1, 10, 0));
  r0->Close();
  EXPECT_EQ(r0->TakeContributions().size(), 1u);  // nothing from either intruder
}

TEST(WanExchange, AMissingOrWrongTlsFileIsNamed) {
  TlsFiles job("a"), other("b");
  WanExchangeOptions o;
  o.peers = {""};
  o.listen = "127.0.0.1:0";
  o.tls_cert_file = job.cert() + ".missing";
  o.tls_key_file = job.key();
  Status s = WanExchange::Start(o).status();
  EXPECT_NE(s.message().find(job.cert() + ".missing"), std::string::npos) << s.ToString();
  o.tls_cert_file = job.cert();
  o.tls_key_file = other.key();  // another certificate's key
  s = WanExchange::Start(o).status();
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find(other.key()), std::string::npos) << s.ToString();
  o.tls_key_file = job.cert();  // a certificate where the key should be
  s = WanExchange::Start(o).status();
  EXPECT_NE(s.message().find(job.cert() + ": holds no readable"), std::string::npos) << s.ToString();
  o.tls_key_file = "";
  s = WanExchange::Start(o).status();
  EXPECT_NE(s.message().find("MERIDIAN_WAN_TLS_KEY"), std::string::npos) << s.ToString();
  o.tls_key_file = job.key();
  EXPECT_TRUE(WanExchange::Start(o).ok());
}

// Waits (bounded) until `exchange` has seen a peer's part to `round`.
bool SeesRound(const WanExchange& exchange, long round) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (exchange.highest_peer_round() < round)
    if (std::chrono::steady_clock::now() > until) return false;
    else std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return true;
}

TEST(WanExchange, AWorldThatComesBackElsewhereIsFoundThere) {
  auto worlds = StartWorlds(3);
  const std::string old_address = worlds[1]->advertised();
  EXPECT_EQ(old_address, "127.0.0.1:" + std::to_string(worlds[1]->port()));
  worlds[1].reset();  // its leader's node is lost
  auto alone0 = worlds[0]->Post(0, Make(1.0, 1, 10, 0));
  auto alone2 = worlds[2]->Post(0, Make(1.0, 1, 10, 2));
  ASSERT_TRUE(alone0->Wait().ok());
  ASSERT_TRUE(alone2->Wait().ok());
  EXPECT_EQ(alone0->TakeContributions().size(), 2u);

  // Relaunched on another node: another address, which the others learn
  // from its calls (world 0 from its FetchState, world 2 from its push).
  WanExchangeOptions o;
  o.world = 1;
  o.listen = "127.0.0.1:0";
  o.token = "job-token";
  o.connect_timeout_s = 1.0;
  o.wait_timeout_s = 5.0;
  o.peers = {worlds[0]->advertised(), "", worlds[2]->advertised()};
  std::vector<std::unique_ptr<WanExchange>> tries;  // held, so a port is never given twice
  do {
    auto started = WanExchange::Start(o);
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    tries.push_back(std::move(*started));
  } while (tries.back()->advertised() == old_address);
  WanExchange& back = *tries.back();
  WanState served;
  served.step = 9;
  served.round = 0;
  worlds[0]->SetStateProvider([served] { return served; });
  Result<WanState> joined = back.FetchState();
  ASSERT_TRUE(joined.ok()) << joined.status().ToString();
  auto r1 = back.Post(1, Make(3.0, 1, 10, 1));
  ASSERT_TRUE(SeesRound(*worlds[0], 1));
  ASSERT_TRUE(SeesRound(*worlds[2], 1));

  // The others' next round reaches it where it is now and has all three.
  auto r0 = worlds[0]->Post(1, Make(1.0, 1, 10, 0));
  auto r2 = worlds[2]->Post(1, Make(1.0, 1, 10, 2));
  for (WanRound* r : {r0.get(), r1.get(), r2.get()}) {
    ASSERT_TRUE(r->Wait().ok());
    std::vector<WanContribution> got = r->TakeContributions();
    ASSERT_EQ(got.size(), 3u) << "a world's round " << r->round();
    EXPECT_EQ(got[1].tokens, 3.0);
  }
  EXPECT_TRUE(worlds[0]->last_round_clean());
  EXPECT_TRUE(worlds[2]->last_round_clean());
  EXPECT_TRUE(back.last_round_clean());
  EXPECT_EQ(worlds[0]->options().peers[1], back.advertised());
}

TEST(WanExchange, AWildcardListenerAdvertisesNothingUnlessTold) {
  WanExchangeOptions o;
  o.peers = {""};
  o.listen = "0.0.0.0:0";
  auto wildcard = WanExchange::Start(o);
  ASSERT_TRUE(wildcard.ok());
  EXPECT_EQ((*wildcard)->advertised(), "");
  o.advertise = "leader-host:29400";
  auto told = WanExchange::Start(o);
  ASSERT_TRUE(told.ok());
  EXPECT_EQ((*told)->advertised(), "leader-host:29400");
}

TEST(WanExchange, DigestsTellWeightsApart) {
  const float a[] = {1.0f, 2.0f}, b[] = {1.0f, 2.0000002f};
  EXPECT_EQ(DigestFloats(a, 2), DigestFloats(a, 2));
  EXPECT_NE(DigestFloats(a, 2), DigestFloats(b, 2));
}

TEST(WanExchange, AnAddressThatCannotBeServedIsAClearError) {
  auto worlds = StartWorlds(1);
  WanExchangeOptions o;
  o.world = 0;
  o.peers = {""};
  o.listen = "127.0.0.1:" + std::to_string(worlds[0]->port());  // taken
  Result<std::unique_ptr<WanExchange>> second = WanExchange::Start(o);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("cannot listen on"), std::string::npos);
  o.world = 3;
  EXPECT_NE(WanExchange::Start(o).status().message().find("world 3"), std::string::npos);
}

// A world that posts its last part and stops at once (its run's end)
// still delivers it: a peer waiting at its own final round gets it.
// A loopback port free now (bound, read, released): where a world that
// starts later will listen.
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t n = sizeof(a);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &n), 0);
  close(fd);
  return ntohs(a.sin_port);
}

TEST(WanExchange, StrictRoundsDeliverEveryPartInOrderToAPeerThatServesLate) {
  // World 1 serves only two seconds after world 0 posted two rounds: a
  // plain exchange would leave it out of both (its connection refused) and
  // send it only the newest; strict rounds try again and send both.
  const std::string late = "127.0.0.1:" + std::to_string(FreePort());
  WanExchangeOptions o;
  o.listen = "127.0.0.1:0";
  o.token = "job-token";
  o.connect_timeout_s = 1.0;
  o.wait_timeout_s = 10.0;
  o.strict = true;
  o.world = 0;
  o.peers = {"", late};
  auto first = WanExchange::Start(o);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  std::unique_ptr<WanRound> sent0 = (*first)->Post(0, Make(1.0, 7, 100, 10));
  std::unique_ptr<WanRound> sent1 = (*first)->Post(1, Make(1.0, 7, 100, 11));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  o.world = 1;
  o.listen = late;
  o.peers = {"127.0.0.1:" + std::to_string((*first)->port()), late};
  auto second = WanExchange::Start(o);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  for (long round = 0; round < 2; ++round) {
    std::unique_ptr<WanRound> r = (*second)->Post(round, Make(1.0, 7, 100, 20));
    ASSERT_TRUE(r->Wait().ok());
    std::vector<WanContribution> got = r->TakeContributions();
    ASSERT_EQ(got.size(), 2u) << "round " << round << ": world 0's part never came";
    EXPECT_EQ(got[0].gradient, Bytes(100, (uint8_t)(10 + round)));
  }
}

TEST(WanExchange, AWorldThatStopsDeliversItsLastPartFirst) {
  auto worlds = StartWorlds(2);
  std::unique_ptr<WanRound> last = worlds[0]->Post(0, Make(10.0, 7, 8 << 20, 3));
  last.reset();
  worlds[0].reset();  // right after posting, as a run that ends
  std::unique_ptr<WanRound> round = worlds[1]->Post(0, Make(20.0, 7, 100, 4));
  ASSERT_TRUE(round->Wait().ok());
  std::vector<WanContribution> got = round->TakeContributions();
  ASSERT_EQ(got.size(), 2u) << "world 0's last part was dropped at its shutdown";
  EXPECT_EQ(got[0].gradient, Bytes(8 << 20, 3));
}

}  // namespace
}  // namespace meridian
