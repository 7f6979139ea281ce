#include "runtime/parallel/wan_exchange.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "common/log.h"
#include "common/net_address.h"
#include "meridian/v1/outer_exchange.grpc.pb.h"
#include "rpc/client_channel.h"
#include "rpc/exchange_tls.h"

namespace meridian {

uint64_t DigestFloats(const float* data, size_t n) {
  uint64_t h = 1469598103934665603ull;
  const auto* bytes = reinterpret_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n * sizeof(float); ++i) {
    h ^= bytes[i];
    h *= 1099511628211ull;
  }
  return h;
}

namespace {

using Clock = std::chrono::system_clock;

Clock::time_point After(double seconds) {
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

// Unix seconds now: the time contact windows are given in.
double UnixNow() { return std::chrono::duration<double>(Clock::now().time_since_epoch()).count(); }

// Flow-control window of a transfer's stream: a 100 ms, 1 Gbit/s link
// holds 12.5 MB in flight.
constexpr int kWindowBytes = 16 << 20;

// A transfer larger than this is refused before any memory is reserved.
constexpr uint64_t kMaxTransferBytes = uint64_t{1} << 38;

// Call metadata: the calling world's index and where it serves.
constexpr char kWorldKey[] = "x-meridian-world";
constexpr char kAddressKey[] = "x-meridian-address";
constexpr size_t kMaxAddressBytes = 512;

// Where a world listening on `listen` can be reached, given the port it
// bound; "" when its host is a wildcard no peer could dial.
std::string AdvertisedFrom(const std::string& listen, int port) {
  std::string host, unused;
  SplitHostPort(listen, &host, &unused);
  if (host.empty() || host == "0.0.0.0" || host == "::" || host == "[::]") return "";
  if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
  return host + ":" + std::to_string(port);
}

// A contribution arriving in chunks.
struct Partial {
  WanContribution contribution;  // header fields; data collects in `data`
  uint64_t gradient_bytes = 0, total = 0;
  std::vector<uint8_t> data;
};

// What this world knows of one round.
struct RoundState {
  bool posted = false, closed = false;
  WanContribution mine;
  std::set<int> expected, unreachable;
  std::map<int, WanContribution> arrived;
};

// One push to one peer, queued on that peer's sender.
struct Push {
  long round = 0;
  std::shared_ptr<const WanContribution> contribution;
};

}  // namespace

struct WanExchange::Impl final : public v1::OuterExchange::Service {
  WanExchangeOptions o;
  rpc::ClientSecurity security;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  std::string advertised;  // told to peers in every call (set before any call)

  std::mutex mu;
  std::condition_variable changed;
  std::map<std::pair<long, int>, Partial> partial;  // (round, world)
  std::map<long, RoundState> rounds;
  long closed_below = 0;  // contributions to rounds below this one come too late
  long highest_peer_round = -1;
  std::function<WanState()> provider;
  bool last_clean = true;
  int last_worlds = 1;

  // One sender per peer keeps pushes to it in order and off training's path.
  struct Sender {
    std::deque<Push> queue;
    std::shared_ptr<grpc::Channel> channel;
    std::string address;
    grpc::ClientContext* active = nullptr;  // the call in flight, to cancel at shutdown or a move
    int moves = 0;                          // times the peer was found elsewhere
    bool down = false;                      // the last push failed (its thread only)
    bool busy = false;                      // a push taken from the queue is under way
    bool out_of_window = false;             // its link was last seen outside its contact window
    std::thread thread;
  };
  std::map<int, Sender> senders;
  bool stopping = false;

  ~Impl() override {
    {
      std::unique_lock<std::mutex> lock(mu);
      // The last parts this world posted may still be on their way (a run's
      // end, or its final checkpoint): a peer that waits for them should get
      // them, but a gone peer must not hold this world's exit for long.
      changed.wait_for(lock, std::chrono::duration<double>(o.drain_timeout_s), [&] {
        for (const auto& [world, sender] : senders)
          if (sender.busy || !sender.queue.empty()) return false;
        return true;
      });
      stopping = true;
      for (auto& [world, s] : senders)
        if (s.active) s.active->TryCancel();
    }
    changed.notify_all();
    for (auto& [world, s] : senders)
      if (s.thread.joinable()) s.thread.join();
    if (server) server->Shutdown(After(1.0));
  }

