// DiLoCo-style synchronisation across data centers (Douillard et al.,
// 2023): each data center trains on its own for H inner steps (gradients
// averaged only inside it), then the data centers average their
// pseudo-gradients (start-of-round weights minus current weights) over the
// WAN and apply an outer Nesterov-momentum step. Only one leader per data
// center talks across the WAN; it shares the result inside its data center.
//
// Streaming DiLoCo (Douillard et al., 2025) splits the stage into fragments
// of layers, each with its own round staggered across the H steps, and
// lets a fragment's exchange run for `overlap_steps` (the paper's tau)
// inner steps before its result is mixed into the weights that trained on
// meanwhile. One fragment with overlap is the one-step-delay overlap of
// DiLoCoX: the WAN never stops computation. One fragment without overlap
// is plain DiLoCo, computed exactly as before.
//
// Elastic (one fragment, with overlap): an exchange that is not back by its
// due step does not stop training. The data center's ranks agree each step
// on whether its leader holds the result, go on with inner steps until it
// does, and the next round's exchange waits for it. A link that is down
// (outside a contact window, say) then only lengthens a round. Given the
// link's contact windows, a round's exchange also waits for a window to
// start in, so it crosses while the link is up instead of losing packets
// (and TCP's retransmission backoff) to a closed one.
//
// Each data center its own world (elastic, with a WanExchange): the leaders
// exchange over gRPC instead of a communicator that spans the data centers,
// so a world that is lost or cut off only drops out of the rounds it
// misses. The average weights each world's pseudo-gradient by the tokens it
// trained in the round; a round still out when the next one ends is closed
// with what arrived. Worlds whose outer weights drifted apart (a round one
// of them missed) send their outer state with the next contribution, and
// every world then starts from the token-weighted average of the states.
// Strict worlds (DilocoConfig::strict) trade that independence for
// determinism: each round waits for every live world's part.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "common/link_schedule.h"
#include "common/status.h"
#include "runtime/comm/communicator.h"
#include "runtime/model/parameter_layout.h"
#include "runtime/parallel/compression.h"
#include "runtime/parallel/process_groups.h"
#include "runtime/parallel/stage_memory.h"
#include "runtime/parallel/traffic_counter.h"
#include "runtime/parallel/wan_exchange.h"

namespace meridian {

struct DilocoConfig {
  int inner_steps = 50;        // H
  float outer_lr = 0.7f;       // DiLoCo paper defaults
  // Nesterov momentum; with sparse compression the decay of the error
  // feedback instead, which replaces the momentum (SparseLoCo).
  float outer_momentum = 0.9f;
  Compression compress = Compression::kNone;
  int fragments = 1;           // streaming: fragments of the stage's layers
  int overlap_steps = 0;       // tau: inner steps an exchange may take
  float mix = 0.5f;            // alpha: share of the local weights kept at mixing (tau > 0)
  bool elastic = false;        // a late exchange lets inner steps go on instead of blocking
  // Elastic: exchanges start only while the link between data centers is
  // up (with a quarter of a window left), by the leaders' clocks; after the
  // last of an explicit list of windows, never again (training goes on).
  LinkSchedule wan_window;
  // Each data center its own world: the leaders exchange over this (one
  // per stage leader, else null) instead of an inter-DC communicator, and
  // weight each world's pseudo-gradient by the tokens it trained.
  bool worlds = false;            // set on every rank of such a job
  WanExchange* wan = nullptr;     // on each stage's leader in its data center
  double tokens_per_step = 1.0;   // this world's, for its weight
  // Worlds, strict: rounds end every H steps exactly (never early because a
  // peer ended its own), and a round's result is applied only once every
  // world's part has arrived or could not (a world not reached or not
  // heard from within the exchange's wait timeout is left out). With every
  // world live the rounds, and so a whole job's resume from its worlds'
  // checkpoints, are deterministic.
  bool strict = false;
  bool streaming() const { return fragments > 1 || overlap_steps > 0; }
};

// Checks a configuration against the stage it would synchronise.
Status ValidateDiloco(const DilocoConfig& config, const StageSpec& stage);

// The stage buffer's ranges of each fragment: layer l of the stage goes to
// fragment l % F (strided, as the paper found slightly better than blocks),
// the embeddings to the first fragment and the final LayerNorm to the last.
// Adjacent ranges are merged, so one fragment is the whole buffer.
std::vector<std::vector<BufferRange>> DilocoFragments(const ParameterLayout& layout, int fragments);

class DilocoOuterOptimizer {
 public:
  // For a stage of n floats split into `fragments` (empty: one, the whole
  // buffer); StartRound before the first inner step.
  DilocoOuterOptimizer(size_t n, const DilocoConfig& config, std::vector<std::vector<BufferRange>> fragments = {});
  ~DilocoOuterOptimizer();

  // Every round starts from `params` (the initial weights), unless a
  // checkpoint restored the rounds' start (RestoredAt).
  void StartRound(const float* params);
  // After a checkpoint of step `step` filled round_start() and pending():
  // the exchanges that were in flight there are due as they were (elastic:
  // those with an average in pending(), after the next step).
  void RestoredAt(long step);

  // True after inner step `step` (1-based) where a round of the whole stage
  // ends: plain DiLoCo's outer step; where checkpoints are taken.
  bool RoundEnds(long step) const { return step % config_.inner_steps == 0; }

