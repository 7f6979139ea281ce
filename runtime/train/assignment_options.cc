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

}  // namespace

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
  // Across a link in contact windows, DiLoCo's exchanges wait for a window
  // and a late one never stops training: elastic, one fragment, at least
  // one step of overlap, whatever the job asked.
  if (o->dp_sync == DpSync::kDiloco && !placement.wan_window().empty()) {
    o->diloco_elastic = true;
    o->wan_window = placement.wan_window();
    o->diloco_fragments = 1;
    o->diloco_overlap = std::max(1, o->diloco_overlap);
  }
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
