#include "tests/runtime/comm/in_process_communicator.h"

#include <algorithm>
#include <condition_variable>
#include <functional>
#include <exception>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>
#include <tuple>
#include <type_traits>

namespace meridian {

namespace in_process {

// One rank's part of a collective: the signature every rank must agree on,
// and a copy of its input (copied so that in-place calls and early returns
// never expose a caller's buffer to another thread).
struct Contribution {
  explicit Contribution(std::string what = "") : what(std::move(what)) {}
  std::string what;
  std::vector<float> f;
  std::vector<double> d;
  std::vector<char> bytes;
  int color = 0, key = 0;  // Split
};

struct Group;

// The k-th collective call of a group. Contributions are immutable once all
// have arrived, so ranks read them without the lock.
struct Round {
  explicit Round(uint64_t seq, int size) : seq(seq), c(size), arrived(size, false) {}
  uint64_t seq;
  std::vector<Contribution> c;
  std::vector<bool> arrived;
  int arrived_count = 0;
  int departed = 0;
  std::map<int, std::shared_ptr<Group>> splits;  // Split: the new groups by color, made by the first rank out
};

// Buffered messages from one rank to another with one tag. Sends and
// receives draw sequence numbers, so the k-th posted receive takes the k-th
// send whatever order the receives are waited in.
struct Channel {
  uint64_t next_send = 0, next_recv = 0;
  std::map<uint64_t, std::vector<float>> messages;
};

struct Group {
  explicit Group(std::vector<int> world_ranks) : world_ranks(std::move(world_ranks)) {}
  std::vector<int> world_ranks;
  std::map<uint64_t, std::shared_ptr<Round>> rounds;
  std::map<std::tuple<int, int, int>, Channel> channels;  // (source, destination, tag), group ranks
};

// One mutex and one condition variable for the whole world: the ranks are
// test threads, so simplicity beats contention, and a failure can wake every
// waiter of every group at once.
struct WorldState {
  WorldState(int size, std::chrono::milliseconds timeout) : timeout(timeout), exited(size, false) {}
  std::chrono::milliseconds timeout;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<bool> exited;  // by world rank: its RunRanks function has returned
  int failed_rank = -1;      // the first rank whose RunRanks function failed

  // Blocks until missing() (the world ranks still awaited) is empty, or gives
  // up: a rank failed, an awaited rank has returned, or the timeout passed.
  Status Await(std::unique_lock<std::mutex>& lock, const std::string& what,
               const std::function<std::vector<int>()>& missing) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const std::vector<int> m = missing();
      if (m.empty()) return Status::OK();
      if (failed_rank >= 0)
        return Status::Unavailable(what + ": abandoned, world rank " + std::to_string(failed_rank) + " failed");
      for (int w : m)
        if (exited[w])
          return Status::Unavailable(what + ": world rank " + std::to_string(w) + " returned without joining");
      if (cv.wait_until(lock, deadline) == std::cv_status::timeout && !missing().empty()) {
        std::ostringstream os;
        os << what << ": gave up after " << timeout.count() / 1000.0 << " s waiting for world rank(s)";
        for (int w : missing()) os << " " << w;
        return Status::DeadlineExceeded(os.str());
      }
    }
  }
};

}  // namespace in_process

namespace {

using in_process::Channel;
using in_process::Contribution;
using in_process::Group;
using in_process::Round;
using in_process::WorldState;

std::string Join(const std::vector<size_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) s += " ";
    s += std::to_string(v[i]);
  }
  return s + "]";
}

const char* OpName(ReduceOp op) { return op == ReduceOp::kAvg ? "avg" : "sum"; }

// out[i] = ((x0[i] + x1[i]) + x2[i]) + ..., in T, then kAvg's scaling as
// MpiCommunicator applies it.
template <typename T>
void Reduce(const Round& round, std::vector<T> Contribution::*field, size_t begin, size_t count, ReduceOp op,
            T* out) {
  const int n = (int)round.c.size();
  for (size_t i = 0; i < count; ++i) {
    T acc = (round.c[0].*field)[begin + i];
    for (int k = 1; k < n; ++k) acc += (round.c[k].*field)[begin + i];
    out[i] = acc;
  }
  if (op != ReduceOp::kAvg) return;
  if constexpr (std::is_same_v<T, float>) {
    const float s = 1.0f / n;
    for (size_t i = 0; i < count; ++i) out[i] *= s;
  } else {
    for (size_t i = 0; i < count; ++i) out[i] /= n;
  }
}

