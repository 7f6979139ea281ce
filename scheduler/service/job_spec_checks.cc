// SchedulerCore's job-spec checks: every field of a JobSpec validated, and
// the spec turned into what placement needs (a JobRequest).
#include <algorithm>
#include <cstdlib>
#include <optional>
#include <utility>

#include "common/tenant_name.h"
#include "proto/enum_words.h"
#include "scheduler/service/job_options.h"
#include "scheduler/service/request_checks.h"
#include "scheduler/service/scheduler_core.h"

namespace meridian::scheduler {

namespace {

constexpr size_t kMaxPathLength = 4096;
constexpr size_t kMaxWordLength = 64;       // a name from a closed set (preset, device, dtype, sync)
constexpr size_t kMaxPromptLength = 4096;   // the sample's prompt, in bytes
constexpr int kMaxExtraArgs = 64;
constexpr int kMaxRanks = 1 << 16;
constexpr int kMaxPriority = 1000;
constexpr int kMaxMaxRestarts = 1000;

// Every string of a spec has a bound, so no field can grow the store, the
// events or an error message past it; the refusal names the field and the
// bound, never echoing the value.
Status CheckStringLengths(const v1::JobSpec& spec) {
  const v1::TrainingOptions& t = spec.training();
  struct Bounded {
    std::string field;
    const std::string* value;
    size_t max;
  };
  std::vector<Bounded> strings = {{"spec.model.preset", &spec.model().preset(), kMaxWordLength},
                                  {"spec.training.data", &t.data(), kMaxPathLength},
                                  {"spec.training.val_data", &t.val_data(), kMaxPathLength},
                                  {"spec.training.sample_prompt", &t.sample_prompt(), kMaxPromptLength}};
  for (int i = 0; i < t.extra_args_size() && i <= kMaxExtraArgs; ++i)
    strings.push_back({"spec.training.extra_args[" + std::to_string(i) + "]", &t.extra_args(i), kMaxPathLength});
  for (const Bounded& b : strings)
    if (b.value->size() > b.max)
      return Invalid(b.field, "(" + std::to_string(b.value->size()) + " characters)",
                     "longer than " + std::to_string(b.max));
  return Status::OK();
}

}  // namespace

Status SchedulerCore::ValidateSpec(const v1::JobSpec& spec) {
  if (spec.name().size() > kMaxNameLength)
    return Invalid("spec.name", "(" + std::to_string(spec.name().size()) + " characters)", "longer than 256");
  MERIDIAN_RETURN_IF_ERROR(CheckStringLengths(spec));
  const v1::Layout& l = spec.layout();
  if (l.auto_layout()) {
    if (l.gpus() < 1 || l.gpus() > kMaxRanks) return Invalid("spec.layout.gpus", std::to_string(l.gpus()), "must be in [1, 65536] with auto_layout");
  } else {
    if (l.dp() < 1) return Invalid("spec.layout.dp", std::to_string(l.dp()), "must be >= 1");
    if (l.pp() < 1) return Invalid("spec.layout.pp", std::to_string(l.pp()), "must be >= 1");
    if ((long)l.dp() * l.pp() > kMaxRanks) return Invalid("spec.layout", std::to_string(l.dp() * (long)l.pp()) + " ranks", "more than 65536");
  }
  // Enums are open on the wire: a number this daemon has no name for.
  if (!v1::DpSync_IsValid(l.dp_sync()))
    return Invalid("spec.layout.dp_sync", std::to_string(l.dp_sync()), "not a known mode");
  // Worlds meet only at DiLoCo's outer rounds.
  if (spec.dc_worlds() && l.dp_sync() != v1::DP_SYNC_DILOCO)
    return Invalid("spec.dc_worlds", "true", "needs layout.dp_sync diloco (worlds meet only at outer rounds)");
  // Tuning chooses among DiLoCo's settings: a job fixed to another mode has none.
  if (l.tune_diloco() && l.dp_sync() != v1::DP_SYNC_DILOCO && l.dp_sync() != v1::DP_SYNC_AUTO)
    return Invalid("spec.layout.tune_diloco", "true",
                   "needs layout.dp_sync diloco or auto (it chooses DiLoCo's compression, fragments and overlap)");
  if (spec.priority() < -kMaxPriority || spec.priority() > kMaxPriority)
    return Invalid("spec.priority", std::to_string(spec.priority()), "must be in [-1000, 1000]");
  if (!spec.tenant().empty() && !IsTenantName(spec.tenant()))  // empty: the token's tenant
    return Invalid("spec.tenant", "(" + std::to_string(spec.tenant().size()) + " characters)",
                   std::string("must be ") + kTenantNameRule);
  // Strict rounds are a rule between worlds: a job of one world has none.
  const auto& extra = spec.training().extra_args();
  if (!spec.dc_worlds() && std::find(extra.begin(), extra.end(), "--wan-strict") != extra.end())
    return Invalid("spec.training.extra_args", "--wan-strict", "needs dc_worlds: true (strict rounds are between worlds)");
  const v1::TrainingOptions& t = spec.training();
  if (t.batch() < 1) return Invalid("spec.training.batch", std::to_string(t.batch()), "must be >= 1");
  if (t.seq() < 1) return Invalid("spec.training.seq", std::to_string(t.seq()), "must be >= 1");
  if (t.microbatches() < 0) return Invalid("spec.training.microbatches", std::to_string(t.microbatches()), "must be >= 0");
  if (t.steps() < 1) return Invalid("spec.training.steps", std::to_string(t.steps()), "must be >= 1");
  if (t.lr() < 0) return Invalid("spec.training.lr", std::to_string(t.lr()), "must be >= 0");
  if (t.threads() < 0) return Invalid("spec.training.threads", std::to_string(t.threads()), "must be >= 0");
  if (t.zero() != 0 && t.zero() != 1) return Invalid("spec.training.zero", std::to_string(t.zero()), "expected 0 or 1");
  if (t.data().empty()) return Invalid("spec.training.data", "\"\"", "a token shard glob is required");
  if (!v1::Device_IsValid(t.device()))
    return Invalid("spec.training.device", std::to_string(t.device()), "not a known device");
  if (!v1::DType_IsValid(t.dtype()))
    return Invalid("spec.training.dtype", std::to_string(t.dtype()), "not a known dtype");
  if (t.dtype() == v1::DTYPE_BF16 && t.device() != v1::DEVICE_CUDA)
    return Invalid("spec.training.dtype", "bf16", "needs device cuda");
  if (spec.has_max_restarts() && (spec.max_restarts() < 0 || spec.max_restarts() > kMaxMaxRestarts))
    return Invalid("spec.max_restarts", std::to_string(spec.max_restarts()), "must be in [0, 1000]");
  if (spec.data_centers_size() > 1024)
    return Invalid("spec.data_centers", std::to_string(spec.data_centers_size()) + " entries", "more than 1024");
  for (int i = 0; i < spec.data_centers_size(); ++i) {
    if (spec.data_centers(i).empty() || spec.data_centers(i).size() > kMaxNameLength)
      return Invalid("spec.data_centers[" + std::to_string(i) + "]", "\"" + spec.data_centers(i).substr(0, 40) + "\"",
                     "must be a data center name");
  }
  if (t.extra_args_size() > kMaxExtraArgs) return Invalid("spec.training.extra_args", std::to_string(t.extra_args_size()) + " entries", "more than 64");
  MERIDIAN_RETURN_IF_ERROR(CheckExtraArgs(t, {}));
  MERIDIAN_ASSIGN_OR_RETURN(JobRequest request, ToJobRequest(spec));
  if (!l.auto_layout() && l.pp() > request.model.n_layer)
    return Invalid("spec.layout.pp", std::to_string(l.pp()), "exceeds the model's " + std::to_string(request.model.n_layer) + " layers");
  return Status::OK();
}

Result<JobRequest> SchedulerCore::ToJobRequest(const v1::JobSpec& spec) {
  const v1::ModelConfig& m = spec.model();
  Result<GPTConfig> preset = PresetConfig(m.preset().empty() ? "d4" : m.preset());
  if (!preset.ok()) return Invalid("spec.model.preset", m.preset(), std::string("unknown (expected ") + PresetChoices() + ")");
  GPTConfig base = *preset;
  if (m.n_layer() < 0 || m.n_head() < 0 || m.n_embd() < 0 || m.vocab_size() < 0 || m.max_seq_len() < 0 ||
      m.n_kv_head() < 0 || m.ffn_hidden() < 0 || m.rope_theta() < 0)
    return Status::InvalidArgument("spec.model: sizes must not be negative");
  // The training program's defaults: the preset's vocabulary, maxT = seq.
  if (m.vocab_size() > 0) base.vocab_size = m.vocab_size();
  base.padded_vocab_size = PadVocab(base.vocab_size);
  base.max_seq_len = m.max_seq_len() > 0 ? m.max_seq_len() : std::max(spec.training().seq(), 1);
  const ModelOverrides overrides{m.arch(),       m.n_layer(),    m.n_head(),         m.n_embd(),
                                 m.n_kv_head(),  m.ffn_hidden(), m.rope_theta(),     m.tie_embeddings()};
  Result<GPTConfig> applied = ApplyModelOverrides(base, overrides);
  if (!applied.ok()) return Status::InvalidArgument("spec.model: " + applied.status().message());
  GPTConfig c = *applied;
  JobRequest r;
  r.model = c;
  r.batch = std::max(1, spec.training().batch());
  r.seq = std::max(1, spec.training().seq());
  r.microbatches = std::max(1, spec.training().microbatches());
  r.dp = spec.layout().dp();
  r.pp = spec.layout().pp();
  r.auto_layout = spec.layout().auto_layout();
  r.gpus = spec.layout().gpus();
  // Memory as the ranks will hold it: the CUDA model's fused attention keeps
  // no T x T scores, and bf16 halves activations and adds a 2-byte weight copy.
  r.fused_attention = spec.training().device() == v1::DEVICE_CUDA;
  if (spec.training().dtype() == v1::DTYPE_BF16) {
    r.bytes_per_activation = 2;
    r.bytes_per_param = 18;
  }
  if (spec.layout().dp_sync() != v1::DP_SYNC_AUTO)
    r.dp_sync = *ParseDpSync(EnumWord(spec.layout().dp_sync()));  // the same words on both sides
  // DiLoCo is priced as the ranks will run it: with the job's own options.
  const v1::TrainingOptions& t = spec.training();
  for (auto [name, out] : {std::pair{"--diloco-h", &r.diloco_h}, std::pair{"--diloco-fragments", &r.diloco_fragments},
                           std::pair{"--diloco-overlap", &r.diloco_overlap}}) {
    const std::optional<std::string> value = ExtraArgValue(t, name);
    if (!value) continue;
    char* end = nullptr;
    const long v = std::strtol(value->c_str(), &end, 10);
    if (value->empty() || *end != '\0' || v < 0 || v > (1 << 30))
      return Status::InvalidArgument(std::string("spec.training.extra_args: ") + name + " " + value->substr(0, 40) +
                                     ": not a whole number in [0, 2^30]");
    *out = (int)v;
  }
  if (const std::optional<std::string> compress = ExtraArgValue(t, "--outer-compress")) {
    Result<Compression> c = ParseCompression(*compress);
    if (!c.ok()) return Status::InvalidArgument("spec.training.extra_args: " + c.status().message());
    r.outer_compress = *c;
  }
  r.tune_diloco = spec.layout().tune_diloco();
  return r;
}

SchedulerCore::SearchShape SchedulerCore::ShapeOf(const v1::JobSpec& spec, const JobRequest& request) {
  return SearchShape{request, {spec.data_centers().begin(), spec.data_centers().end()}, spec.dc_worlds()};
}

}  // namespace meridian::scheduler
