#include "runtime/train/assignment_options.h"

#include <algorithm>
#include <string>

#include "proto/enum_words.h"

namespace meridian {

namespace {

// Consecutive ranks of one data center become one --pools entry.
std::string PoolsOf(const v1::Placement& p) {
  std::string pools;
  for (int i = 0; i < p.ranks_size();) {
    int j = i;
    while (j < p.ranks_size() && p.ranks(j).data_center() == p.ranks(i).data_center()) ++j;
    pools += (pools.empty() ? "" : ",") + p.ranks(i).data_center() + ":" + std::to_string(j - i);
    i = j;
  }
  return pools;
}

// The worlds of a job run as one world per data center: its data centers
// in the order their first ranks come in the placement.
std::vector<std::string> WorldsOf(const v1::Placement& p) {
  std::vector<std::string> dcs;
  for (const v1::RankAssignment& r : p.ranks())
    if (std::find(dcs.begin(), dcs.end(), r.data_center()) == dcs.end()) dcs.push_back(r.data_center());
  return dcs;
}

// Narrows the job to world `o->wan_world`: its data center's ranks, the
// leaders of the other worlds, and the share of the data its replicas read.
Status ApplyWorld(const v1::Placement& p, const v1::RankAssignment& a, TrainOptions* o) {
  const std::vector<std::string> worlds = WorldsOf(p);
  if (o->wan_world < 0 || o->wan_world >= (int)worlds.size())
    return Status::InvalidArgument("the job runs as one world per data center (" + std::to_string(worlds.size()) +
                                   "): --wan-world " + std::to_string(o->wan_world) + " names none of them");
  const std::string& dc = worlds[o->wan_world];
  if (a.data_center() != dc)
    return Status::FailedPrecondition("rank of " + a.data_center() + " started as world " +
                                      std::to_string(o->wan_world) + " (" + dc + ")");
  int ranks = 0, first_replica = p.dp();
  for (const v1::RankAssignment& r : p.ranks()) {
    if (r.data_center() != dc) continue;
    ++ranks;
    first_replica = std::min(first_replica, r.dp_index());
  }
  o->pools = dc + ":" + std::to_string(ranks);
  o->dp = ranks / std::max(1, p.pp());
  o->data_slice_first = first_replica;
  o->data_slices = p.dp();
  // Each world's first rank of a stage leads it, on a port of its own
  // (worlds may share a host): world w's stage s serves on port + w * pp + s.
  auto leader = [&](int world, int stage) -> std::string {
    for (const v1::RankAssignment& r : p.ranks())
      if (r.data_center() == worlds[world] && r.stage() == stage)
        return r.host() + ":" + std::to_string(p.wan_port() + world * p.pp() + stage);
    return "";
  };
  o->wan_peers.clear();
  o->wan_stage_peers.clear();
  for (int w = 0; w < (int)worlds.size(); ++w) {
    o->wan_peers += (o->wan_peers.empty() ? "" : ",") + leader(w, 0);
    o->wan_stage_peers.push_back(leader(w, a.stage()));
  }
  // Each link's own contact window (Placement.link_windows): the exchange
  // with a world waits for its link's window, so the placement's least-up
  // link (--wan-window) no longer gates every exchange; a window the job's
  // own options ask for, and a placement without link windows (none of
  // its links has any, or recorded before they were given), keep it.
  o->wan_peer_windows.clear();
  if (p.link_windows_size() > 0) {
    std::vector<std::string> windows(worlds.size());
    for (const v1::LinkWindow& l : p.link_windows()) {
      const std::string& other = l.a() == dc ? l.b() : l.b() == dc ? l.a() : dc;
      const auto it = std::find(worlds.begin(), worlds.end(), other);
      if (other != dc && it != worlds.end()) windows[it - worlds.begin()] = l.schedule();
    }
    for (size_t w = 0; w < worlds.size(); ++w) o->wan_peer_windows += (w ? ";" : "") + windows[w];
    if (o->wan_window == p.wan_window()) o->wan_window.clear();
  }
  // Worlds meet at outer rounds that never stop training: elastic DiLoCo.
  o->diloco_elastic = true;
  o->diloco_fragments = 1;
  o->diloco_overlap = std::max(1, o->diloco_overlap);
  return Status::OK();
}

}  // namespace

int WorldRank(const v1::Placement& p, int world, int local_rank) {
  const std::vector<std::string> worlds = WorldsOf(p);
  if (world < 0 || world >= (int)worlds.size()) return -1;
  for (int i = 0, seen = 0; i < p.ranks_size(); ++i)
    if (p.ranks(i).data_center() == worlds[world] && seen++ == local_rank) return i;
  return -1;
}

Status ApplyJobToOptions(const v1::JobSpec& spec, const v1::Placement& placement, const v1::RankAssignment& a,
                       int attempt, TrainOptions* o) {
  const v1::ModelConfig& m = spec.model();
  if (!m.preset().empty()) o->model = m.preset();
  if (m.n_layer() > 0) o->n_layer = m.n_layer();
  if (m.n_head() > 0) o->n_head = m.n_head();
  if (m.n_embd() > 0) o->n_embd = m.n_embd();
  if (m.vocab_size() > 0) o->vocab = m.vocab_size();
  o->arch = m.arch();
  o->n_kv_head = m.n_kv_head();
  o->ffn_hidden = m.ffn_hidden();
  o->rope_theta = m.rope_theta();
  o->tie_embeddings = m.tie_embeddings();
  const v1::TrainingOptions& t = spec.training();
  o->batch = t.batch();
  o->seq = t.seq();
  o->max_seq = m.max_seq_len() > 0 ? m.max_seq_len() : t.seq();
  o->microbatches = std::max(1, t.microbatches());
  o->steps = t.steps();
  if (t.lr() > 0) o->lr = t.lr();
  o->min_lr = t.min_lr();
  o->warmup = t.warmup();
  o->data = t.data();
  o->val_data = t.val_data();
  o->eval_every = t.eval_every();
  o->sample = t.sample();
  if (!t.sample_prompt().empty()) o->sample_prompt = t.sample_prompt();
  if (t.threads() > 0) o->threads = t.threads();
  o->zero = t.zero();
  // The proto's words are the runtime's (enum_words.h): unspecified keeps
  // the rank's own default.
  if (t.device() != v1::DEVICE_UNSPECIFIED) {
    MERIDIAN_ASSIGN_OR_RETURN(o->device, kDevices.Parse(EnumWord(t.device())));
  }
  if (t.dtype() != v1::DTYPE_UNSPECIFIED) {
    MERIDIAN_ASSIGN_OR_RETURN(o->dtype, kDTypes.Parse(EnumWord(t.dtype())));
  }
  o->dp = placement.dp();
  o->pp = placement.pp();
  o->pools = PoolsOf(placement);
  // The placement priced the job with this gradient sync mode (every mode
  // runs on GPUs too).
  o->dp_sync = DpSync::kSync;
  if (placement.dp_sync() != v1::DP_SYNC_AUTO) {
    MERIDIAN_ASSIGN_OR_RETURN(o->dp_sync, ParseDpSync(EnumWord(placement.dp_sync())));
  }
  // A job that let the placement tune DiLoCo runs the settings it chose for
  // these links, not its own.
  if (o->dp_sync == DpSync::kDiloco && placement.has_tuned_diloco()) {
    const v1::DilocoChoice& d = placement.tuned_diloco();
    MERIDIAN_ASSIGN_OR_RETURN(o->outer_compress, ParseCompression(d.outer_compress()));
    o->diloco_fragments = std::max(1, d.fragments());
    o->diloco_overlap = std::max(0, d.overlap());
  }
  // Across a link in contact windows, DiLoCo's exchanges wait for a window
  // and a late one never stops training: elastic, one fragment, at least
  // one step of overlap, whatever the job asked.
  if (o->dp_sync == DpSync::kDiloco && !placement.wan_window().empty()) {
    o->diloco_elastic = true;
    o->wan_window = placement.wan_window();
    o->diloco_fragments = 1;
    o->diloco_overlap = std::max(1, o->diloco_overlap);
  }
  if (placement.dc_worlds()) MERIDIAN_RETURN_IF_ERROR(ApplyWorld(placement, a, o));
  if (o->checkpoint_every == 0) o->checkpoint_every = std::max<long>(1, o->steps / 5);
  if (o->dp_sync == DpSync::kDiloco)  // weights agree across data centers only at round ends
    o->checkpoint_every = (o->checkpoint_every + o->diloco_h - 1) / o->diloco_h * o->diloco_h;
  o->gpu = a.gpu();
  o->attempt = attempt;
  o->assigned_layer_begin = a.layer_begin();
  o->assigned_layer_end = a.layer_end();
  return Status::OK();
}

}  // namespace meridian
