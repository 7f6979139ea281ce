// The outer exchange between data centers that run as worlds of their own
// (one mpirun or Slurm job each). One stage's leader in every world serves
// this exchange over gRPC and pushes its contributions to the same stage's
// leaders of the other worlds, so no world's loss can stop another: a peer
// that cannot be reached is left out of the round at once, one that was
// reached but never answers is left out when the round is closed (at the
// next round's end, or after a timeout when training must wait for it).
//
// Why gRPC and not a raw TCP stream: the ranks already link gRPC (for the
// daemon), and it brings deadlines, keepalive, flow control, bearer-token
// metadata and TLS, which a socket protocol would have to rebuild. Where the
// daemon runs with TLS it gives each job a certificate of its own for this
// exchange (see tls_cert_file). Transfers go as a client stream of chunks;
// one that breaks off resumes where the receiver says it stopped (Received).
//
// Rounds are numbered in order. A world that sees a peer's part to a round
// it has not ended yet ends its own at once (with the tokens it trained so
// far), so the worlds keep pace with the fastest and their numbers agree; a
// world that (re)joins takes a live world's step and round. A contribution carries the tokens its world trained in the
// round (its weight in the average) and a digest of the outer weights the
// round started from; after a world missed a round (its own or a peer's) it
// also carries its outer state, so worlds that drifted apart agree again.
//
// A world's leader may come back on another host or port (relaunched on
// other nodes): every call says which world makes it and where that world
// serves (metadata x-meridian-world, x-meridian-address), and a world that
// takes an authenticated call from a peer now elsewhere pushes there.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/link_schedule.h"
#include "common/status.h"
#include "runtime/comm/communicator.h"

namespace meridian {

struct WanExchangeOptions {
  int world = 0;       // this data center's index among the job's worlds
  int stage = 0;       // the pipeline stage this leader speaks for
  std::string listen;  // host:port to serve on (port 0: any; see port())
  // host:port the other worlds reach this one at, told them in every call
  // so they follow a world that came back elsewhere; empty: `listen` with
  // the port bound (nothing when its host is a wildcard such as 0.0.0.0).
  std::string advertise;
  // Every world's leader address for this stage, by world index; this
  // world's own entry is ignored, an empty one is a world not yet known.
  std::vector<std::string> peers;
  std::string token;           // the job's token; calls without it are refused
  // The job's exchange certificate and its key (PEM files; rpc/exchange_tls.h),
  // both or neither. Given: the exchange speaks mutual TLS, serving with this
  // pair and trusting no other certificate, so only holders of the job's key
  // can serve or call it. Empty: plaintext.
  std::string tls_cert_file, tls_key_file;
  double connect_timeout_s = 3.0;    // a peer that does not accept within this is unreachable
  double transfer_timeout_s = 600.0;  // one push, all retries included
  double wait_timeout_s = 60.0;       // the longest Wait() holds training for a round
  double drain_timeout_s = 5.0;       // at shutdown, the longest the last pushes may still take
  // Strict rounds (every world's part in every round): pushes go in order,
  // none is skipped for a newer one, and a push that fails (a peer slow to
  // answer under load, a connection that broke) is tried again until the
  // wait timeout has passed since it started, not given up at once.
  bool strict = false;
  // When the link to each world is up, by world index (empty, or an entry
  // always up: no schedule): a contact window per link, as the cluster
  // file declares it. A peer whose window is closed when a round is posted
  // (or when its push would start) is left out of that round at once, with
  // nothing pushed to it, and is not asked for the state; its own parts are
  // taken whenever they come.
  std::vector<LinkSchedule> peer_windows;
  size_t chunk_bytes = 1 << 20;
};

// One world's part of a round.
struct WanContribution {
  int world = 0;
  double tokens = 0.0;
  uint64_t start_digest = 0;
  std::vector<uint8_t> gradient;  // the compressed pseudo-gradient
  std::vector<uint8_t> state;     // outer weights then momentum (float32); empty: not sent
};

// What a joining world starts from.
struct WanState {
  long step = 0;
  long round = -1;  // the last round the serving world sent its part to (-1: none)
  uint64_t start_digest = 0;
  std::vector<float> start, momentum;
};

// Digest of a float buffer's bytes (FNV-1a, 64 bit): equal outer weights
// have equal digests.
uint64_t DigestFloats(const float* data, size_t n);

class WanExchange;

// A posted round: complete once every peer has either contributed or
// could not be reached; Wait() closes it after the wait timeout.
class WanRound : public CommRequest {
 public:
  WanRound(WanExchange* exchange, long round) : exchange_(exchange), round_(round) {}
  Status Wait() override;
  bool Test() override;
  // Stops waiting: the round is what has arrived.
  void Close();
  long round() const { return round_; }
  // This world's and every arrived peer's contribution, by world (after
  // the round completed or was closed).
  std::vector<WanContribution> TakeContributions();

 private:
  WanExchange* exchange_;
  long round_;
};

class WanExchange {
 public:
  static Result<std::unique_ptr<WanExchange>> Start(const WanExchangeOptions& options);
  ~WanExchange();

  int port() const;
  const WanExchangeOptions& options() const;
  // Peer addresses learned after Start (a world listening on port 0); a
  // changed one moves that peer's pushes there.
  void SetPeers(std::vector<std::string> peers);
  // Where this world tells its peers it is ("": nowhere they could dial).
  std::string advertised() const;

  // Posts this world's contribution to `round` and pushes it to every
  // peer in the background (with its state, where `mine.state` holds it).
  std::unique_ptr<WanRound> Post(long round, WanContribution mine);

  // The state a peer that joins is given: called on the server's threads.
  void SetStateProvider(std::function<WanState()> provider);
  // The state of the first live peer that answers; NotFound when none does.
  Result<WanState> FetchState();

  // The newest round any peer has sent a part to (-1: none yet): a world
  // behind it ends its own round at once.
  long highest_peer_round() const;

  // Whether the last closed round had every peer's contribution and every
  // push reached its peer: if not, the next contribution carries the state.
  bool last_round_clean() const;
  // The worlds whose contributions the last closed round held.
  int last_round_worlds() const;

  struct Impl;

 private:
  explicit WanExchange(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  friend class WanRound;
};

}  // namespace meridian