  grpc::Status Authorize(grpc::ServerContext* ctx) const {
    if (o.token.empty()) return grpc::Status::OK;
    const auto& metadata = ctx->client_metadata();
    auto it = metadata.find("authorization");
    if (it == metadata.end() || std::string(it->second.data(), it->second.size()) != "Bearer " + o.token)
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "outer exchange: the job's token is required");
    return grpc::Status::OK;
  }

  // Follows a peer that came back elsewhere: its calls say where it now
  // serves. Called only for calls that passed Authorize, so only a holder
  // of the job's token (and, with TLS, its key) can move a peer.
  void FollowCaller(const grpc::ServerContext* ctx) {
    const auto& metadata = ctx->client_metadata();
    auto w = metadata.find(kWorldKey), a = metadata.find(kAddressKey);
    if (w == metadata.end() || a == metadata.end() || a->second.empty() || a->second.size() > kMaxAddressBytes)
      return;
    int world = -1;
    const char* end = w->second.data() + w->second.size();
    if (auto [at, ec] = std::from_chars(w->second.data(), end, world); ec != std::errc() || at != end) return;
    const std::string address(a->second.data(), a->second.size());
    {
      std::lock_guard<std::mutex> lock(mu);
      if (stopping || world < 0 || world >= (int)o.peers.size() || world == o.world || o.peers[world] == address)
        return;
      SetPeerLocked(world, address);
    }
    Logger("wan")->info("stage {}: world {} is now at {}", o.stage, world, address);
  }

  // Points world's pushes at `address`, starting its sender the first time.
  // A push in flight to where it was is cancelled: it can only fail there.
  void SetPeerLocked(int world, const std::string& address) {
    o.peers[world] = address;
    auto [it, fresh] = senders.try_emplace(world);
    Sender& s = it->second;
    s.address = address;
    s.channel = Channel(address);
    if (fresh) {
      s.thread = std::thread([this, world, &s] { SenderLoop(world, s); });
      return;
    }
    ++s.moves;
    if (s.active) s.active->TryCancel();
  }

  // Whether the link to `world` is in its contact window at Unix time `now`
  // (a link with no schedule always is). peer_windows never changes after
  // Start, so no lock is needed.
  bool InWindow(int world, double now) const {
    if (world < 0 || world >= (int)o.peer_windows.size()) return true;
    const LinkSchedule& w = o.peer_windows[world];
    return w.always_up() || w.UpAt(now);
  }

  // A link that went out of its contact window or came back, to log once
  // the lock is released.
  struct WindowChange {
    int world = 0;
    bool up = false;
    long round = 0;
    double opens_in_s = 0.0;  // out: seconds to its next window (infinite: none)
  };

  // Notes whether world's link is in its window now; appends to `changes`
  // when that differs from what was last noted, so each going and coming
  // back is logged once, not every round.
  void NoteWindowLocked(int world, Sender& s, bool up, double now, long round, std::vector<WindowChange>* changes) {
    if (up == !s.out_of_window) return;
    s.out_of_window = !up;
    changes->push_back({world, up, round, up ? 0.0 : o.peer_windows[world].NextUpAt(now) - now});
  }

  void LogWindowChanges(const std::vector<WindowChange>& changes) const {
    for (const WindowChange& c : changes) {
      if (c.up)
        Logger("wan")->info("stage {}: world {} back in its contact window at round {}", o.stage, c.world, c.round);
      else if (std::isfinite(c.opens_in_s))
        Logger("wan")->warn("stage {}: world {} out of its contact window at round {} (next opens in {:.0f} s); "
                            "rounds go on without it",
                            o.stage, c.world, c.round, c.opens_in_s);
      else
        Logger("wan")->warn("stage {}: world {} out of its contact window at round {} (no window opens again); "
                            "rounds go on without it",
                            o.stage, c.world, c.round);
    }
  }