class InProcessCommunicator : public Communicator {
 public:
  InProcessCommunicator(std::shared_ptr<WorldState> world, std::shared_ptr<Group> group, int rank, std::string name)
      : world_(std::move(world)), group_(std::move(group)), rank_(rank), name_(std::move(name)) {}

  int rank() const override { return rank_; }
  int size() const override { return (int)group_->world_ranks.size(); }
  const std::string& name() const override { return name_; }
  const std::vector<int>& world_ranks() const override { return group_->world_ranks; }

  Status AllReduce(float* data, size_t count, ReduceOp op) override {
    Contribution c("all-reduce (" + std::string(OpName(op)) + ") of " + std::to_string(count) + " floats");
    c.f.assign(data, data + count);
    std::shared_ptr<Round> round = Post(std::move(c));
    MERIDIAN_RETURN_IF_ERROR(Complete(round));
    Reduce(*round, &Contribution::f, 0, count, op, data);
    return Status::OK();
  }

  Result<std::unique_ptr<CommRequest>> IAllReduce(float* data, size_t count, ReduceOp op) override;
  Result<std::unique_ptr<CommRequest>> IAllGatherBytes(const void* send, void* recv, size_t bytes_per_rank) override;

  Status AllReduceDouble(double* data, size_t count, ReduceOp op) override {
    Contribution c("all-reduce (" + std::string(OpName(op)) + ") of " + std::to_string(count) + " doubles");
    c.d.assign(data, data + count);
    std::shared_ptr<Round> round = Post(std::move(c));
    MERIDIAN_RETURN_IF_ERROR(Complete(round));
    Reduce(*round, &Contribution::d, 0, count, op, data);
    return Status::OK();
  }

  Status ReduceScatter(const float* send, float* recv, const std::vector<size_t>& counts, ReduceOp op) override {
    const std::string what = "reduce-scatter (" + std::string(OpName(op)) + ") of counts " + Join(counts);
    MERIDIAN_RETURN_IF_ERROR(CheckCounts(what, counts));
    size_t offset = 0, total = 0;
    for (int i = 0; i < size(); ++i) {
      if (i < rank_) offset += counts[i];
      total += counts[i];
    }
    Contribution c(what);
    c.f.assign(send, send + total);
    std::shared_ptr<Round> round = Post(std::move(c));
    MERIDIAN_RETURN_IF_ERROR(Complete(round));
    Reduce(*round, &Contribution::f, offset, counts[rank_], op, recv);
    return Status::OK();
  }

  Status AllGather(const float* send, float* recv, const std::vector<size_t>& counts) override {
    const std::string what = "all-gather of counts " + Join(counts);
    MERIDIAN_RETURN_IF_ERROR(CheckCounts(what, counts));
    Contribution c(what);
    c.f.assign(send, send + counts[rank_]);  // copied first, so send may alias recv (in place)
    std::shared_ptr<Round> round = Post(std::move(c));
    MERIDIAN_RETURN_IF_ERROR(Complete(round));
    for (const Contribution& k : round->c) recv = std::copy(k.f.begin(), k.f.end(), recv);
    return Status::OK();
  }

  Status AllGatherBytes(const void* send, void* recv, size_t bytes_per_rank) override {
    Contribution c("all-gather of " + std::to_string(bytes_per_rank) + " bytes per rank");
    c.bytes.assign((const char*)send, (const char*)send + bytes_per_rank);
    std::shared_ptr<Round> round = Post(std::move(c));
    MERIDIAN_RETURN_IF_ERROR(Complete(round));
    char* out = (char*)recv;
    for (const Contribution& k : round->c) out = std::copy(k.bytes.begin(), k.bytes.end(), out);
    return Status::OK();
  }

  Status Broadcast(float* data, size_t count, int root) override {
    const std::string what =
        "broadcast of " + std::to_string(count) + " floats from group rank " + std::to_string(root);
    if (root < 0 || root >= size()) return Status::InvalidArgument(Describe(what) + ": no such root");
    Contribution c(what);
    if (rank_ == root) c.f.assign(data, data + count);
    std::shared_ptr<Round> round = Post(std::move(c));
    MERIDIAN_RETURN_IF_ERROR(Complete(round));
    if (rank_ != root) std::copy(round->c[root].f.begin(), round->c[root].f.end(), data);
    return Status::OK();
  }

  Status Send(const float* data, size_t count, int peer, int tag) override {
    return ISend(data, count, peer, tag).status();
  }

