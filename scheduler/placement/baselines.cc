#include "scheduler/placement/baselines.h"

#include <algorithm>
#include <random>
#include <tuple>

#include "scheduler/placement/layout_search.h"
#include "scheduler/placement/taken_gpus.h"

namespace meridian::scheduler {

namespace {

// Leaves the exhaustive search may price before it gives up.
constexpr long long kMaxAssignments = 5'000'000;

bool Holds(const LayoutContext& c, Slot s, int stage) {
  return c.index.node(s.node).gpus[s.gpu].memory_gb * kBytesPerGb >= c.stages[stage].memory_bytes;
}

// Free GPUs in node-name order.
std::vector<Slot> FreeSlots(const LayoutContext& c) {
  std::vector<Slot> out;
  for (int id : c.index.NodesByName())
    for (int g : c.free.OnNode(id)) out.push_back(Slot{id, g});
  return out;
}

Status NoRoom(const char* who, int rank) {
  return Status::Unavailable(std::string(who) + ": no free GPU left that holds rank " + std::to_string(rank) + "'s stage");
}

// Each rank in turn on the first unused slot of `pool` that holds its stage.
Result<std::vector<Slot>> TakeInOrder(const LayoutContext& c, const std::vector<Slot>& pool, const char* who) {
  std::vector<bool> used(pool.size(), false);
  std::vector<size_t> from(c.pp, 0);  // a stage's search resumes where its last rank's ended
  std::vector<Slot> slots;
  for (int r = 0; r < c.dp * c.pp; ++r) {
    const int stage = r % c.pp;
    size_t& k = from[stage];
    while (k < pool.size() && (used[k] || !Holds(c, pool[k], stage))) ++k;
    if (k == pool.size()) return NoRoom(who, r);
    used[k] = true;
    slots.push_back(pool[k]);
  }
  return slots;
}

// Depth-first over ranks; a rank picks a class of identical GPUs (same
// node, same spec) and takes its next unused one.
class Exhaustive {
 public:
  explicit Exhaustive(const LayoutContext& c) : c_(c) {
    for (int id : c.index.NodesByName()) {
      for (int g : c.free.OnNode(id)) {
        const Gpu& gpu = c.index.node(id).gpus[g];
        if (!classes_.empty()) {
          Class& last = classes_.back();
          const Gpu& ref = c.index.node(last.node).gpus[last.gpus.front()];
          if (last.node == id && ref.memory_gb == gpu.memory_gb && ref.tflops == gpu.tflops && ref.model == gpu.model) {
            last.gpus.push_back(g);
            continue;
          }
        }
        classes_.push_back(Class{id, {g}, 0});
      }
    }
    slots_.resize((size_t)c.dp * c.pp);
    first_class_.assign(c.dp, 0);
  }

  Result<std::vector<Slot>> Run() {
    Search(0);
    if (leaves_ > kMaxAssignments)
      return Status::FailedPrecondition("exhaustive placement: more than " + std::to_string(kMaxAssignments) +
                                        " assignments to price; the cluster is too big");
    if (best_.empty()) return Status::Unavailable("exhaustive placement: no assignment holds every stage");
    return best_;
  }

 private:
  struct Class {
    int node;
    std::vector<int> gpus;
    int next;
  };

  void Search(int rank) {
    if (leaves_ > kMaxAssignments) return;
    if (rank == c_.dp * c_.pp) {
      ++leaves_;
      const double t = PriceSlots(c_.index, c_.job, c_.dp, c_.pp, c_.stages, slots_).total();
      if (best_.empty() || t < best_time_) {
        best_ = slots_;
        best_time_ = t;
      }
      return;
    }
    const int d = rank / c_.pp, s = rank % c_.pp;
    // Replicas are interchangeable: only orders where each replica's first
    // stage sits in a class no earlier than the previous replica's.
    const size_t from = (s == 0 && d > 0) ? (size_t)first_class_[d - 1] : 0;
    for (size_t k = from; k < classes_.size(); ++k) {
      Class& cl = classes_[k];
      if (cl.next == (int)cl.gpus.size()) continue;
      const Slot slot{cl.node, cl.gpus[cl.next]};
      if (!Holds(c_, slot, s)) continue;
      slots_[rank] = slot;
      if (s == 0) first_class_[d] = (int)k;
      cl.next++;
      Search(rank + 1);
      cl.next--;
    }
  }