  // Says who calls and where it serves (see FollowCaller).
  void Identify(grpc::ClientContext* ctx) const {
    ctx->AddMetadata(kWorldKey, std::to_string(o.world));
    if (!advertised.empty()) ctx->AddMetadata(kAddressKey, advertised);
  }

  grpc::Status Bad(const std::string& what) const {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "outer exchange of stage " + std::to_string(o.stage) +
                                                                ", world " + std::to_string(o.world) + ": " + what);
  }

  // ---- server side

  grpc::Status Contribute(grpc::ServerContext* ctx, grpc::ServerReader<v1::ContributionChunk>* reader,
                          v1::ContributeResponse* response) override {
    if (grpc::Status s = Authorize(ctx); !s.ok()) return s;
    FollowCaller(ctx);
    v1::ContributionChunk chunk;
    while (reader->Read(&chunk)) {
      std::unique_lock<std::mutex> lock(mu);
      if (chunk.stage() != o.stage)
        return Bad("a chunk of stage " + std::to_string(chunk.stage()) + " came to this stage's leader");
      if (chunk.world() < 0 || chunk.world() >= (int)o.peers.size() || chunk.world() == o.world)
        return Bad("world " + std::to_string(chunk.world()) + " is not a peer of this job");
      if (chunk.round() < closed_below)
        return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                            "round " + std::to_string(chunk.round()) + " is closed here");
      const auto key = std::make_pair((long)chunk.round(), chunk.world());
      highest_peer_round = std::max(highest_peer_round, key.first);
      if (chunk.offset() == 0) {
        const uint64_t total = chunk.gradient_bytes() + chunk.state_bytes();
        if (chunk.gradient_bytes() > kMaxTransferBytes || chunk.state_bytes() > kMaxTransferBytes)
          return Bad("a transfer of " + std::to_string(total) + " bytes is beyond any stage's");
        Partial& p = partial[key];
        p = Partial{};
        p.contribution.world = chunk.world();
        p.contribution.tokens = chunk.tokens();
        p.contribution.start_digest = chunk.start_digest();
        p.gradient_bytes = chunk.gradient_bytes();
        p.total = total;
        // The declared size is the sender's word: reserve no more than a
        // chunk's worth ahead; the buffer grows as bytes really arrive.
        p.data.reserve(std::min<uint64_t>(total, o.chunk_bytes));
      }
      auto it = partial.find(key);
      if (it == partial.end())
        return grpc::Status(grpc::StatusCode::OUT_OF_RANGE, "a transfer resumed that never started here");
      Partial& p = it->second;
      const uint64_t have = p.data.size();
      if (chunk.offset() > have)
        return grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                            "chunk at " + std::to_string(chunk.offset()) + " but only " + std::to_string(have) +
                                " bytes arrived");
      const uint64_t skip = have - chunk.offset();  // a resent overlap
      if (skip < chunk.data().size()) {
        if (have + chunk.data().size() - skip > p.total) return Bad("a transfer ran past its declared size");
        p.data.insert(p.data.end(), chunk.data().begin() + skip, chunk.data().end());
      }
      response->set_received_bytes(p.data.size());
      if (p.data.size() == p.total) {
        WanContribution c = std::move(p.contribution);
        c.gradient.assign(p.data.begin(), p.data.begin() + p.gradient_bytes);
        c.state.assign(p.data.begin() + p.gradient_bytes, p.data.end());
        RoundState& r = rounds[key.first];
        partial.erase(it);
        // Taken whatever this world's schedule says of the link to the
        // sender: the part came, so the link was up (the schedule is what
        // the cluster file declares, not what the link does).
        if (!r.closed) r.arrived[c.world] = std::move(c);
        lock.unlock();
        changed.notify_all();
      }
    }
    return grpc::Status::OK;
  }

  grpc::Status Received(grpc::ServerContext* ctx, const v1::ReceivedRequest* request,
                        v1::ContributeResponse* response) override {
    if (grpc::Status s = Authorize(ctx); !s.ok()) return s;
    FollowCaller(ctx);
    std::lock_guard<std::mutex> lock(mu);
    auto it = partial.find({(long)request->round(), request->world()});
    response->set_received_bytes(it == partial.end() ? 0 : it->second.data.size());
    return grpc::Status::OK;
  }

  grpc::Status FetchState(grpc::ServerContext* ctx, const v1::FetchStateRequest* request,
                          grpc::ServerWriter<v1::StateChunk>* writer) override {
    if (grpc::Status s = Authorize(ctx); !s.ok()) return s;
    FollowCaller(ctx);
    std::function<WanState()> get;
    {
      std::lock_guard<std::mutex> lock(mu);
      get = provider;
    }
    if (!get) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "no outer state yet");
    const WanState state = get();
    const size_t floats = state.start.size() + state.momentum.size();
    std::vector<uint8_t> bytes(floats * sizeof(float));
    std::memcpy(bytes.data(), state.start.data(), state.start.size() * sizeof(float));
    std::memcpy(bytes.data() + state.start.size() * sizeof(float), state.momentum.data(),
                state.momentum.size() * sizeof(float));
    Logger("wan")->info("stage {}: world {} fetches the outer state at step {}", o.stage, request->world(), state.step);
    for (size_t offset = 0; offset == 0 || offset < bytes.size(); offset += o.chunk_bytes) {
      v1::StateChunk chunk;
      if (offset == 0) {
        chunk.set_step(state.step);
        chunk.set_round(state.round);
        chunk.set_start_digest(state.start_digest);
        chunk.set_total_bytes(bytes.size());
      }
      chunk.set_offset(offset);
      const size_t n = std::min(o.chunk_bytes, bytes.size() - std::min(offset, bytes.size()));
      chunk.set_data(bytes.data() + offset, n);
      if (!writer->Write(chunk)) return grpc::Status(grpc::StatusCode::CANCELLED, "the fetching world left");
      if (bytes.empty()) break;
    }
    return grpc::Status::OK;
  }

  // ---- client side

  std::shared_ptr<grpc::Channel> Channel(const std::string& address) {
    grpc::ChannelArguments args;
    // A peer that comes back is found within half a second, not after
    // gRPC's default backoff of up to two minutes.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
    // A link that drops silently (no reset, packets just lost) fails the
    // call within three seconds instead of holding it until its deadline.
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 1000);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 2000);
    args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
    // A WAN's bandwidth-delay product is far above HTTP/2's 64 KiB start
    // window: a part would crawl for seconds and miss a contact window.
    args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, kWindowBytes);
    args.SetMaxReceiveMessageSize((int)std::min<size_t>(o.chunk_bytes * 2 + 65536, INT32_MAX));
    // Every world serves with the job's one certificate, whatever host it
    // runs on: check the certificate's name, not the host dialled.
    if (!security.tls_ca_pem.empty()) args.SetSslTargetNameOverride(rpc::kWanTlsServerName);
    return rpc::OpenChannel(address, security, args);
  }

  // Whether a connection to the peer is up or comes up within the connect
  // timeout. A refused connection is retried after the reconnect backoff
  // (at most half a second), so a world that is back is found by the next
  // try and one that is gone is left out after a second, not the whole
  // timeout.
  bool Reachable(grpc::Channel& channel) {
    const auto deadline = After(o.connect_timeout_s);
    const auto failing_deadline = After(std::min(o.connect_timeout_s, 1.0));
    for (;;) {
      const grpc_connectivity_state state = channel.GetState(true);
      if (state == GRPC_CHANNEL_READY) return true;
      if (state == GRPC_CHANNEL_SHUTDOWN) return false;
      const auto until = state == GRPC_CHANNEL_TRANSIENT_FAILURE ? failing_deadline : deadline;
      if (!channel.WaitForStateChange(state, until)) return false;
    }
  }

  // Pushes one contribution; false when the peer could not be reached or
  // took it. Resumes a transfer that broke off from what the peer holds.
  // Gives up at once when the peer moves meanwhile (the sender tries again
  // where it is now).
  bool PushTo(int world, Sender& s, const Push& push) {
    const WanContribution& c = *push.contribution;
    std::shared_ptr<grpc::Channel> channel;
    int moves = 0;
    {
      std::lock_guard<std::mutex> lock(mu);
      channel = s.channel;
      moves = s.moves;
    }
    if (!Reachable(*channel)) return false;
    auto stub = v1::OuterExchange::NewStub(channel);
    const uint64_t total = c.gradient.size() + c.state.size();
    const auto deadline = After(o.transfer_timeout_s);
    uint64_t offset = 0;
    for (int attempt = 0; attempt < 4 && Clock::now() < deadline; ++attempt) {
      if (attempt > 0) {
        grpc::ClientContext ask;
        ask.set_deadline(After(o.connect_timeout_s));
        Identify(&ask);
        v1::ReceivedRequest request;
        request.set_world(o.world);
        request.set_stage(o.stage);
        request.set_round(push.round);
        v1::ContributeResponse held;
        offset = stub->Received(&ask, request, &held).ok() ? held.received_bytes() : 0;
      }
      grpc::ClientContext ctx;
      ctx.set_deadline(deadline);
      Identify(&ctx);
      {
        std::lock_guard<std::mutex> lock(mu);
        if (stopping || s.moves != moves) return false;
        s.active = &ctx;
      }
      v1::ContributeResponse response;
      auto writer = stub->Contribute(&ctx, &response);
      bool wrote = true;
      for (uint64_t at = offset; wrote && (at < total || at == 0); at += o.chunk_bytes) {
        v1::ContributionChunk chunk;
        chunk.set_world(o.world);
        chunk.set_stage(o.stage);
        chunk.set_round(push.round);
        chunk.set_offset(at);
        if (at == 0) {
          chunk.set_tokens(c.tokens);
          chunk.set_start_digest(c.start_digest);
          chunk.set_gradient_bytes(c.gradient.size());
          chunk.set_state_bytes(c.state.size());
        }
        // The transfer is the gradient then the state, cut into chunks.
        std::string data;
        const uint64_t end = std::min<uint64_t>(total, at + o.chunk_bytes);
        for (uint64_t i = at; i < end;) {
          const bool in_gradient = i < c.gradient.size();
          const uint8_t* from = in_gradient ? c.gradient.data() + i : c.state.data() + (i - c.gradient.size());
          const uint64_t stop = in_gradient ? std::min<uint64_t>(end, c.gradient.size()) : end;
          data.append(reinterpret_cast<const char*>(from), stop - i);
          i = stop;
        }
        chunk.set_data(std::move(data));
        wrote = writer->Write(chunk);
        if (total == 0) break;
      }
      writer->WritesDone();
      const grpc::Status status = writer->Finish();
      {
        std::lock_guard<std::mutex> lock(mu);
        s.active = nullptr;
      }
      if (status.ok() && response.received_bytes() == total) return true;
      // The peer closed the round already: it has gone on without us, which
      // is not the link's fault.
      if (status.error_code() == grpc::StatusCode::FAILED_PRECONDITION) return true;
      if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
          status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
        Logger("wan")->warn("stage {}: world {} at {} refused round {}: {}", o.stage, world, AddressOf(s),
                            push.round, status.error_message());
        return false;
      }
      std::lock_guard<std::mutex> lock(mu);
      if (stopping || s.moves != moves) return false;
    }
    return false;
  }

  std::string AddressOf(const Sender& s) {
    std::lock_guard<std::mutex> lock(mu);
    return s.address;
  }

  void SenderLoop(int world, Sender& s) {
    for (;;) {
      Push push;
      std::vector<WindowChange> changes;
      bool up = true;
      {
        std::unique_lock<std::mutex> lock(mu);
        changed.wait(lock, [&] { return stopping || !s.queue.empty(); });
        if (stopping) return;
        // Only the newest round matters: the peer has closed the older ones
        // or will close them before a late push could arrive. Strict rounds
        // wait for every part, so there every push goes, in order.
        if (o.strict) {
          push = std::move(s.queue.front());
          s.queue.pop_front();
        } else {
          push = std::move(s.queue.back());
          s.queue.clear();
        }
        // A push that waited here (behind the previous one) past its link's
        // window is dropped as at a post: the peer is left out of its round
        // now, instead of when the connection attempt or, on a link that
        // drops packets silently, the keepalive gives up. One that starts
        // in the window and outlasts it fails as any broken push does.
        const double now = UnixNow();
        up = InWindow(world, now);
        NoteWindowLocked(world, s, up, now, push.round, &changes);
        if (up) {
          s.busy = true;
        } else if (auto it = rounds.find(push.round); it != rounds.end()) {
          it->second.unreachable.insert(world);
        }
      }
      LogWindowChanges(changes);
      if (!up) {
        changed.notify_all();  // the round may be complete now
        continue;
      }
      // A peer that moved while its push was under way is tried again where
      // it is now (a few times: it may be moving still). Strict rounds try
      // a failed push again until their wait timeout: the peer waits that
      // long for this part, and a round without it is no longer exact.
      bool ok = false;
      std::string address;
      const auto give_up = After(o.strict ? o.wait_timeout_s : 0.0);
      for (int moved = 0;;) {
        int moves = 0;
        {
          std::lock_guard<std::mutex> lock(mu);
          moves = s.moves;
        }
        ok = PushTo(world, s, push);
        std::unique_lock<std::mutex> lock(mu);
        if (stopping) return;
        address = s.address;
        if (ok) break;
        if (s.moves != moves && ++moved < 3) continue;
        if (!o.strict || Clock::now() >= give_up) break;
        changed.wait_for(lock, std::chrono::milliseconds(250), [&] { return stopping; });
        if (stopping) return;
      }
      {
        std::lock_guard<std::mutex> lock(mu);
        auto it = rounds.find(push.round);
        if (!ok && it != rounds.end()) it->second.unreachable.insert(world);
      }
      // Said once when it goes and once when it is back, not every round.
      if (!ok && !s.down)
        Logger("wan")->warn("stage {}: world {} at {} unreachable from round {}; rounds go on without it", o.stage,
                            world, address, push.round);
      if (ok && s.down)
        Logger("wan")->info("stage {}: world {} at {} reachable again at round {}", o.stage, world, address,
                            push.round);
      s.down = !ok;
      {
        std::lock_guard<std::mutex> lock(mu);
        s.busy = false;
      }
      changed.notify_all();
    }
  }

  // Round bookkeeping, under mu.
  bool CompleteLocked(long round) {
    RoundState& r = rounds[round];
    if (r.closed) return true;
    for (int w : r.expected)
      if (!r.arrived.count(w) && !r.unreachable.count(w)) return false;
    CloseLocked(round);
    return true;
  }

  void CloseLocked(long round) {
    RoundState& r = rounds[round];
    if (r.closed) return;
    r.closed = true;
    closed_below = std::max(closed_below, round + 1);
    last_clean = r.unreachable.empty() && r.arrived.size() == r.expected.size();
    last_worlds = 1 + (int)r.arrived.size();
    for (auto it = partial.begin(); it != partial.end();)
      it = it->first.first <= round ? partial.erase(it) : std::next(it);
  }
};

