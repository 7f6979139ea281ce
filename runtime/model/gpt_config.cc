#include "runtime/model/gpt_config.h"

#include <sstream>

namespace meridian {

int PadVocab(int vocab_size) { return (vocab_size + 63) / 64 * 64; }

Status ValidateConfig(const GPTConfig& c) {
  auto bad = [](const char* field, long value, const char* why) {
    std::ostringstream os;
    os << "model config: " << field << " = " << value << " " << why;
    return Status::InvalidArgument(os.str());
  };
  if (c.n_layer < 1) return bad("n_layer", c.n_layer, "must be >= 1");
  if (c.n_head < 1) return bad("n_head", c.n_head, "must be >= 1");
  if (c.n_embd < 1) return bad("n_embd", c.n_embd, "must be >= 1");
  if (c.n_embd % c.n_head != 0) return bad("n_embd", c.n_embd, "must be divisible by n_head");
  if (c.vocab_size < 1 || c.vocab_size > 65536)
    return bad("vocab_size", c.vocab_size, "must be in [1, 65536] (tokens are uint16)");
  if (c.padded_vocab_size < c.vocab_size)
    return bad("padded_vocab_size", c.padded_vocab_size, "must be >= vocab_size");
  if (c.max_seq_len < 1) return bad("max_seq_len", c.max_seq_len, "must be >= 1");
  return Status::OK();
}

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
  } else {
    return Status::InvalidArgument("model: unknown preset '" + name +
                                   "' (expected d4, d12, d24, d36 or d48)");
  }
  return c;
}

std::string DescribeConfig(const GPTConfig& c) {
  std::ostringstream os;
  os << "L" << c.n_layer << " H" << c.n_head << " C" << c.n_embd << " V" << c.vocab_size
     << " (Vp " << c.padded_vocab_size << ") maxT " << c.max_seq_len;
  return os.str();
}

}  // namespace meridian
