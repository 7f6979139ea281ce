// PlaceJob: greedy by data center, then a handful of candidates priced by
// the cost model. No search over assignments, so a 4,096-rank job on a
// 128k-GPU cluster places in milliseconds.
//
// 1. For every data center, pack replicas: first whole replicas on one node
//    (nodes by free GPUs, or by speed), then replicas spanning the fewest
//    nodes of the data center (leftovers, fullest nodes first).
// 2. Order the data centers a few ways (most room, fastest GPUs, and from
//    a few seeds the best-linked neighbours first) and take replicas from
//    them in order, so a job spreads over data centers only when needed.
//    Replicas straddle data centers only when no data center holds one.
// 3. Price each candidate (and a variant with heavier stages on faster
//    GPUs) and keep the cheapest; the first wins a tie, and every order
//    breaks its ties by name, so the result is deterministic.
#include "scheduler/placement/placement.h"

#include <algorithm>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <set>
#include <span>

#include "scheduler/placement/layout_search.h"
#include "scheduler/placement/taken_gpus.h"

namespace meridian::scheduler {

void Vacate(Occupancy& occupied, const std::string& job_id) {
  for (auto& [node, gpus] : occupied)
    for (auto it = gpus.begin(); it != gpus.end();) it = it->second == job_id ? gpus.erase(it) : std::next(it);
}

Occupancy Merged(const Occupancy& a, const Occupancy& b) {
  Occupancy out = a;
  for (const auto& [node, gpus] : b)
    for (const auto& [gpu, holder] : gpus) out[node].emplace(gpu, holder);
  return out;
}

namespace {

constexpr int kSeeds = 8;  // data centers tried as the first of a link-aware order
constexpr int kMaxSwapRanks = 64;  // jobs whose best candidate is polished by pairwise swaps
constexpr int kMaxSwapPasses = 8;

struct NodeFree {
  int node = 0;
  int name_rank = 0;           // position in name order, the final tie-break
  std::span<const int> gpus;   // free GPU positions, Gpu::index order (in the search's FreeGpus)
  double speed = 0;            // the slowest free GPU's TFLOPS
  double memory_bytes = 0;     // the smallest free GPU's memory
};

struct DcFree {
  int dc = 0;
  std::vector<NodeFree> nodes;  // name order
  // `nodes` as Plan walks them (indices): the most free GPUs first, then
  // the fastest, then by name; and, where a data center mixes speeds, the
  // fastest first. The same for every layout of a search: sorted once.
  std::vector<int> by_free, by_speed;
};

// The free GPUs of one search, by data center.
struct FreeByDc {
  std::vector<DcFree> dcs;  // those with a free GPU
  bool mixed = false;       // some data center mixes GPU speeds
};

// One data center's replicas under one node order.
struct DcPlan {
  int dc = 0;
  int replicas = 0;
  std::vector<Slot> slots;  // replicas * pp, whole-node replicas first
  double speed = 0;         // slowest GPU among the replicas
  // The GPUs no replica took, in the order replicas spanning nodes walk
  // them (see Engine::Unused); built only when a job straddles data
  // centers, from what each walked node gave: `front[i]` GPUs from the
  // front of the i-th node walked, or those `used[i]` marks when front[i]
  // is -1. Nodes past the end of `front` gave none.
  const std::vector<int>* walk = nullptr;
  std::vector<int> front;
  std::vector<std::vector<bool>> used;
  mutable std::optional<std::vector<Slot>> leftovers;
};

enum class NodeOrder { kByFree, kBySpeed };

class Engine {
 public:
  Engine(const LayoutContext& ctx, const FreeByDc& free) : c_(ctx), dcs_(free.dcs), mixed_(free.mixed) {
    for (const StageCost& s : c_.stages) max_need_ = std::max(max_need_, s.memory_bytes);
  }