  const LayoutContext& c_;
  std::vector<Class> classes_;
  std::vector<Slot> slots_, best_;
  std::vector<int> first_class_;
  double best_time_ = 0;
  long long leaves_ = 0;
};

Result<std::vector<Slot>> FirstFit(const LayoutContext& c) { return TakeInOrder(c, FreeSlots(c), "first-fit placement"); }

}  // namespace

Result<Placement> FirstFitPlacement(const Topology& topo, const Occupancy& occupied, const JobRequest& job) {
  return PlaceOverLayouts(topo, occupied, job, FirstFit);
}

Result<Placement> FirstFitPlacementIndexed(const TopologyIndex& topology, const Occupancy& occupied,
                                           const JobRequest& job, const Occupancy* also) {
  return PlaceOverLayouts(topology, occupied, also, job, FirstFit);
}

Result<Placement> FirstFitPlacementIndexed(const TakenGpus& held, const JobRequest& job, const Occupancy* also) {
  return PlaceOverLayouts(held.topology(), held.Free(also), job, FirstFit);
}

Result<Placement> RoundRobinPlacement(const Topology& topo, const Occupancy& occupied, const JobRequest& job) {
  return PlaceOverLayouts(topo, occupied, job, [](const LayoutContext& c) -> Result<std::vector<Slot>> {
    std::vector<int> nodes;
    for (int id : c.index.NodesByName())
      if (!c.free.OnNode(id).empty()) nodes.push_back(id);
    std::vector<std::vector<bool>> used(c.index.num_nodes());
    for (int id : nodes) used[id].assign(c.free.OnNode(id).size(), false);
    std::vector<Slot> slots;
    size_t next = 0;
    for (int r = 0; r < c.dp * c.pp; ++r) {
      bool placed = false;
      for (size_t tries = 0; tries < nodes.size() && !placed; ++tries) {
        const int id = nodes[next];
        next = (next + 1) % nodes.size();
        for (size_t k = 0; k < used[id].size() && !placed; ++k) {
          const Slot s{id, c.free.OnNode(id)[k]};
          if (used[id][k] || !Holds(c, s, r % c.pp)) continue;
          used[id][k] = true;
          slots.push_back(s);
          placed = true;
        }
      }
      if (!placed) return NoRoom("round-robin placement", r);
    }
    return slots;
  });
}

Result<Placement> RandomPlacement(const Topology& topo, const Occupancy& occupied, const JobRequest& job,
                                  uint64_t seed) {
  return PlaceOverLayouts(topo, occupied, job, [seed](const LayoutContext& c) -> Result<std::vector<Slot>> {
    std::vector<Slot> pool = FreeSlots(c);
    std::mt19937_64 rng(seed);
    // Fisher-Yates by hand: std::shuffle's order differs between libraries.
    for (size_t i = pool.size(); i > 1; --i) std::swap(pool[i - 1], pool[rng() % i]);
    return TakeInOrder(c, pool, "random placement");
  });
}

Result<Placement> ExhaustivePlacement(const Topology& topo, const Occupancy& occupied, const JobRequest& job,
                                      int max_free_gpus) {
  return PlaceOverLayouts(topo, occupied, job, [max_free_gpus](const LayoutContext& c) -> Result<std::vector<Slot>> {
    if (c.free.total > max_free_gpus) {
      return Status::FailedPrecondition("exhaustive placement: " + std::to_string(c.free.total) +
                                        " free GPUs, more than the " + std::to_string(max_free_gpus) + " it searches");
    }
    return Exhaustive(c).Run();
  });
}

}  // namespace meridian::scheduler
