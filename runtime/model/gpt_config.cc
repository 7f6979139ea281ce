#include "runtime/model/gpt_config.h"

#include <climits>
#include <sstream>
#include <string>

namespace meridian {

int PadVocab(int vocab_size) { return (vocab_size + 63) / 64 * 64; }

Status ValidateConfig(const GPTConfig& c) {
  auto bad = [](const char* field, double value, const char* why) {
    std::ostringstream os;
    os << "model config: " << field << " = " << value << " " << why;
    return Status::InvalidArgument(os.str());
  };
  if (c.n_layer < 1) return bad("n_layer", c.n_layer, "must be >= 1");
  if (c.n_head < 1) return bad("n_head", c.n_head, "must be >= 1");
  if (c.n_embd < 1) return bad("n_embd", c.n_embd, "must be >= 1");
  if (c.n_embd % c.n_head != 0) return bad("n_embd", c.n_embd, "must be divisible by n_head");
  if (c.vocab_size < 1 || c.vocab_size > kMaxVocabSize)
    return bad("vocab_size", c.vocab_size, "must be in [1, 16777216]");
  if (c.padded_vocab_size < c.vocab_size)
    return bad("padded_vocab_size", c.padded_vocab_size, "must be >= vocab_size");
  if (c.padded_vocab_size > kMaxVocabSize) return bad("padded_vocab_size", c.padded_vocab_size, "must be <= 16777216");
  if (c.max_seq_len < 1) return bad("max_seq_len", c.max_seq_len, "must be >= 1");
  if (!c.llama()) {
    // GPT-2's shapes are fixed by its architecture.
    if (c.n_kv_head != 0 && c.n_kv_head != c.n_head) return bad("n_kv_head", c.n_kv_head, "must equal n_head for gpt2");
    if (c.ffn_hidden != 0 && c.ffn_hidden != 4LL * c.n_embd) return bad("ffn_hidden", c.ffn_hidden, "must be 4 * n_embd for gpt2");
    if (!c.tie_embeddings) return bad("tie_embeddings", 0, "must be true for gpt2");
    if (c.rope_scaling.enabled()) return bad("rope_scaling.factor", c.rope_scaling.factor, "applies to llama only");
    return Status::OK();
  }
  if (c.n_kv_head < 0 || c.n_head % c.kv_heads() != 0)
    return bad("n_kv_head", c.n_kv_head, "must divide n_head");
  if (c.head_size() % 2 != 0) return bad("n_embd", c.n_embd, "must give an even head size (rotary pairs)");
  if (c.ffn_hidden < 0) return bad("ffn_hidden", c.ffn_hidden, "must be >= 1 (0: 4 * n_embd)");
  if (!(c.rope_theta > 0.0)) return bad("rope_theta", c.rope_theta, "must be > 0");
  if (!(c.norm_eps > 0.0f)) return bad("norm_eps", c.norm_eps, "must be > 0");
  const RopeScaling& r = c.rope_scaling;
  if (r.enabled()) {
    if (!(r.factor >= 1.0)) return bad("rope_scaling.factor", r.factor, "must be >= 1");
    if (!(r.high_freq_factor > r.low_freq_factor))
      return bad("rope_scaling.high_freq_factor", r.high_freq_factor, "must be > low_freq_factor");
    if (!(r.low_freq_factor > 0.0)) return bad("rope_scaling.low_freq_factor", r.low_freq_factor, "must be > 0");
    if (r.original_max_position_embeddings < 1)
      return bad("rope_scaling.original_max_position_embeddings", r.original_max_position_embeddings, "must be >= 1");
  }
  return Status::OK();
}

namespace {

GPTConfig Llama(int layers, int heads, int kv_heads, int embd, int ffn) {
  GPTConfig c;
  c.arch = ModelArch::kLlama;
  c.n_layer = layers;
  c.n_head = heads;
  c.n_kv_head = kv_heads;
  c.n_embd = embd;
  c.ffn_hidden = ffn;
  return c;
}

// Llama 3's vocabulary: 128,000 BPE ranks and 256 special tokens.
GPTConfig WithLlama3Vocab(GPTConfig c, int max_seq) {
  c.vocab_size = c.padded_vocab_size = 128256;
  c.max_seq_len = max_seq;
  c.rope_theta = 500000.0;
  return c;
}

}  // namespace

Result<GPTConfig> PresetConfig(const std::string& name) {
  GPTConfig c;
  if (name == "d4") {
    c.n_layer = 4; c.n_head = 4; c.n_embd = 256;
  } else if (name == "d12") {
    c.n_layer = 12; c.n_head = 12; c.n_embd = 768;
  } else if (name == "d24") {
    c.n_layer = 24; c.n_head = 16; c.n_embd = 1024;
  } else if (name == "d36") {
    c.n_layer = 36; c.n_head = 20; c.n_embd = 1280;
  } else if (name == "d48") {
    c.n_layer = 48; c.n_head = 25; c.n_embd = 1600;
  } else if (name == "llama-tiny") {
    c = Llama(4, 8, 4, 256, 688);  // ~ 8/3 C, as Llama sizes its MLP
    c.rope_theta = 10000.0;
  } else if (name == "llama3.2-1b") {
    // meta-llama/Llama-3.2-1B's config.json.
    c = WithLlama3Vocab(Llama(16, 32, 8, 2048, 8192), 131072);
    c.rope_scaling = RopeScaling{32.0, 1.0, 4.0, 8192};
    c.tie_embeddings = true;
  } else if (name == "llama3-8b") {
    // meta-llama/Meta-Llama-3-8B's config.json.
    c = WithLlama3Vocab(Llama(32, 32, 8, 4096, 14336), 8192);
    c.tie_embeddings = false;
  } else {
    return Status::InvalidArgument("model: unknown preset '" + name + "' (expected " + PresetChoices() + ")");
  }
  return c;
}

Result<GPTConfig> ApplyModelOverrides(GPTConfig c, const ModelOverrides& o) {
  if (!o.arch.empty()) {
    MERIDIAN_ASSIGN_OR_RETURN(ModelArch arch, kModelArchs.Parse(o.arch));
    if (arch != c.arch) {
      const GPTConfig shapes = c;
      c = GPTConfig();
      c.arch = arch;
      c.max_seq_len = shapes.max_seq_len;
      c.vocab_size = shapes.vocab_size;
      c.padded_vocab_size = shapes.padded_vocab_size;
      c.n_layer = shapes.n_layer;
      c.n_head = shapes.n_head;
      c.n_embd = shapes.n_embd;
      if (c.llama()) c.rope_theta = 10000.0;
    }
  }
  if (o.n_layer < 0 || o.n_head < 0 || o.n_embd < 0 || o.n_kv_head < 0 || o.ffn_hidden < 0 || o.rope_theta < 0)
    return Status::InvalidArgument("model: sizes must not be negative");
  if (o.n_layer > 0) c.n_layer = o.n_layer;
  if (o.n_head > 0) c.n_head = o.n_head;
  if (o.n_embd > 0) c.n_embd = o.n_embd;
  if (c.llama()) {
    if (o.n_kv_head > 0) c.n_kv_head = o.n_kv_head;
    if (o.ffn_hidden > 0) c.ffn_hidden = o.ffn_hidden;
    if (c.ffn_hidden == 0) {
      const long long f = (8LL * c.n_embd / 3 + 255) / 256 * 256;
      if (f > INT_MAX) return Status::InvalidArgument("model: n_embd = " + std::to_string(c.n_embd) + " is too wide");
      c.ffn_hidden = (int)f;
    }
    if (o.rope_theta > 0) c.rope_theta = o.rope_theta;
    // A width or head override leaves a preset's kv heads where they divide.
    if (c.n_kv_head > c.n_head || (c.n_kv_head > 0 && c.n_head % c.n_kv_head != 0)) c.n_kv_head = c.n_head;
  } else if (o.n_kv_head > 0 || o.ffn_hidden > 0 || o.rope_theta > 0) {
    return Status::InvalidArgument("model: n_kv_head, ffn_hidden and rope_theta apply to arch llama only");
  }
  if (o.tie_embeddings == "true" || o.tie_embeddings == "false") {
    c.tie_embeddings = o.tie_embeddings == "true";
  } else if (!o.tie_embeddings.empty()) {
    return Status::InvalidArgument("model: tie_embeddings = " + o.tie_embeddings + ": expected true or false");
  }
  MERIDIAN_RETURN_IF_ERROR(ValidateConfig(c));
  return c;
}

const char* PresetChoices() { return "d4, d12, d24, d36, d48, llama-tiny, llama3.2-1b or llama3-8b"; }

bool SameModel(const GPTConfig& a, const GPTConfig& b) {
  const RopeScaling &ra = a.rope_scaling, &rb = b.rope_scaling;
  const bool shapes = a.arch == b.arch && a.max_seq_len == b.max_seq_len && a.vocab_size == b.vocab_size &&
                      a.padded_vocab_size == b.padded_vocab_size && a.n_layer == b.n_layer && a.n_head == b.n_head &&
                      a.n_embd == b.n_embd;
  if (!shapes || !a.llama()) return shapes;
  return a.kv_heads() == b.kv_heads() && a.ffn_size() == b.ffn_size() && a.rope_theta == b.rope_theta &&
         a.norm_eps == b.norm_eps && a.tie_embeddings == b.tie_embeddings && ra.factor == rb.factor &&
         ra.low_freq_factor == rb.low_freq_factor && ra.high_freq_factor == rb.high_freq_factor &&
         ra.original_max_position_embeddings == rb.original_max_position_embeddings;
}

std::string DescribeConfig(const GPTConfig& c) {
  std::ostringstream os;
  if (c.llama()) os << "llama ";
  os << "L" << c.n_layer << " H" << c.n_head;
  if (c.llama()) os << " KV" << c.kv_heads();
  os << " C" << c.n_embd;
  if (c.llama()) os << " F" << c.ffn_size() << (c.tie_embeddings ? " tied" : " untied");
  os << " V" << c.vocab_size << " (Vp " << c.padded_vocab_size << ") maxT " << c.max_seq_len;
  return os.str();
}

}  // namespace meridian