  Result<std::vector<Slot>> Place() {
    std::vector<DcPlan> by_free = Plans(NodeOrder::kByFree);
    TryOrders(by_free);
    // Sorting nodes by speed only differs where a data center mixes GPUs.
    if (mixed_) TryOrders(Plans(NodeOrder::kBySpeed));
    if (best_.empty()) TryCandidate(MatchByMemory());
    if (best_.empty()) return Status::Internal("placement: no candidate placed although the job fits by memory");
    ImproveBySwaps();
    return best_;
  }

 private:
  bool Holds(Slot s, int stage) const {
    return c_.index.node(s.node).gpus[s.gpu].memory_gb * kBytesPerGb >= c_.stages[stage].memory_bytes;
  }
  double Tflops(Slot s) const { return c_.index.node(s.node).gpus[s.gpu].tflops; }

  // One replica on one node: stage s on the s-th free GPU when memory
  // allows, else the largest stages first on the smallest GPUs that hold them.
  bool ReplicaOnNode(const NodeFree& n, std::vector<bool>& used, std::vector<Slot>& out) const {
    std::vector<int> unused;
    for (int i = 0; i < (int)n.gpus.size(); ++i)
      if (!used[i]) unused.push_back(i);
    if ((int)unused.size() < c_.pp) return false;
    std::vector<int> pick(c_.pp, -1);
    bool in_order = true;
    for (int s = 0; s < c_.pp && in_order; ++s) in_order = Holds(Slot{n.node, n.gpus[unused[s]]}, s);
    if (in_order) {
      for (int s = 0; s < c_.pp; ++s) pick[s] = unused[s];
    } else {
      auto memory = [&](int i) { return c_.index.node(n.node).gpus[n.gpus[i]].memory_gb; };
      std::stable_sort(unused.begin(), unused.end(), [&](int a, int b) { return memory(a) < memory(b); });
      std::vector<int> stages(c_.pp);
      std::iota(stages.begin(), stages.end(), 0);
      std::stable_sort(stages.begin(), stages.end(),
                       [&](int a, int b) { return c_.stages[a].memory_bytes > c_.stages[b].memory_bytes; });
      std::vector<bool> taken(unused.size(), false);
      for (int s : stages) {
        for (size_t k = 0; k < unused.size() && pick[s] < 0; ++k) {
          if (!taken[k] && Holds(Slot{n.node, n.gpus[unused[k]]}, s)) {
            taken[k] = true;
            pick[s] = unused[k];
          }
        }
        if (pick[s] < 0) return false;
      }
    }
    for (int s = 0; s < c_.pp; ++s) {
      used[pick[s]] = true;
      out.push_back(Slot{n.node, n.gpus[pick[s]]});
    }
    return true;
  }

  // One replica from a pool walked in order, so consecutive stages share a
  // node as far as the pool allows; a GPU too small for a stage is skipped
  // and stays for later stages.
  bool ReplicaFromPool(const std::vector<Slot>& pool, std::vector<bool>& taken, size_t& first,
                       std::vector<Slot>& out) const {
    while (first < pool.size() && taken[first]) ++first;
    std::vector<size_t> pick;
    size_t at = first;
    for (int s = 0; s < c_.pp; ++s) {
      while (at < pool.size() && (taken[at] || !Holds(pool[at], s) ||
                                  std::find(pick.begin(), pick.end(), at) != pick.end()))
        ++at;
      if (at == pool.size()) {
        // Stages after a skip may need an earlier, smaller GPU: rescan.
        at = first;
        while (at < pool.size() && (taken[at] || !Holds(pool[at], s) ||
                                    std::find(pick.begin(), pick.end(), at) != pick.end()))
          ++at;
        if (at == pool.size()) return false;
      }
      pick.push_back(at);
    }
    for (size_t k : pick) {
      taken[k] = true;
      out.push_back(pool[k]);
    }
    return true;
  }