namespace {

// Mutual TLS with the job's pair: the server presents it and requires the
// caller to present it too; `client` is set to do the same when it calls.
Result<std::shared_ptr<grpc::ServerCredentials>> TlsCredentials(const WanExchangeOptions& o,
                                                                rpc::ClientSecurity* client) {
  if (o.tls_cert_file.empty() || o.tls_key_file.empty())
    return Status::InvalidArgument(std::string("outer exchange: TLS needs both the certificate (") +
                                   rpc::kWanTlsCertEnv + ") and its key (" + rpc::kWanTlsKeyEnv + "); only " +
                                   (o.tls_cert_file.empty() ? o.tls_key_file : o.tls_cert_file) + " is given");
  Result<rpc::TlsPair> pair = rpc::LoadTlsPair(o.tls_cert_file, o.tls_key_file);
  if (!pair.ok()) return pair.status().WithContext("outer exchange TLS");
  client->tls_ca_pem = pair->cert_pem;
  client->tls_cert_pem = pair->cert_pem;
  client->tls_key_pem = pair->key_pem;
  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  ssl.pem_root_certs = pair->cert_pem;
  ssl.pem_key_cert_pairs.push_back({pair->key_pem, pair->cert_pem});
  return grpc::SslServerCredentials(ssl);
}

}  // namespace

