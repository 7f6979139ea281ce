#include "runtime/parallel/diloco.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>
#include <thread>

#include "runtime/parallel/diloco_internal.h"

namespace meridian {

using diloco_detail::GatherRanges;
using diloco_detail::ScatterRanges;
using diloco_detail::ShareInDataCenter;


namespace {

Status Bad(const std::string& field, const std::string& value, const std::string& why) {
  return Status::InvalidArgument("diloco: " + field + " = " + value + " " + why);
}

}  // namespace

Status ValidateDiloco(const DilocoConfig& c, const StageSpec& stage) {
  const std::string h = std::to_string(c.inner_steps);
  if (c.inner_steps < 1) return Bad("diloco-h", h, "must be >= 1");
  if (c.fragments < 1 || c.fragments > c.inner_steps)
    return Bad("diloco-fragments", std::to_string(c.fragments), "must be between 1 and diloco-h (" + h + ")");
  if (c.fragments > std::max(1, stage.num_layers()))
    return Bad("diloco-fragments", std::to_string(c.fragments),
               "exceeds the stage's " + std::to_string(stage.num_layers()) + " layers (a fragment is a set of layers)");
  if (c.overlap_steps < 0 || c.overlap_steps >= c.inner_steps)
    return Bad("diloco-overlap", std::to_string(c.overlap_steps),
               "must be >= 0 and below diloco-h (" + h + "): one exchange per fragment in flight");
  if (!(c.mix >= 0.0f && c.mix <= 1.0f)) return Bad("diloco-mix", std::to_string(c.mix), "must be within [0, 1]");
  // Fragments share the leaders' background communicator, where exchanges
  // match by the order they are posted in: late ones would reorder them.
  if (c.elastic && (c.overlap_steps < 1 || c.fragments != 1))
    return Bad("diloco-elastic", "on", "needs --diloco-overlap >= 1 and one fragment");
  if (!c.wan_window.always_up() && !c.elastic) return Bad("wan-window", c.wan_window.Describe(), "needs --diloco-elastic");
  // A world's rounds close when the next one ends, whatever has arrived:
  // only elastic training goes on while they are out.
  if (c.worlds && !c.elastic) return Bad("wan-peers", "set", "needs --diloco-elastic");
  if (c.strict && !c.worlds) return Bad("wan-strict", "on", "needs --wan-world");
  return Status::OK();
}

std::vector<std::vector<BufferRange>> DilocoFragments(const ParameterLayout& layout, int fragments) {
  std::vector<std::vector<BufferRange>> out(std::max(1, fragments));
  auto add = [&](int f, size_t offset, size_t count) {
    if (count == 0) return;
    std::vector<BufferRange>& ranges = out[f];
    if (!ranges.empty() && ranges.back().offset + ranges.back().count == offset)
      ranges.back().count += count;
    else
      ranges.push_back({offset, count});
  };
  const int last = (int)out.size() - 1;
  for (int t = 0; t < kNumParamTensors; ++t) {
    const ParamTensorInfo& info = layout.tensor(t);
    if (t == kWte || t == kWpe) {
      add(0, info.offset, info.count);
    } else if (t == kLnfw || t == kLnfb || t == kLmHead) {
      add(last, info.offset, info.count);
    } else {
      for (int l = 0; l < layout.stage().num_layers(); ++l)
        add(l % (int)out.size(), layout.LayerOffset(t, l), layout.LayerCount(t));
    }
  }
  return out;
}

DilocoOuterOptimizer::DilocoOuterOptimizer(size_t n, const DilocoConfig& config,
                                           std::vector<std::vector<BufferRange>> fragments)
    : config_(config), start_(n, 0.0f), momentum_(n, 0.0f) {
  if (UsesErrorFeedback(config.compress)) error_.assign(n, 0.0f);
  if (config.streaming()) pending_.assign(n, 0.0f);
  if (fragments.empty()) fragments.push_back({{0, n}});
  const int h = config_.inner_steps, count = (int)fragments.size();
  for (int i = 0; i < count; ++i) {
    Fragment f;
    f.ranges = std::move(fragments[i]);
    for (const BufferRange& r : f.ranges) f.count += r.count;
    // Staggered evenly over the round; the last fragment's rounds end
    // where plain DiLoCo's do.
    f.offset = (int)((long)(i + 1) * h / count % h);
    fragments_.push_back(std::move(f));
  }
}

DilocoOuterOptimizer::~DilocoOuterOptimizer() = default;

void DilocoOuterOptimizer::StartRound(const float* params) {
  if (!start_restored_) start_.assign(params, params + start_.size());
  PublishState();
}

void DilocoOuterOptimizer::RestoredAt(long step) {
  start_restored_ = true;
  round_begin_step_ = step;
  round_steps_ = 0;
  current_step_ = step;
  next_round_ = step / config_.inner_steps;  // the live worlds' rounds, if ahead, are caught up at the first part
  // The exchanges in flight at the checkpoint: their averages came with it.
  const long h = config_.inner_steps;
  if (config_.elastic) {
    // Their steps followed the link, not the schedule: an average not yet
    // mixed in is what was in flight; it goes in after the next step.
    for (Fragment& f : fragments_) {
      bool held = false;
      for (const BufferRange& r : f.ranges)
        held = held || std::any_of(pending_.begin() + r.offset, pending_.begin() + r.offset + r.count,
                                   [](float v) { return v != 0.0f; });
      // Strict worlds: exactly where the run that wrote the checkpoint
      // applies it (the checkpoint is at the round's end, where it left).
      f.apply_step = held ? step + (config_.strict ? config_.overlap_steps : 1) : -1;
      f.received = held;
    }
    return;
  }
  for (Fragment& f : fragments_) {
    const long sent = step - ((step - f.offset) % h + h) % h;  // its last round's end at or before `step`
    f.apply_step = -1;
    f.received = false;
    if (sent >= 1 && sent + config_.overlap_steps > step) {
      f.apply_step = sent + config_.overlap_steps;
      f.received = true;
    }
  }
}

bool DilocoOuterOptimizer::SendsAfter(const Fragment& f, long step) const {
  if (config_.worlds) return round_ends_now_;
  return step % config_.inner_steps == f.offset;
}

Status DilocoOuterOptimizer::AfterStep(long step, float* stage_params, const ProcessGroups& g,
                                       Communicator* background, TrafficCounter* traffic, StageMemory* memory) {
  const bool leader = g.dp_intra_dc->rank() == 0;
  current_step_ = step;
  // MPI moves a non-blocking exchange along only inside MPI calls: one
  // test per inner step keeps it going while computation runs.
  if (leader)
    for (Fragment& f : fragments_)
      if (f.request) f.request->Test();
  // Worlds: a round still out when the next one ends is closed with what
  // has arrived (every rank knows where rounds end, so all agree).
  if (config_.worlds) {
    MERIDIAN_ASSIGN_OR_RETURN(round_ends_now_, WorldRoundEnds(step, g));
    for (Fragment& f : fragments_) {
      if (!SendsAfter(f, step) || f.apply_step < 0) continue;
      if (leader && f.round) f.round->Close();
      f.apply_step = step;
    }
  }
  // Elastic: an exchange due but not back lets this step pass; it is tried
  // again after the next one.
  if (config_.elastic) {
    for (Fragment& f : fragments_) {
      if (f.apply_step < 0 || f.apply_step > step) continue;
      MERIDIAN_ASSIGN_OR_RETURN(const bool back, ExchangeBack(f, g));
      if (!back) f.apply_step = step + 1;
    }
  }
  // Elastic: a round that ends while the last exchange is out or the link is
  // down joins the fragment's backlog; the backlog leaves one exchange at a
  // time, and only while the link is up, so every data center posts one
  // exchange per round, in order.
  std::vector<bool> send(fragments_.size());
  for (size_t i = 0; i < fragments_.size(); ++i) {
    Fragment& f = fragments_[i];
    if (!config_.elastic) {
      send[i] = SendsAfter(f, step);
      continue;
    }
    if (SendsAfter(f, step)) ++f.overdue;
    // Worlds: rounds that ended while the link was down leave as one part
    // (it carries all their steps' tokens), not one a step once it is up.
    if (config_.worlds) f.overdue = std::min(f.overdue, 1);
    send[i] = f.overdue > 0 && (f.apply_step < 0 || f.apply_step == step);
  }
  if (config_.elastic && !config_.wan_window.always_up() && std::find(send.begin(), send.end(), true) != send.end()) {
    MERIDIAN_ASSIGN_OR_RETURN(const bool open, WindowOpen(g));
    if (!open) std::fill(send.begin(), send.end(), false);
  }
  std::vector<Fragment*> touched;
  for (size_t i = 0; i < fragments_.size(); ++i)
    if (fragments_[i].apply_step == step || send[i]) touched.push_back(&fragments_[i]);
  if (touched.empty()) return Status::OK();

  // The touched fragments' weights come to the host, where the outer state
  // and the compression live; the inner steps never leave the stage's
  // memory. host_params_ keeps the stage buffer's offsets.
  const size_t n = start_.size();
  host_params_.resize(n);
  float* params = host_params_.data();
  for (const Fragment* f : touched)
    for (const BufferRange& r : f->ranges)
      MERIDIAN_RETURN_IF_ERROR(memory->ToHost(params + r.offset, stage_params + r.offset, r.count));
  for (Fragment* f : touched)
    if (f->apply_step == step) MERIDIAN_RETURN_IF_ERROR(Apply(*f, params, g, traffic, memory));
  for (Fragment* f : touched) {
    if (!send[f - fragments_.data()]) continue;
    if (config_.elastic) --f->overdue;
    f->apply_step = step + config_.overlap_steps;
    Communicator* across = config_.overlap_steps > 0 ? background : g.dp_inter_dc.get();
    MERIDIAN_RETURN_IF_ERROR(Send(*f, step, params, g, across, traffic));
    if (config_.overlap_steps == 0) MERIDIAN_RETURN_IF_ERROR(Apply(*f, params, g, traffic, memory));
  }
  for (const Fragment* f : touched)
    for (const BufferRange& r : f->ranges)
      MERIDIAN_RETURN_IF_ERROR(memory->FromHost(stage_params + r.offset, params + r.offset, r.count));
  return memory->WeightsChanged(stage_params, n);
}


Status DilocoOuterOptimizer::Send(Fragment& f, long step, const float* params, const ProcessGroups& g,
                                  Communicator* across, TrafficCounter* traffic) {
  // Inside a data center every replica holds the same weights (their
  // gradients were averaged), so one leader per data center speaks for it.
  if (g.dp_intra_dc->rank() != 0) return Status::OK();
  const size_t m = f.count;
  scratch_.resize(2 * m);
  float* delta = scratch_.data();
  float* error = error_.empty() ? nullptr : scratch_.data() + m;
  size_t k = 0;
  for (const BufferRange& r : f.ranges)
    for (size_t i = r.offset; i < r.offset + r.count; ++i) delta[k++] = start_[i] - params[i];
  if (error) {
    GatherRanges(f.ranges, error_.data(), error);
    // SparseLoCo: the error feedback, decayed by the outer momentum, takes
    // the momentum's place; what top-k leaves behind now is sent later.
    if (config_.compress == Compression::kSparse)
      for (size_t i = 0; i < m; ++i) error[i] *= config_.outer_momentum;
  }
  const size_t bytes = CompressedBytes(config_.compress, m);
  f.send.resize(bytes);
  Compress(config_.compress, delta, m, error, f.send.data());
  if (error) ScatterRanges(f.ranges, error, error_.data());
  if (config_.worlds) return PostToWorlds(f, step, traffic);
  f.gathered.resize(bytes * across->size());
  if (config_.overlap_steps > 0) {
    MERIDIAN_ASSIGN_OR_RETURN(f.request, across->IAllGatherBytes(f.send.data(), f.gathered.data(), bytes));
  } else {
    MERIDIAN_RETURN_IF_ERROR(across->AllGatherBytes(f.send.data(), f.gathered.data(), bytes));
  }
  traffic->AllGather(*across, (double)bytes);
  return Status::OK();
}

Result<bool> DilocoOuterOptimizer::ExchangeBack(Fragment& f, const ProcessGroups& g) {
  // Only the leader holds the exchange; the sum is its word.
  double back = 0.0;
  if (g.dp_intra_dc->rank() == 0) {
    // Strict worlds: the round is waited for (every world's part, or the
    // wait timeout), so every world applies it at the same step.
    if (config_.strict && !f.received && f.round) MERIDIAN_RETURN_IF_ERROR(f.round->Wait());
    back = f.received || (f.round ? f.round->Test() : !f.request || f.request->Test()) ? 1.0 : 0.0;
  }
  MERIDIAN_RETURN_IF_ERROR(g.dp_intra_dc->AllReduceDouble(&back, 1, ReduceOp::kSum));
  return back > 0.0;
}

namespace {

double UnixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Up now with a quarter of the window left (of the periodic window, or of
// the explicit one the link is in), so an exchange can cross before the
// link shuts.
bool UpForAnExchange(const LinkSchedule& w, double now) {
  if (w.period_s > 0.0) return w.UpAt(now) && w.UpAt(now + w.up_s / 4.0);
  if (w.always_up()) return true;
  for (const auto& [open, close] : w.windows)
    if (now >= open && now < close) return now + (close - open) / 4.0 < close;
  return false;
}

// Whether an exchange may start at `now` or later: always, but for an
// explicit list of windows once the last one has less than a quarter left.
bool ExchangesAhead(const LinkSchedule& w, double now) {
  if (w.windows.empty()) return true;
  const auto& [open, close] = w.windows.back();
  return std::max(open, now) + (close - open) / 4.0 < close;
}

}  // namespace

Result<bool> DilocoOuterOptimizer::WindowOpen(const ProcessGroups& g) {
  double open = 0.0;
  if (g.dp_intra_dc->rank() == 0) open = UpForAnExchange(config_.wan_window, UnixNow()) ? 1.0 : 0.0;
  MERIDIAN_RETURN_IF_ERROR(g.dp_intra_dc->AllReduceDouble(&open, 1, ReduceOp::kSum));
  return open > 0.0;
}

Result<bool> DilocoOuterOptimizer::WindowsAhead(const ProcessGroups& g) {
  double ahead = 0.0;
  if (g.dp_intra_dc->rank() == 0) ahead = ExchangesAhead(config_.wan_window, UnixNow()) ? 1.0 : 0.0;
  MERIDIAN_RETURN_IF_ERROR(g.dp_intra_dc->AllReduceDouble(&ahead, 1, ReduceOp::kSum));
  return ahead > 0.0;
}

void DilocoOuterOptimizer::WaitForWindow() const {
  const LinkSchedule& w = config_.wan_window;
  if (w.always_up()) return;
  // Packets sent into a closed link are lost, and TCP's backoff then keeps
  // the exchange from crossing for minutes: sleep until a window instead.
  for (double now = UnixNow(); !UpForAnExchange(w, now); now = UnixNow()) {
    if (!ExchangesAhead(w, now)) return;  // after the last explicit window: nothing to wait for
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

Status DilocoOuterOptimizer::Receive(Fragment& f, const ProcessGroups& g) {
  if (g.dp_intra_dc->rank() != 0 || f.received) return Status::OK();
  if (f.round) {
    MERIDIAN_RETURN_IF_ERROR(f.round->Wait());
    AverageWorlds(f);
    f.round.reset();
    if (!pending_.empty()) ScatterRanges(f.ranges, scratch_.data(), pending_.data());
    f.received = true;
    return Status::OK();
  }
  if (f.request) {
    MERIDIAN_RETURN_IF_ERROR(f.request->Wait());
    f.request.reset();
  }
  const size_t m = f.count, bytes = f.send.size();
  const int senders = (int)(f.gathered.size() / std::max<size_t>(bytes, 1));
  scratch_.assign(m, 0.0f);
  const float weight = 1.0f / senders;
  for (int r = 0; r < senders; ++r)
    DecompressAdd(config_.compress, f.gathered.data() + r * bytes, m, weight, scratch_.data());
  if (!pending_.empty()) ScatterRanges(f.ranges, scratch_.data(), pending_.data());
  f.received = true;
  return Status::OK();
}

Status DilocoOuterOptimizer::Apply(Fragment& f, float* params, const ProcessGroups& g, TrafficCounter* traffic,
                                   StageMemory* memory) {
  const bool leader = g.dp_intra_dc->rank() == 0;
  MERIDIAN_RETURN_IF_ERROR(Receive(f, g));
  const size_t m = f.count;
  // The leader's average (scratch_ after Receive, or pending_ where it was
  // received earlier) reaches its data center.
  scratch_.resize(m);
  if (leader && !pending_.empty()) GatherRanges(f.ranges, pending_.data(), scratch_.data());
  MERIDIAN_RETURN_IF_ERROR(ShareInDataCenter(scratch_.data(), m, g, memory));
  traffic->Broadcast(*g.dp_intra_dc, 4.0 * m, 0);
  if (config_.worlds) {
    // Worlds that drifted apart agreed on outer weights and momentum again:
    // the leader's word reaches its data center before the outer step.
    float resync = leader && f.resync ? 1.0f : 0.0f;
    MERIDIAN_RETURN_IF_ERROR(ShareInDataCenter(&resync, 1, g, memory));
    if (resync != 0.0f) {
      f.resync_state.resize(2 * m);
      MERIDIAN_RETURN_IF_ERROR(ShareInDataCenter(f.resync_state.data(), 2 * m, g, memory));
      ScatterRanges(f.ranges, f.resync_state.data(), start_.data());
      ScatterRanges(f.ranges, f.resync_state.data() + m, momentum_.data());
    }
    f.resync = false;
  }
  const float lr = config_.outer_lr, mu = config_.outer_momentum;
  // Overlapped: the weights trained on while the exchange crossed, and
  // keep a share `mix` of that; otherwise the outer step's result.
  const bool mixing = config_.overlap_steps > 0;
  const float keep = config_.mix;
  const bool sparse = config_.compress == Compression::kSparse;
  size_t k = 0;
  for (const BufferRange& r : f.ranges) {
    for (size_t i = r.offset; i < r.offset + r.count; ++i, ++k) {
      const float average = scratch_[k];
      float outer;
      if (sparse) {
        outer = start_[i] - lr * average;
      } else {
        // Nesterov momentum on the averaged pseudo-gradient.
        momentum_[i] = mu * momentum_[i] + average;
        outer = start_[i] - lr * (average + mu * momentum_[i]);
      }
      start_[i] = outer;
      params[i] = mixing ? keep * params[i] + (1.0f - keep) * outer : outer;
      if (!pending_.empty()) pending_[i] = 0.0f;
    }
  }
  f.apply_step = -1;
  f.received = false;
  ++outer_steps_;
  if (leader) PublishState();
  return Status::OK();
}

Status DilocoOuterOptimizer::Flush(long step, float* stage_params, const ProcessGroups& g, Communicator* background,
                                   TrafficCounter* traffic, StageMemory* memory) {
  bool any = false;
  for (const Fragment& f : fragments_) any = any || f.overdue > 0;
  if (!any) return Status::OK();
  const size_t n = start_.size();
  host_params_.resize(n);
  float* params = host_params_.data();
  for (Fragment& f : fragments_) {
    if (f.overdue == 0) continue;
    for (const BufferRange& r : f.ranges)
      MERIDIAN_RETURN_IF_ERROR(memory->ToHost(params + r.offset, stage_params + r.offset, r.count));
    // Each exchange of the backlog leaves after the one before is back and
    // once the link is up (this blocks): the data centers must have posted
    // the same exchanges before a checkpoint or the run's end. After the
    // link's last explicit window nothing crosses again: the rest of the
    // backlog is dropped (sent, it would only block the drain until the
    // watchdog), and the data center trains on alone.
    for (; f.overdue > 0; --f.overdue) {
      if (f.apply_step >= 0) MERIDIAN_RETURN_IF_ERROR(Apply(f, params, g, traffic, memory));
      MERIDIAN_ASSIGN_OR_RETURN(const bool ahead, WindowsAhead(g));
      if (!ahead) {
        f.overdue = 0;
        break;
      }
      WaitForWindow();
      f.apply_step = step + config_.overlap_steps;
      MERIDIAN_RETURN_IF_ERROR(Send(f, step, params, g, background, traffic));
    }
    for (const BufferRange& r : f.ranges)
      MERIDIAN_RETURN_IF_ERROR(memory->FromHost(stage_params + r.offset, params + r.offset, r.count));
  }
  return memory->WeightsChanged(stage_params, n);
}

Status DilocoOuterOptimizer::Drain(const ProcessGroups& g, StageMemory* memory) {
  // Every rank of a data center holds the same flags, so all of them agree
  // on whether there is anything to share.
  bool any = false;
  for (Fragment& f : fragments_) {
    if (f.apply_step < 0 || f.received) continue;
    MERIDIAN_RETURN_IF_ERROR(Receive(f, g));
    any = true;
  }
  if (!any) return Status::OK();
  MERIDIAN_RETURN_IF_ERROR(ShareInDataCenter(pending_.data(), pending_.size(), g, memory));
  for (Fragment& f : fragments_)
    if (f.apply_step >= 0) f.received = true;
  return Status::OK();
}

Status HierarchicalFinish(float* data, size_t n, const ProcessGroups& g, int dp_size, TrafficCounter* traffic,
                          StageMemory* memory) {
  if (g.dp_inter_dc->size() == 1 && g.dp_intra_dc->size() == dp_size) return Status::OK();  // one data center
  if (g.dp_intra_dc->rank() == 0) {
    // Weight each data center's average by its size: a sum of sums.
    MERIDIAN_RETURN_IF_ERROR(memory->Scale(data, n, (float)g.dp_intra_dc->size()));
    MERIDIAN_RETURN_IF_ERROR(g.dp_inter_dc->AllReduce(data, n, ReduceOp::kSum));
    traffic->AllReduce(*g.dp_inter_dc, 4.0 * n);
    MERIDIAN_RETURN_IF_ERROR(memory->Scale(data, n, 1.0f / dp_size));
  }
  MERIDIAN_RETURN_IF_ERROR(g.dp_intra_dc->Broadcast(data, n, 0));
  traffic->Broadcast(*g.dp_intra_dc, 4.0 * n, 0);
  return Status::OK();
}

}  // namespace meridian