  // Buffered: the data is copied into the channel now, so the send is
  // complete before the receiver arrives.
  Result<std::unique_ptr<CommRequest>> ISend(const float* data, size_t count, int peer, int tag) override {
    const std::string what =
        Describe("send of " + std::to_string(count) + " floats (tag " + std::to_string(tag) + ")", peer);
    MERIDIAN_RETURN_IF_ERROR(CheckPeer(what, peer, tag));
    std::lock_guard<std::mutex> lock(world_->mu);
    Channel& ch = group_->channels[{rank_, peer, tag}];
    ch.messages.emplace(ch.next_send++, std::vector<float>(data, data + count));
    world_->cv.notify_all();
    return CompletedRequest();
  }

  Result<std::unique_ptr<CommRequest>> IRecv(float* data, size_t count, int peer, int tag) override;

  Status Barrier() override { return Complete(Post(Contribution("barrier"))); }

  Result<std::unique_ptr<Communicator>> Split(int color, int key, const std::string& name) override {
    Contribution c("split");
    c.color = color;
    c.key = key;
    std::shared_ptr<Round> round = Post(std::move(c));
    MERIDIAN_RETURN_IF_ERROR(Complete(round));
    // Every rank checks every color, so all return the same error.
    for (int r = 0; r < size(); ++r)
      if (round->c[r].color < 0)
        return Status::InvalidArgument(Describe("split into " + name) + ": group rank " + std::to_string(r) +
                                       " passed color " + std::to_string(round->c[r].color) + "; colors are >= 0");
    std::lock_guard<std::mutex> lock(world_->mu);
    if (round->splits.empty()) {  // first rank out makes the groups for all
      std::map<int, std::vector<std::pair<int, int>>> members;  // color -> (key, parent rank)
      for (int r = 0; r < size(); ++r) members[round->c[r].color].push_back({round->c[r].key, r});
      for (auto& [c, m] : members) {
        std::sort(m.begin(), m.end());
        std::vector<int> world_ranks;
        for (const auto& [k, r] : m) world_ranks.push_back(group_->world_ranks[r]);
        round->splits[c] = std::make_shared<Group>(std::move(world_ranks));
      }
    }
    std::shared_ptr<Group> sub = round->splits.at(color);
    const int me = (int)(std::find(sub->world_ranks.begin(), sub->world_ranks.end(), group_->world_ranks[rank_]) -
                         sub->world_ranks.begin());
    return std::unique_ptr<Communicator>(new InProcessCommunicator(world_, sub, me, name));
  }

  // --- The rest is shared with the requests below (this class is private to this file). ---

  // Posts this rank's contribution to its next collective and returns the
  // round; the k-th call on every rank meets in round k.
  std::shared_ptr<Round> Post(Contribution c) {
    std::lock_guard<std::mutex> lock(world_->mu);
    const uint64_t seq = next_seq_++;
    std::shared_ptr<Round>& round = group_->rounds[seq];
    if (!round) round = std::make_shared<Round>(seq, size());
    round->c[rank_] = std::move(c);
    round->arrived[rank_] = true;
    ++round->arrived_count;
    world_->cv.notify_all();
    return round;
  }

  bool Arrived(const Round& round) {
    std::lock_guard<std::mutex> lock(world_->mu);
    return round.arrived_count == size();
  }

  // Waits for every rank's contribution, checks that all called the same
  // collective, and leaves the round (whose contributions the caller then
  // reads through its shared_ptr).
  Status Complete(const std::shared_ptr<Round>& round) {
    const std::string& what = round->c[rank_].what;
    std::unique_lock<std::mutex> lock(world_->mu);
    Status s = world_->Await(lock, Describe(what), [&] {
      std::vector<int> missing;
      for (int r = 0; r < size(); ++r)
        if (!round->arrived[r]) missing.push_back(group_->world_ranks[r]);
      return missing;
    });
    Leave(*round);
    MERIDIAN_RETURN_IF_ERROR(s);
    for (int r = 1; r < size(); ++r)
      if (round->c[r].what != round->c[0].what)
        return Status::InvalidArgument(Describe("collective #" + std::to_string(round->seq)) +
                                       ": mismatched calls: group rank 0 called " + round->c[0].what +
                                       ", group rank " + std::to_string(r) + " called " + round->c[r].what);
    return Status::OK();
  }

  // Drops the group's reference to the round once every rank is done with it.
  void Leave(Round& round) {  // under world_->mu
    if (++round.departed == size()) group_->rounds.erase(round.seq);
  }