Result<std::unique_ptr<WanExchange>> WanExchange::Start(const WanExchangeOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->o = options;
  impl->security.token = options.token;
  if (options.world < 0 || options.world >= (int)options.peers.size())
    return Status::InvalidArgument("outer exchange: world " + std::to_string(options.world) + " is not among the " +
                                   std::to_string(options.peers.size()) + " worlds of --wan-peers");
  std::shared_ptr<grpc::ServerCredentials> creds = grpc::InsecureServerCredentials();
  if (!options.tls_cert_file.empty() || !options.tls_key_file.empty()) {
    MERIDIAN_ASSIGN_OR_RETURN(creds, TlsCredentials(options, &impl->security));
  }
  grpc::ServerBuilder builder;
  // Two leaders on one port would split a world's contributions.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, kWindowBytes);
  // The peers' keepalive pings (one a second) are welcome.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 500);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  builder.AddListeningPort(options.listen, creds, &impl->port);
  builder.RegisterService(impl.get());
  builder.SetMaxReceiveMessageSize((int)std::min<size_t>(options.chunk_bytes * 2 + 65536, INT32_MAX));
  impl->server = builder.BuildAndStart();
  if (!impl->server || impl->port == 0)
    return Status::Unavailable("outer exchange: cannot listen on " + options.listen);
  impl->advertised = options.advertise.empty() ? AdvertisedFrom(options.listen, impl->port) : options.advertise;
  std::unique_ptr<WanExchange> exchange(new WanExchange(std::move(impl)));
  exchange->SetPeers(options.peers);
  return exchange;
}

