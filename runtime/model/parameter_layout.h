// Where each parameter tensor lives inside one flat float buffer.
//
// The order is llm.c's (wte, wpe, ln1w, ln1b, qkvw, qkvb, attprojw,
// attprojb, ln2w, ln2b, fcw, fcb, fcprojw, fcprojb, lnfw, lnfb), then an
// untied LM head; for GPT-2 a whole model's buffer is byte-for-byte the
// tensor section of an llm.c checkpoint.
// A pipeline stage holds a subset: layers [layer_begin, layer_end), the
// embeddings on the first stage, the final norm and the head on the last, and
// the token embedding on both first and last when the head is tied to it.
// Absent tensors have count 0.
//
// Llama uses the same slots: ln1w/ln2w/lnfw are RMSNorm weights, qkvw stacks
// q, k and v projections ((NH + 2 KVH) hs rows), fcw stacks gate and up
// (2F rows), fcprojw is down [C, F]; wpe and every bias are absent, and
// lm_head is present on the last stage when the head is untied.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <vector>

#include "runtime/model/gpt_config.h"

namespace meridian {

enum ParamIndex {
  kWte = 0, kWpe, kLn1w, kLn1b, kQkvw, kQkvb, kAttprojw, kAttprojb,
  kLn2w, kLn2b, kFcw, kFcb, kFcprojw, kFcprojb, kLnfw, kLnfb, kLmHead,
  kNumParamTensors
};

// Which part of the model one process holds.
struct StageSpec {
  int layer_begin = 0;
  int layer_end = 0;       // exclusive
  bool first = true;       // holds wte, wpe; feeds tokens in
  bool last = true;        // holds lnf and the head (wte when tied); computes the loss
  int num_layers() const { return layer_end - layer_begin; }
};

StageSpec WholeModel(const GPTConfig& config);

struct ParamTensorInfo {
  std::string name;             // llm.c name, e.g. "qkvw"
  size_t offset = 0;            // in floats, into the flat buffer
  size_t count = 0;             // floats; 0 when the stage lacks it
  std::vector<size_t> shape;    // e.g. {L, 3C, C}
  bool weight_decay = false;    // AdamW decays matrices and embeddings only
};

class ParameterLayout {
 public:
  ParameterLayout(const GPTConfig& config, const StageSpec& stage);

  const GPTConfig& config() const { return config_; }
  const StageSpec& stage() const { return stage_; }
  size_t total() const { return total_; }
  const ParamTensorInfo& tensor(int index) const { return tensors_[index]; }
  const std::array<ParamTensorInfo, kNumParamTensors>& tensors() const { return tensors_; }

  // Offset (floats) of one layer's slice of a per-layer tensor, with `layer`
  // local to the stage (0 .. num_layers-1).
  size_t LayerOffset(int index, int local_layer) const;
  size_t LayerCount(int index) const;  // floats per layer of a per-layer tensor

 private:
  GPTConfig config_;
  StageSpec stage_;
  std::array<ParamTensorInfo, kNumParamTensors> tensors_;
  std::array<size_t, kNumParamTensors> per_layer_{};
  size_t total_ = 0;
};

// Parameter count of the whole model (as GPT-2 papers count it: with the
// padded embedding rows).
size_t NumParameters(const GPTConfig& config);

}  // namespace meridian