  std::shared_ptr<WorldState> world_;
  std::shared_ptr<Group> group_;

  // "all-reduce ... on group dp (world ranks 1 3) with peer world rank 3", as MpiCommunicator says it.
  std::string Describe(const std::string& op, int peer = -1) const {
    std::ostringstream os;
    os << op << " on group " << name_ << " (world ranks";
    for (int r : group_->world_ranks) os << " " << r;
    os << ")";
    if (peer >= 0 && peer < size()) os << " with peer world rank " << group_->world_ranks[peer];
    return os.str();
  }

 private:
  Status CheckCounts(const std::string& what, const std::vector<size_t>& counts) const {
    if ((int)counts.size() == size()) return Status::OK();
    return Status::InvalidArgument(Describe(what) + ": counts has " + std::to_string(counts.size()) +
                                   " entries, group has " + std::to_string(size()));
  }
  Status CheckPeer(const std::string& what, int peer, int tag) const {
    if (peer < 0 || peer >= size()) return Status::InvalidArgument(what + ": no such peer " + std::to_string(peer));
    if (tag < 0) return Status::InvalidArgument(what + ": tags are >= 0");
    return Status::OK();
  }

  int rank_;
  std::string name_;
  uint64_t next_seq_ = 0;  // collectives this rank has posted on this group
};

// A non-blocking collective: contributed at the call (a round of the
// group), completed at Wait or at the Test that finds every rank there,
// when Deliver copies the round's result into the caller's buffer.
class RoundRequest : public CommRequest {
 public:
  RoundRequest(InProcessCommunicator* comm, std::shared_ptr<Round> round) : comm_(comm), round_(std::move(round)) {}
  ~RoundRequest() override {
    if (done_) return;
    std::lock_guard<std::mutex> lock(comm_->world_->mu);  // abandoned: leave without touching the buffer
    comm_->Leave(*round_);
  }
  Status Wait() override {
    if (done_) return status_;
    done_ = true;
    status_ = comm_->Complete(round_);
    if (status_.ok()) Deliver(*round_);
    return status_;
  }
  bool Test() override {
    if (!done_ && comm_->Arrived(*round_)) (void)Wait();
    return done_;
  }

 protected:
  virtual void Deliver(const Round& round) = 0;

 private:
  InProcessCommunicator* comm_;
  std::shared_ptr<Round> round_;
  bool done_ = false;
  Status status_;
};

// A non-blocking all-reduce: the reduction lands in the caller's buffer.
class AllReduceRequest : public RoundRequest {
 public:
  AllReduceRequest(InProcessCommunicator* comm, std::shared_ptr<Round> round, float* data, size_t count, ReduceOp op)
      : RoundRequest(comm, std::move(round)), data_(data), count_(count), op_(op) {}

 private:
  void Deliver(const Round& round) override { Reduce(round, &Contribution::f, 0, count_, op_, data_); }
  float* data_;
  size_t count_;
  ReduceOp op_;
};

// A non-blocking all-gather of bytes: every rank's bytes, in rank order.
class AllGatherBytesRequest : public RoundRequest {
 public:
  AllGatherBytesRequest(InProcessCommunicator* comm, std::shared_ptr<Round> round, void* recv)
      : RoundRequest(comm, std::move(round)), recv_((char*)recv) {}

 private:
  void Deliver(const Round& round) override {
    char* out = recv_;
    for (const Contribution& k : round.c) out = std::copy(k.bytes.begin(), k.bytes.end(), out);
  }
  char* recv_;
};

// A posted receive: holds its ticket in the channel, so it takes the message
// sent in the same position whenever it is waited on.
class RecvRequest : public CommRequest {
 public:
  RecvRequest(InProcessCommunicator* comm, int peer, int tag, uint64_t ticket, float* data, size_t count,
              std::string what)
      : comm_(comm), peer_(peer), tag_(tag), ticket_(ticket), data_(data), count_(count), what_(std::move(what)) {}
  Status Wait() override {
    if (done_) return status_;
    done_ = true;
    status_ = Take(/*block=*/true);
    return status_;
  }
  bool Test() override {
    if (done_) return true;
    Status s = Take(/*block=*/false);
    if (s.code() == Status::Code::kNotFound) return false;
    done_ = true;
    status_ = s;
    return true;
  }