WanExchange::WanExchange(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
WanExchange::~WanExchange() = default;

int WanExchange::port() const { return impl_->port; }
const WanExchangeOptions& WanExchange::options() const { return impl_->o; }

void WanExchange::SetPeers(std::vector<std::string> peers) {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  m.o.peers = std::move(peers);
  for (int w = 0; w < (int)m.o.peers.size(); ++w) {
    if (w == m.o.world || m.o.peers[w].empty()) continue;
    auto it = m.senders.find(w);
    if (it == m.senders.end() || it->second.address != m.o.peers[w]) m.SetPeerLocked(w, m.o.peers[w]);
  }
}

std::string WanExchange::advertised() const { return impl_->advertised; }

std::unique_ptr<WanRound> WanExchange::Post(long round, WanContribution mine) {
  Impl& m = *impl_;
  mine.world = m.o.world;
  auto shared = std::make_shared<const WanContribution>(mine);
  std::vector<Impl::WindowChange> changes;
  {
    std::lock_guard<std::mutex> lock(m.mu);
    // Rounds before this one are over here; whatever of them still arrives is late.
    m.closed_below = std::max(m.closed_below, round);
    for (auto it = m.rounds.begin(); it != m.rounds.end() && it->first < round;) it = m.rounds.erase(it);
    RoundState& r = m.rounds[round];
    r.posted = true;
    r.mine = std::move(mine);
    const double now = UnixNow();
    for (auto& [world, s] : m.senders) {
      r.expected.insert(world);
      const bool up = m.InWindow(world, now);
      m.NoteWindowLocked(world, s, up, now, round, &changes);
      // A peer whose link is outside its contact window cannot take the part
      // before the window opens: it is left out of the round now, as a peer
      // that refuses connections is, so the round does not hold training
      // for it, and nothing is pushed to it (the push could only fail).
      if (!up) {
        r.unreachable.insert(world);
        continue;
      }
      s.queue.push_back(Push{round, shared});
    }
  }
  m.LogWindowChanges(changes);
  m.changed.notify_all();
  return std::make_unique<WanRound>(this, round);
}

void WanExchange::SetStateProvider(std::function<WanState()> provider) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->provider = std::move(provider);
}

