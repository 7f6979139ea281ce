// DiLoCo's outer round when each data center runs as its own world: the
// leader's part of it over the WanExchange, the token-weighted average of
// what arrived, and joining a running job from a live world's state.
#include <algorithm>
#include <cstring>
#include <string>

#include "common/log.h"
#include "runtime/parallel/diloco.h"
#include "runtime/parallel/diloco_internal.h"

namespace meridian {

using diloco_detail::GatherRanges;
using diloco_detail::ScatterRanges;
using diloco_detail::ShareInDataCenter;

namespace {

std::vector<uint8_t> AsBytes(const std::vector<float>& a, const std::vector<float>& b) {
  std::vector<uint8_t> out((a.size() + b.size()) * sizeof(float));
  std::memcpy(out.data(), a.data(), a.size() * sizeof(float));
  std::memcpy(out.data() + a.size() * sizeof(float), b.data(), b.size() * sizeof(float));
  return out;
}

}  // namespace

Status DilocoOuterOptimizer::PostToWorlds(Fragment& f, long step, TrafficCounter* traffic) {
  WanExchange* wan = config_.wan;
  const size_t m = f.count;
  std::vector<float> start(m), momentum(m);
  GatherRanges(f.ranges, start_.data(), start.data());
  GatherRanges(f.ranges, momentum_.data(), momentum.data());
  WanContribution c;
  // The round began where the last one ended, or where this world joined.
  c.tokens = (double)round_steps_ * config_.tokens_per_step;
  round_steps_ = 0;
  c.start_digest = DigestFloats(start.data(), m);
  c.gradient = f.send;
  // After a round that lacked a world (its loss, or a link's), the outer
  // weights may have drifted apart: the state goes along, so every world
  // can start the next round from the same weights.
  if (!wan->last_round_clean() || worlds_drifted_) c.state = AsBytes(start, momentum);
  const double bytes = (double)(c.gradient.size() + c.state.size());
  // The live worlds' newest round, where they are ahead of this one.
  // Strict rounds are numbered by the job's schedule (the round that ends
  // at step kH is k-1), so a world that joined mid-run numbers them as
  // the others do whatever it heard when it joined.
  const long round = config_.strict ? step / config_.inner_steps - 1
                                    : std::max(next_round_.load(), wan->highest_peer_round());
  next_round_ = round + 1;
  f.round = wan->Post(round, std::move(c));
  traffic->SentToWorlds(bytes * std::max<size_t>(1, wan->options().peers.size() - 1));
  return Status::OK();
}

Result<bool> DilocoOuterOptimizer::WorldRoundEnds(long step, const ProcessGroups& g) {
  double ends = 0.0;
  if (g.dp_intra_dc->rank() == 0) {
    // Strict: on the job's schedule (every H steps from step 0, also for a
    // world that joined in between), whatever the peers do.
    const bool due = config_.strict ? RoundEnds(step) : step - round_begin_step_ >= config_.inner_steps;
    const bool peers_ended = !config_.strict && config_.wan != nullptr &&
                             config_.wan->highest_peer_round() >= next_round_;
    ends = due || peers_ended ? 1.0 : 0.0;
  }
  MERIDIAN_RETURN_IF_ERROR(g.dp_intra_dc->AllReduceDouble(&ends, 1, ReduceOp::kSum));
  if (ends == 0.0) return false;
  // The steps it trained go with its next part (rounds that end while the
  // link is down all go with the part that leaves once it is up).
  round_steps_ += step - round_begin_step_;
  round_begin_step_ = step;
  return true;
}

void DilocoOuterOptimizer::AverageWorlds(Fragment& f) {
  WanExchange* wan = config_.wan;
  const size_t m = f.count;
  std::vector<WanContribution> parts = f.round->TakeContributions();
  if (config_.strict && parts.size() < wan->options().peers.size()) {
    std::string missing;
    for (int w = 0; w < (int)wan->options().peers.size(); ++w)
      if (std::none_of(parts.begin(), parts.end(), [w](const WanContribution& c) { return c.world == w; }))
        missing += (missing.empty() ? "" : ", ") + std::to_string(w);
    Logger("wan")->warn("strict round {}: world(s) {} not reached or not heard from within the wait timeout; "
                        "the round goes on without them", f.round->round(), missing);
  }
  std::vector<float> start(m), momentum(m);
  GatherRanges(f.ranges, start_.data(), start.data());
  GatherRanges(f.ranges, momentum_.data(), momentum.data());
  const uint64_t mine = DigestFloats(start.data(), m);
  // Which parts can be used: those that started from our weights, and
  // those that carry the weights they started from.
  std::vector<const WanContribution*> used;
  bool drifted = false;
  for (const WanContribution& c : parts) {
    if (c.gradient.empty()) continue;  // a world that joined as the round ended: nothing to add
    if (c.start_digest == mine) {
      used.push_back(&c);
    } else if (c.state.size() == 2 * m * sizeof(float)) {
      used.push_back(&c);
      drifted = true;
    } else {
      Logger("wan")->warn("world {}'s pseudo-gradient started from other outer weights and came without them: "
                          "left out of this round (the next one carries them)", c.world);
    }
  }
  double total = 0.0;
  for (const WanContribution* c : used) total += c->tokens;
  const bool equal = !(total > 0.0);
  // Parts in world order, so every world sums in the same order and the
  // worlds that saw the same parts hold the same bits.
  scratch_.assign(m, 0.0f);
  if (drifted) f.resync_state.assign(2 * m, 0.0f);
  for (const WanContribution* c : used) {
    const float weight = equal ? 1.0f / (float)used.size() : (float)(c->tokens / total);
    DecompressAdd(config_.compress, c->gradient.data(), m, weight, scratch_.data());
    if (!drifted) continue;
    const float* their = c->start_digest == mine ? nullptr : reinterpret_cast<const float*>(c->state.data());
    for (size_t i = 0; i < m; ++i) {
      f.resync_state[i] += weight * (their ? their[i] : start[i]);
      f.resync_state[m + i] += weight * (their ? their[m + i] : momentum[i]);
    }
  }
  f.resync = drifted;
  // A part that started elsewhere means some world holds other weights:
  // until a round shows none, ours go along with every contribution.
  worlds_drifted_ = drifted || std::any_of(parts.begin(), parts.end(), [&](const WanContribution& c) {
                      return !c.gradient.empty() && std::find(used.begin(), used.end(), &c) == used.end();
                    });
  if (drifted)
    Logger("wan")->info("outer weights drifted apart; {} worlds agree on their token-weighted average again",
                        used.size());
}

void DilocoOuterOptimizer::PublishState() {
  if (config_.wan == nullptr) return;
  std::lock_guard<std::mutex> lock(published_mu_);
  published_.start = start_;
  published_.momentum = momentum_;
  published_.start_digest = DigestFloats(start_.data(), start_.size());
  outer_digest_ = published_.start_digest;
  config_.wan->SetStateProvider([this] {
    std::lock_guard<std::mutex> lock(published_mu_);
    WanState s = published_;
    s.step = current_step_;
    s.round = next_round_ - 1;
    return s;
  });
}

Status DilocoOuterOptimizer::AdoptOuterWeights(float* stage_params, StageMemory* memory) {
  MERIDIAN_RETURN_IF_ERROR(memory->FromHost(stage_params, start_.data(), start_.size()));
  return memory->WeightsChanged(stage_params, start_.size());
}

Status DilocoOuterOptimizer::JoinFromPeers(long* step, float* stage_params, const ProcessGroups& g,
                                           StageMemory* memory) {
  const size_t n = start_.size();
  // Whether the leader found a live world, that world's step and its last
  // round: the leader's word, shared in the data center.
  double header[3] = {0.0, 0.0, -1.0};
  std::vector<float> state(2 * n);
  if (g.dp_intra_dc->rank() == 0 && config_.wan != nullptr) {
    Result<WanState> fetched = config_.wan->FetchState();
    if (fetched.ok() && fetched->start.size() == n && fetched->momentum.size() == n) {
      header[0] = 1.0;
      header[1] = (double)fetched->step;
      header[2] = (double)fetched->round;
      std::copy(fetched->start.begin(), fetched->start.end(), state.begin());
      std::copy(fetched->momentum.begin(), fetched->momentum.end(), state.begin() + n);
    } else if (fetched.ok()) {
      Logger("wan")->warn("a live world's outer state holds {} values, this stage {}: not joined",
                          fetched->start.size(), n);
    }
  }
  MERIDIAN_RETURN_IF_ERROR(g.dp_intra_dc->AllReduceDouble(header, 3, ReduceOp::kSum));
  if (header[0] == 0.0) return Status::OK();
  MERIDIAN_RETURN_IF_ERROR(ShareInDataCenter(state.data(), 2 * n, g, memory));
  std::copy(state.begin(), state.begin() + n, start_.begin());
  std::copy(state.begin() + n, state.end(), momentum_.begin());
  std::fill(pending_.begin(), pending_.end(), 0.0f);
  start_restored_ = true;
  *step = (long)header[1];
  const long live_round = g.dp_intra_dc->rank() == 0 ? (long)header[2] : 0;
  round_begin_step_ = *step;
  round_steps_ = 0;
  current_step_ = *step;
  next_round_ = live_round + 1;
  for (Fragment& f : fragments_) {
    f.apply_step = -1;
    f.received = false;
    f.overdue = 0;
  }
  MERIDIAN_RETURN_IF_ERROR(memory->FromHost(stage_params, start_.data(), n));
  MERIDIAN_RETURN_IF_ERROR(memory->WeightsChanged(stage_params, n));
  if (g.dp_intra_dc->rank() == 0) {
    PublishState();
    // The live worlds' round in flight waits for our part; it has none: an
    // empty part (no tokens, no weight) lets it close.
    if (live_round >= 0) config_.wan->Post(live_round, WanContribution{});
  }
  return Status::OK();
}

}  // namespace meridian