  DcPlan Plan(const DcFree& d, NodeOrder order) const {
    const std::vector<int>& walk = order == NodeOrder::kBySpeed ? d.by_speed : d.by_free;
    DcPlan plan;
    plan.dc = d.dc;
    plan.walk = &walk;
    // Whole replicas on one node; once the job has all its replicas the
    // remaining nodes give nothing and are not walked.
    for (size_t i = 0; i < walk.size() && plan.replicas < c_.dp; ++i) {
      const NodeFree& n = d.nodes[walk[i]];
      if (n.memory_bytes >= max_need_) {
        // Every GPU holds every stage (the usual case): replicas in GPU order.
        const int take = std::min((int)n.gpus.size() / c_.pp, c_.dp - plan.replicas);
        for (int g = 0; g < take * c_.pp; ++g) plan.slots.push_back(Slot{n.node, n.gpus[g]});
        plan.replicas += take;
        plan.front.push_back(take * c_.pp);
        plan.used.emplace_back();
      } else {
        std::vector<bool> used(n.gpus.size(), false);
        while (plan.replicas < c_.dp && ReplicaOnNode(n, used, plan.slots)) plan.replicas++;
        plan.front.push_back(-1);
        plan.used.push_back(std::move(used));
      }
    }
    if (plan.replicas < c_.dp) {
      // Replicas spanning nodes: the fullest remainders first, fewest nodes.
      const std::vector<Slot> pool = Unused(d, plan);
      std::vector<bool> taken(pool.size(), false);
      size_t first = 0;
      while (plan.replicas < c_.dp && ReplicaFromPool(pool, taken, first, plan.slots)) plan.replicas++;
      std::vector<Slot> leftovers;
      for (size_t k = 0; k < pool.size(); ++k)
        if (!taken[k]) leftovers.push_back(pool[k]);
      plan.leftovers = std::move(leftovers);
    }
    plan.speed = std::numeric_limits<double>::infinity();
    for (const Slot& s : plan.slots) plan.speed = std::min(plan.speed, Tflops(s));
    return plan;
  }

  // The GPUs of `d` that no whole-node replica of `plan` took: nodes with
  // the most left first (in walk order on a tie), each node's in order.
  std::vector<Slot> Unused(const DcFree& d, const DcPlan& plan) const {
    const std::vector<int>& walk = *plan.walk;
    auto is_used = [&](size_t i, size_t g) {
      if (i >= plan.front.size()) return false;
      return plan.front[i] >= 0 ? (int)g < plan.front[i] : (bool)plan.used[i][g];
    };
    std::vector<int> left(walk.size());
    for (size_t i = 0; i < walk.size(); ++i) {
      const size_t size = d.nodes[walk[i]].gpus.size();
      left[i] = (int)size;
      for (size_t g = 0; g < size && i < plan.front.size(); ++g) left[i] -= is_used(i, g);
    }
    std::vector<size_t> rest(walk.size());
    std::iota(rest.begin(), rest.end(), 0);
    std::stable_sort(rest.begin(), rest.end(), [&](size_t a, size_t b) { return left[a] > left[b]; });
    std::vector<Slot> pool;
    for (size_t i : rest) {
      const NodeFree& n = d.nodes[walk[i]];
      for (size_t g = 0; g < n.gpus.size(); ++g)
        if (!is_used(i, g)) pool.push_back(Slot{n.node, n.gpus[g]});
    }
    return pool;
  }

  const std::vector<Slot>& Leftovers(const DcPlan& plan) const {
    if (!plan.leftovers) {
      const auto d = std::find_if(dcs_.begin(), dcs_.end(), [&](const DcFree& x) { return x.dc == plan.dc; });
      plan.leftovers = Unused(*d, plan);
    }
    return *plan.leftovers;
  }

  std::vector<DcPlan> Plans(NodeOrder order) const {
    std::vector<DcPlan> plans;
    for (const DcFree& d : dcs_) plans.push_back(Plan(d, order));
    return plans;
  }