Result<WanState> WanExchange::FetchState() {
  Impl& m = *impl_;
  std::vector<std::pair<int, std::shared_ptr<grpc::Channel>>> peers;
  std::vector<int> out_of_window;
  {
    std::lock_guard<std::mutex> lock(m.mu);
    const double now = UnixNow();
    for (auto& [world, s] : m.senders) {
      // A peer whose link is outside its window cannot answer now, and
      // trying costs the connect timeout: ask the others.
      if (!m.InWindow(world, now)) {
        out_of_window.push_back(world);
        continue;
      }
      peers.push_back({world, s.channel});
    }
  }
  for (int world : out_of_window)
    Logger("wan")->info("stage {}: world {} is out of its contact window; the outer state is asked of the others",
                        m.o.stage, world);
  for (auto& [world, channel] : peers) {
    if (!m.Reachable(*channel)) continue;
    auto stub = v1::OuterExchange::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(After(m.o.transfer_timeout_s));
    m.Identify(&ctx);
    v1::FetchStateRequest request;
    request.set_world(m.o.world);
    request.set_stage(m.o.stage);
    auto reader = stub->FetchState(&ctx, request);
    v1::StateChunk chunk;
    WanState state;
    std::vector<uint8_t> bytes;
    uint64_t total = 0;
    bool ok = true;
    while (reader->Read(&chunk)) {
      if (chunk.offset() == 0) {
        state.step = chunk.step();
        state.round = chunk.round();
        state.start_digest = chunk.start_digest();
        total = chunk.total_bytes();
        if (total > kMaxTransferBytes || total % (2 * sizeof(float)) != 0) ok = false;
        if (ok) bytes.reserve(std::min<uint64_t>(total, m.o.chunk_bytes));  // grows as bytes arrive
      }
      if (!ok || chunk.offset() != bytes.size() || bytes.size() + chunk.data().size() > total) {
        ok = false;
        ctx.TryCancel();
        break;
      }
      bytes.insert(bytes.end(), chunk.data().begin(), chunk.data().end());
    }
    const grpc::Status status = reader->Finish();
    if (!ok || !status.ok() || bytes.size() != total) continue;
    const size_t n = total / sizeof(float) / 2;
    state.start.resize(n);
    state.momentum.resize(n);
    std::memcpy(state.start.data(), bytes.data(), n * sizeof(float));
    std::memcpy(state.momentum.data(), bytes.data() + n * sizeof(float), n * sizeof(float));
    Logger("wan")->info("stage {}: outer state of step {} from world {}", m.o.stage, state.step, world);
    return state;
  }
  return Status::NotFound("outer exchange: no other world answered for stage " + std::to_string(m.o.stage) +
                          (out_of_window.empty() ? ""
                                                 : " (" + std::to_string(out_of_window.size()) +
                                                       " not asked: out of their contact windows)"));
}