 private:
  // Moves the message out of the channel into data_; NotFound when not
  // blocking and it has not been sent yet.
  Status Take(bool block) {
    std::vector<float> message;
    {
      std::unique_lock<std::mutex> lock(comm_->world_->mu);
      Channel& ch = comm_->group_->channels[{peer_, comm_->rank(), tag_}];
      if (block) {
        MERIDIAN_RETURN_IF_ERROR(comm_->world_->Await(lock, what_, [&]() -> std::vector<int> {
          if (ch.messages.count(ticket_)) return {};
          return {comm_->world_ranks()[peer_]};
        }));
      } else if (!ch.messages.count(ticket_)) {
        return Status::NotFound(what_);
      }
      auto it = ch.messages.find(ticket_);
      message = std::move(it->second);
      ch.messages.erase(it);
    }
    if (message.size() != count_)
      return Status::InvalidArgument(what_ + ": the message has " + std::to_string(message.size()) + " floats");
    std::copy(message.begin(), message.end(), data_);
    return Status::OK();
  }

  InProcessCommunicator* comm_;
  int peer_, tag_;
  uint64_t ticket_;
  float* data_;
  size_t count_;
  std::string what_;
  bool done_ = false;
  Status status_;
};

Result<std::unique_ptr<CommRequest>> InProcessCommunicator::IAllReduce(float* data, size_t count, ReduceOp op) {
  Contribution c("non-blocking all-reduce (" + std::string(OpName(op)) + ") of " + std::to_string(count) + " floats");
  c.f.assign(data, data + count);
  std::shared_ptr<Round> round = Post(std::move(c));
  return std::unique_ptr<CommRequest>(new AllReduceRequest(this, std::move(round), data, count, op));
}

Result<std::unique_ptr<CommRequest>> InProcessCommunicator::IAllGatherBytes(const void* send, void* recv,
                                                                            size_t bytes_per_rank) {
  Contribution c("non-blocking all-gather of " + std::to_string(bytes_per_rank) + " bytes per rank");
  c.bytes.assign((const char*)send, (const char*)send + bytes_per_rank);
  std::shared_ptr<Round> round = Post(std::move(c));
  return std::unique_ptr<CommRequest>(new AllGatherBytesRequest(this, std::move(round), recv));
}

Result<std::unique_ptr<CommRequest>> InProcessCommunicator::IRecv(float* data, size_t count, int peer, int tag) {
  const std::string what =
      Describe("receive of " + std::to_string(count) + " floats (tag " + std::to_string(tag) + ")", peer);
  MERIDIAN_RETURN_IF_ERROR(CheckPeer(what, peer, tag));
  std::lock_guard<std::mutex> lock(world_->mu);
  const uint64_t ticket = group_->channels[{peer, rank_, tag}].next_recv++;
  return std::unique_ptr<CommRequest>(new RecvRequest(this, peer, tag, ticket, data, count, what));
}

}  // namespace

InProcessWorld::InProcessWorld(int size, std::chrono::milliseconds timeout)
    : state_(std::make_shared<in_process::WorldState>(size, timeout)) {
  std::vector<int> world_ranks(size);
  for (int i = 0; i < size; ++i) world_ranks[i] = i;
  auto group = std::make_shared<Group>(world_ranks);
  for (int i = 0; i < size; ++i) ranks_.push_back(std::make_unique<InProcessCommunicator>(state_, group, i, "world"));
}

InProcessWorld::~InProcessWorld() = default;

Status RunRanks(InProcessWorld& world, const std::function<Status(int rank, Communicator* world)>& fn) {
  WorldState& state = *world.state_;
  {
    std::lock_guard<std::mutex> lock(state.mu);
    std::fill(state.exited.begin(), state.exited.end(), false);
  }
  Status first;  // this run's first failure, under state.mu
  std::vector<std::thread> threads;
  for (int r = 0; r < world.size(); ++r) {
    threads.emplace_back([&, r] {
      Status s;
      try {
        s = fn(r, world.rank(r));
      } catch (const std::exception& e) {
        s = Status::Internal(std::string("exception: ") + e.what());
      } catch (...) {
        s = Status::Internal("unknown exception");
      }
      std::lock_guard<std::mutex> lock(state.mu);
      if (!s.ok()) {
        if (first.ok()) first = s.WithContext("rank " + std::to_string(r));
        if (state.failed_rank < 0) state.failed_rank = r;
      }
      state.exited[r] = true;
      state.cv.notify_all();  // peers waiting on this rank give up now
    });
  }
  for (std::thread& t : threads) t.join();
  return first;
}

}  // namespace meridian