  // Orders of the data centers to take replicas from; each a permutation.
  void TryOrders(const std::vector<DcPlan>& plans) {
    const int n = (int)plans.size();
    std::vector<int> by_room(n);
    std::iota(by_room.begin(), by_room.end(), 0);
    auto room_first = [&](int a, int b) {
      if (plans[a].replicas != plans[b].replicas) return plans[a].replicas > plans[b].replicas;
      if (plans[a].speed != plans[b].speed) return plans[a].speed > plans[b].speed;
      return plans[a].dc < plans[b].dc;
    };
    std::sort(by_room.begin(), by_room.end(), room_first);
    std::vector<int> by_speed = by_room;
    std::stable_sort(by_speed.begin(), by_speed.end(), [&](int a, int b) {
      const double sa = plans[a].replicas > 0 ? plans[a].speed : 0, sb = plans[b].replicas > 0 ? plans[b].speed : 0;
      return sa > sb;
    });
    std::set<std::vector<int>> tried;
    auto attempt = [&](const std::vector<int>& order) {
      // Only the data centers the job reaches tell two orders apart.
      std::vector<int> used;
      int replicas = 0;
      for (int i : order) {
        if (replicas >= c_.dp) break;
        if (plans[i].replicas == 0) continue;
        used.push_back(i);
        replicas += plans[i].replicas;
      }
      if (replicas < c_.dp) used = order;
      if (!tried.insert(used).second) return;
      TryCandidate(Assemble(plans, order));
    };
    attempt(by_room);
    attempt(by_speed);
    std::vector<int> seeds(by_room.begin(), by_room.begin() + std::min(n, kSeeds));
    if (n > 0 && std::find(seeds.begin(), seeds.end(), by_speed.front()) == seeds.end()) seeds.push_back(by_speed.front());
    for (int seed : seeds) {
      if (plans[seed].replicas == 0) continue;
      attempt(LinkAwareOrder(plans, by_room, seed));
    }
    TryCandidate(Fastest(plans, by_room));
  }

  // The fastest replicas wherever they are (data centers in room order on
  // a tie, the stable sort keeps it): worth a slower link when the GPUs
  // differ enough.
  std::optional<std::vector<Slot>> Fastest(const std::vector<DcPlan>& plans, const std::vector<int>& by_room) const {
    struct Replica {
      double speed;       // its slowest GPU
      const Slot* slots;  // pp of them
    };
    std::vector<Replica> all;
    for (int i : by_room) {
      for (int r = 0; r < plans[i].replicas; ++r) {
        const Slot* first = &plans[i].slots[(size_t)r * c_.pp];
        double speed = std::numeric_limits<double>::infinity();
        for (int s = 0; s < c_.pp; ++s) speed = std::min(speed, Tflops(first[s]));
        all.push_back(Replica{speed, first});
      }
    }
    if ((int)all.size() < c_.dp) return std::nullopt;  // the orders above cover straddling
    const auto [slowest, fastest] = std::minmax_element(
        all.begin(), all.end(), [](const Replica& a, const Replica& b) { return a.speed < b.speed; });
    if (slowest->speed == fastest->speed) return std::nullopt;  // room order already took them
    std::stable_sort(all.begin(), all.end(), [](const Replica& a, const Replica& b) { return a.speed > b.speed; });
    std::vector<Slot> slots;
    for (int d = 0; d < c_.dp; ++d) slots.insert(slots.end(), all[d].slots, all[d].slots + c_.pp);
    return slots;
  }

  // From `seed`, add the data center best linked to those chosen (its
  // slowest link to any of them), until the replicas suffice.
  std::vector<int> LinkAwareOrder(const std::vector<DcPlan>& plans, const std::vector<int>& by_room, int seed) const {
    const int n = (int)plans.size();
    std::vector<int> order{seed};
    std::vector<bool> in(n, false);
    in[seed] = true;
    std::vector<double> worst(n, std::numeric_limits<double>::infinity());  // slowest link to the chosen
    int replicas = plans[seed].replicas;
    int last = seed;
    while (replicas < c_.dp && (int)order.size() < n) {
      int pick = -1;
      for (int i : by_room) {  // room order breaks ties
        if (in[i]) continue;
        worst[i] = std::min(worst[i], c_.index.InterDcGbps(plans[i].dc, plans[last].dc));
        if (plans[i].replicas > 0 && (pick < 0 || worst[i] > worst[pick])) pick = i;
      }
      if (pick < 0) break;
      order.push_back(pick);
      in[pick] = true;
      replicas += plans[pick].replicas;
      last = pick;
    }
    for (int i : by_room)
      if (!in[i]) order.push_back(i);
    return order;
  }