long WanExchange::highest_peer_round() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->highest_peer_round;
}

bool WanExchange::last_round_clean() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->last_clean;
}

int WanExchange::last_round_worlds() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->last_worlds;
}

bool WanRound::Test() {
  WanExchange::Impl& m = *exchange_->impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  return m.CompleteLocked(round_);
}

Status WanRound::Wait() {
  WanExchange::Impl& m = *exchange_->impl_;
  std::unique_lock<std::mutex> lock(m.mu);
  m.changed.wait_until(lock, After(m.o.wait_timeout_s), [&] { return m.stopping || m.CompleteLocked(round_); });
  m.CloseLocked(round_);
  return Status::OK();
}

void WanRound::Close() {
  WanExchange::Impl& m = *exchange_->impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  m.CloseLocked(round_);
}

std::vector<WanContribution> WanRound::TakeContributions() {
  WanExchange::Impl& m = *exchange_->impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  m.CloseLocked(round_);
  std::vector<WanContribution> out;
  auto it = m.rounds.find(round_);
  if (it == m.rounds.end()) return out;
  RoundState& r = it->second;
  out.push_back(std::move(r.mine));
  for (auto& [world, c] : r.arrived) out.push_back(std::move(c));
  r.arrived.clear();
  std::sort(out.begin(), out.end(), [](const WanContribution& a, const WanContribution& b) { return a.world < b.world; });
  return out;
}

}  // namespace meridian