  // After inner step `step`: drives the exchanges in flight, mixes in those
  // due and starts those whose fragment's round ends. Collective over the
  // DP group's intra- and inter-DC groups; `background` (the leaders' own
  // communicator, used when exchanges overlap) carries the exchanges so
  // they never interleave with the training's collectives. The outer state
  // stays in host memory: a touched fragment's params (of a stage buffer
  // in `memory`) come to the host and go back on the steps that touch it.
  Status AfterStep(long step, float* params, const ProcessGroups& groups, Communicator* background,
                   TrafficCounter* traffic, StageMemory* memory = HostMemory());

  // Elastic: sends the rounds whose exchanges have waited (for a window, or
  // for the exchange before), one after another, so that every data center
  // has posted the same exchanges; before Drain at a checkpoint or the end.
  // After the last of an explicit list of windows it drops them instead:
  // they could never cross.
  Status Flush(long step, float* params, const ProcessGroups& groups, Communicator* background,
               TrafficCounter* traffic, StageMemory* memory = HostMemory());

  // Completes the exchanges in flight without mixing them in, and shares
  // their averages inside the data center, so pending() is a checkpoint's.
  Status Drain(const ProcessGroups& groups, StageMemory* memory = HostMemory());

  // State for checkpoints: rounds' start (the data centers' shared
  // weights), momentum, error feedback, averages not yet mixed in.
  std::vector<float>& round_start() { return start_; }
  std::vector<float>& momentum() { return momentum_; }
  std::vector<float>& error_feedback() { return error_; }
  const std::vector<float>& error_feedback() const { return error_; }
  std::vector<float>& pending() { return pending_; }
  const DilocoConfig& config() const { return config_; }
  // Outer steps this rank has applied (fragments' exchanges mixed in).
  long outer_steps() const { return outer_steps_; }

  // Each data center its own world, on a stage's leader: the digest of the
  // outer weights after the last outer step (worlds that agree hold equal
  // digests), and how many worlds the last round heard from.
  uint64_t outer_digest() const { return outer_digest_; }
  int round_worlds() const { return config_.wan ? config_.wan->last_round_worlds() : 1; }

  // Each data center its own world, at the run's end: the stage's weights
  // become the worlds' agreed outer weights (the job's model, the same in
  // every world that took the last rounds), not this world's local ones.
  Status AdoptOuterWeights(float* stage_params, StageMemory* memory = HostMemory());

  // Each data center its own world: a world that (re)joins takes the outer
  // weights and momentum of a live world and trains on from them, at that
  // world's step (returned in *step, else left alone: no world answered).
  // Collective over the data center's replicas of this stage.
  Status JoinFromPeers(long* step, float* stage_params, const ProcessGroups& groups,
                       StageMemory* memory = HostMemory());

 private:
  struct Fragment;
  bool SendsAfter(const Fragment& f, long step) const;
  // Elastic: whether the leader holds f's result, agreed in the data center.
  Result<bool> ExchangeBack(Fragment& f, const ProcessGroups& g);
  // Whether the link is up for an exchange now, agreed in the data center.
  Result<bool> WindowOpen(const ProcessGroups& g);
  // Whether the link will be up for an exchange now or later (false after
  // the last of an explicit list of windows), agreed in the data center.
  Result<bool> WindowsAhead(const ProcessGroups& g);
  // Sleeps until the link is up for an exchange (by this rank's clock);
  // returns at once when it never will be again.
  void WaitForWindow() const;
  Status Send(Fragment& f, long step, const float* params, const ProcessGroups& g, Communicator* across,
              TrafficCounter* traffic);
  Status Receive(Fragment& f, const ProcessGroups& g);
  Status Apply(Fragment& f, float* params, const ProcessGroups& g, TrafficCounter* traffic, StageMemory* memory);
  // Each data center its own world: posts the leader's contribution, and
  // turns the round's contributions into the token-weighted average.
  Status PostToWorlds(Fragment& f, long step, TrafficCounter* traffic);
  // Whether this world's round ends after `step`: H steps since it began,
  // or a live world has already ended it (this world then sends what it
  // trained so far, weighted by its tokens, so a slower world keeps pace
  // instead of holding the others back). Agreed in the data center.
  Result<bool> WorldRoundEnds(long step, const ProcessGroups& g);
  void AverageWorlds(Fragment& f);
  // The leader's outer state, served to a world that joins.
  void PublishState();

  DilocoConfig config_;
  std::vector<Fragment> fragments_;
  std::vector<float> start_, momentum_, error_, pending_;
  std::vector<float> host_params_;  // the touched fragments' weights during an outer step, at stage offsets
  std::vector<float> scratch_;      // one fragment's values, contiguous
  bool start_restored_ = false;
  long outer_steps_ = 0;
  // Each data center its own world.
  long round_begin_step_ = 0;         // where this world's current round began
  long round_steps_ = 0;              // steps trained in rounds whose part has not left yet
  std::atomic<long> next_round_{0};   // the number its next round's part goes out with
  bool round_ends_now_ = false;       // WorldRoundEnds of this step
  bool worlds_drifted_ = false;       // the last round held parts from other outer weights
  uint64_t outer_digest_ = 0;
  std::atomic<long> current_step_{0};  // read by the exchange's server threads
  std::mutex published_mu_;
  WanState published_;
};

// Hierarchical all-reduce (average over the whole DP group): average inside
// each data center, sum across one leader per data center (weighted by its
// size), broadcast back inside. The same result as a flat all-reduce with
// one WAN crossing per data center instead of one per ring edge.
// `data` (n floats in `memory`) must already hold the intra-data-center
// average.
Status HierarchicalFinish(float* data, size_t n, const ProcessGroups& groups, int dp_size, TrafficCounter* traffic,
                          StageMemory* memory = HostMemory());

}  // namespace meridian