  std::optional<std::vector<Slot>> Assemble(const std::vector<DcPlan>& plans, const std::vector<int>& order) const {
    std::vector<Slot> slots;
    slots.reserve((size_t)c_.dp * c_.pp);
    int replicas = 0;
    for (int i : order) {
      const int take = std::min(plans[i].replicas, c_.dp - replicas);
      slots.insert(slots.end(), plans[i].slots.begin(), plans[i].slots.begin() + (size_t)take * c_.pp);
      replicas += take;
    }
    if (replicas < c_.dp) {
      // No data center holds the rest: replicas straddle data centers,
      // walking the leftovers in the same order.
      std::vector<Slot> pool;
      for (int i : order) {
        const std::vector<Slot>& leftovers = Leftovers(plans[i]);
        pool.insert(pool.end(), leftovers.begin(), leftovers.end());
      }
      std::vector<bool> taken(pool.size(), false);
      size_t first = 0;
      while (replicas < c_.dp && ReplicaFromPool(pool, taken, first, slots)) replicas++;
      if (replicas < c_.dp) return std::nullopt;
    }
    return slots;
  }

  // Every rank on the smallest GPU that holds its stage, largest stages
  // first: always succeeds when the job fits by memory.
  std::optional<std::vector<Slot>> MatchByMemory() const {
    std::multimap<double, Slot> gpus;  // memory -> GPU, in data center and name order within a size
    for (const DcFree& d : dcs_)
      for (const NodeFree& n : d.nodes)
        for (int g : n.gpus) gpus.emplace(c_.index.node(n.node).gpus[g].memory_gb * kBytesPerGb, Slot{n.node, g});
    std::vector<int> ranks(c_.dp * c_.pp);
    std::iota(ranks.begin(), ranks.end(), 0);
    std::stable_sort(ranks.begin(), ranks.end(), [&](int a, int b) {
      return c_.stages[a % c_.pp].memory_bytes > c_.stages[b % c_.pp].memory_bytes;
    });
    std::vector<Slot> slots(ranks.size());
    for (int r : ranks) {
      auto it = gpus.lower_bound(c_.stages[r % c_.pp].memory_bytes);
      if (it == gpus.end()) return std::nullopt;
      slots[r] = it->second;
      gpus.erase(it);
    }
    return slots;
  }

  // A candidate and its rearrangements over the same GPUs: heavier stages
  // on faster GPUs inside each replica, and stage-major order inside each
  // data center (stage s of its replicas side by side, so each DP group
  // shares nodes and the pipeline hops cross the fabric instead), plain and
  // with the heaviest stages on the fastest GPUs.
  void TryCandidate(std::optional<std::vector<Slot>> slots) {
    if (!slots) return;
    Consider(*slots);
    Consider(Rearranged(*slots, false, true));
    Consider(Rearranged(*slots, true, false));
    Consider(Rearranged(*slots, true, true));
  }

  // Rearranges the GPUs of each group of replicas (one replica, or all the
  // replicas whose first stage is in one data center when `stage_major`).
  // Groups whose rearrangement would not fit by memory stay as they were.
  std::vector<Slot> Rearranged(const std::vector<Slot>& slots, bool stage_major, bool by_speed) const {
    const int pp = c_.pp;
    std::vector<std::vector<int>> groups;  // replica indices
    if (stage_major) {
      std::map<int, int> group_of_dc;
      for (int d = 0; d < c_.dp; ++d) {
        auto [it, added] = group_of_dc.emplace(c_.index.DcOf(slots[(size_t)d * pp].node), (int)groups.size());
        if (added) groups.emplace_back();
        groups[it->second].push_back(d);
      }
    } else {
      for (int d = 0; d < c_.dp; ++d) groups.push_back({d});
    }
    std::vector<int> stage_order(pp);
    std::iota(stage_order.begin(), stage_order.end(), 0);
    if (by_speed) {
      std::stable_sort(stage_order.begin(), stage_order.end(), [&](int a, int b) {
        return c_.stages[a].flops_per_microbatch > c_.stages[b].flops_per_microbatch;
      });
    }
    std::vector<Slot> out = slots;
    for (const std::vector<int>& g : groups) {
      const size_t k = g.size();
      std::vector<Slot> gpus;
      for (int d : g) gpus.insert(gpus.end(), slots.begin() + (size_t)d * pp, slots.begin() + (size_t)(d + 1) * pp);
      if (by_speed) std::stable_sort(gpus.begin(), gpus.end(), [&](Slot a, Slot b) { return Tflops(a) > Tflops(b); });
      // The j-th stage in stage order takes GPUs [j*k, (j+1)*k), one per replica.
      std::vector<Slot> next(k * pp);
      bool fits = true;
      for (int j = 0; j < pp && fits; ++j) {
        for (size_t i = 0; i < k && fits; ++i) {
          const Slot gpu = stage_major ? gpus[j * k + i] : gpus[i * pp + j];
          next[i * pp + stage_order[j]] = gpu;
          fits = Holds(gpu, stage_order[j]);
        }
      }
      if (!fits) continue;
      for (size_t i = 0; i < k; ++i) std::copy(next.begin() + i * pp, next.begin() + (i + 1) * pp, out.begin() + (size_t)g[i] * pp);
    }
    return out;
  }

  void Consider(const std::vector<Slot>& slots) {
    if (!tried_slots_.insert(slots).second) return;  // rearrangements often change nothing
    const double t = PriceSlots(c_.index, c_.job, c_.dp, c_.pp, c_.stages, slots).total();
    if (best_.empty() || t < best_time_) {
      best_ = slots;
      best_time_ = t;
    }
  }

  // Moves of GPUs between ranks, each kept while it lowers the price
  // (first improvement, a few passes): what the constructions above miss
  // where links differ a lot, e.g. replicas straddling a fast link so that
  // each stage's DP group crosses fewer data centers, with the smaller
  // stage's group on the slowest link. Two moves: two stages trade their
  // GPUs in every replica at once, and two ranks trade theirs. A pass
  // prices every pair of ranks, so only small jobs.
  void ImproveBySwaps() {
    const int n = c_.dp * c_.pp;
    if (n > kMaxSwapRanks) return;
    auto keep_if_cheaper = [&](const std::vector<std::pair<int, int>>& swaps) {
      for (const auto& [i, j] : swaps)
        if (!Holds(best_[j], i % c_.pp) || !Holds(best_[i], j % c_.pp)) return false;
      for (const auto& [i, j] : swaps) std::swap(best_[i], best_[j]);
      const double t = PriceSlots(c_.index, c_.job, c_.dp, c_.pp, c_.stages, best_).total();
      if (t < best_time_ * (1 - 1e-12)) {
        best_time_ = t;
        return true;
      }
      for (const auto& [i, j] : swaps) std::swap(best_[i], best_[j]);
      return false;
    };
    bool improved = true;
    for (int pass = 0; pass < kMaxSwapPasses && improved; ++pass) {
      improved = false;
      for (int a = 0; a < c_.pp; ++a) {
        for (int b = a + 1; b < c_.pp; ++b) {
          std::vector<std::pair<int, int>> swaps;
          for (int d = 0; d < c_.dp; ++d) swaps.emplace_back(d * c_.pp + a, d * c_.pp + b);
          improved |= keep_if_cheaper(swaps);
        }
      }
      for (int i = 0; i < n; ++i)
        for (int j = i + 1; j < n; ++j)
          // Two equally fast GPUs of one node share its links: no change.
          if (best_[i].node != best_[j].node || Tflops(best_[i]) != Tflops(best_[j]))
            improved |= keep_if_cheaper({{i, j}});
    }
  }

  const LayoutContext& c_;
  const std::vector<DcFree>& dcs_;
  const bool mixed_;
  double max_need_ = 0;  // the largest stage's memory
  std::vector<Slot> best_;
  double best_time_ = 0;
  std::set<std::vector<Slot>> tried_slots_;
};

// Alive nodes with free GPUs, grouped by data center (both in name order).
FreeByDc GroupByDataCenter(const ClusterIndex& index, const FreeGpus& free) {
  std::vector<DcFree> dcs(index.num_dcs());
  for (int dc = 0; dc < index.num_dcs(); ++dc) dcs[dc].dc = dc;
  int rank = 0;
  for (int id : index.NodesByName()) {
    const int position = rank++;
    const std::span<const int> gpus = free.OnNode(id);
    if (gpus.empty()) continue;
    NodeFree n;
    n.node = id;
    n.name_rank = position;
    n.gpus = gpus;
    n.speed = std::numeric_limits<double>::infinity();
    n.memory_bytes = std::numeric_limits<double>::infinity();
    for (int g : n.gpus) {
      n.speed = std::min(n.speed, index.node(id).gpus[g].tflops);
      n.memory_bytes = std::min(n.memory_bytes, index.node(id).gpus[g].memory_gb * kBytesPerGb);
    }
    dcs[index.DcOf(id)].nodes.push_back(n);
  }
  FreeByDc out;
  for (DcFree& d : dcs) {
    if (d.nodes.empty()) continue;
    for (const NodeFree& n : d.nodes) out.mixed = out.mixed || n.speed != d.nodes.front().speed;
    out.dcs.push_back(std::move(d));
  }
  for (DcFree& d : out.dcs) {
    auto order = [&](bool speed_first) {
      std::vector<int> walk(d.nodes.size());
      std::iota(walk.begin(), walk.end(), 0);
      std::sort(walk.begin(), walk.end(), [&](int i, int j) {
        const NodeFree &a = d.nodes[i], &b = d.nodes[j];
        if (speed_first && a.speed != b.speed) return a.speed > b.speed;
        if (a.gpus.size() != b.gpus.size()) return a.gpus.size() > b.gpus.size();
        if (a.speed != b.speed) return a.speed > b.speed;
        return a.name_rank < b.name_rank;
      });
      return walk;
    };
    d.by_free = order(false);
    if (out.mixed) d.by_speed = order(true);
  }
  return out;
}

// The topology-aware placer of one search; the free GPUs by data center
// are the same for every layout: grouped once.
LayoutPlacer TopologyAware() {
  return [dcs = std::optional<FreeByDc>()](const LayoutContext& ctx) mutable -> Result<std::vector<Slot>> {
    if (!dcs) dcs = GroupByDataCenter(ctx.index, ctx.free);
    return Engine(ctx, *dcs).Place();
  };
}

}  // namespace

Result<Placement> PlaceJob(const Topology& topo, const Occupancy& occupied, const JobRequest& job) {
  return PlaceOverLayouts(topo, occupied, job, TopologyAware());
}

Result<Placement> PlaceJobIndexed(const TopologyIndex& topology, const Occupancy& occupied, const JobRequest& job,
                                  const Occupancy* also) {
  return PlaceOverLayouts(topology, occupied, also, job, TopologyAware());
}

Result<Placement> PlaceJobIndexed(const TakenGpus& held, const JobRequest& job, const Occupancy* also) {
  return PlaceOverLayouts(held.topology(), held.Free(also), job, TopologyAware());
}

}  // namespace meridian::scheduler
