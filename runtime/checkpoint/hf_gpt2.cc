#include "runtime/checkpoint/hf_gpt2.h"

#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <vector>

#include "runtime/checkpoint/file_io.h"
#include "runtime/checkpoint/hf_config_fields.h"
#include "runtime/checkpoint/hf_gpt2_config.h"
#include "runtime/checkpoint/hf_weight_set.h"
#include "runtime/checkpoint/safetensors.h"
#include "runtime/model/parameter_layout.h"

namespace meridian {
namespace {

namespace fs = std::filesystem;

constexpr char kPrefix[] = "transformer.";

// One Hugging Face tensor and where it lives in the flat llm.c buffer.
struct HfTensor {
  std::string name;             // without the "transformer." prefix
  std::vector<uint64_t> shape;  // as Hugging Face stores it
  size_t offset = 0;            // floats into the flat buffer
  bool conv1d = false;          // stored [in, out]; llm.c holds [out, in]
  uint64_t count() const {
    uint64_t n = 1;
    for (uint64_t d : shape) n *= d;
    return n;
  }
};

struct LayerTensor {
  const char* suffix;
  ParamIndex index;
  bool conv1d;
};

// GPT2Block's state_dict order.
constexpr LayerTensor kLayerTensors[] = {
    {"ln_1.weight", kLn1w, false},        {"ln_1.bias", kLn1b, false},
    {"attn.c_attn.weight", kQkvw, true},  {"attn.c_attn.bias", kQkvb, false},
    {"attn.c_proj.weight", kAttprojw, true}, {"attn.c_proj.bias", kAttprojb, false},
    {"ln_2.weight", kLn2w, false},        {"ln_2.bias", kLn2b, false},
    {"mlp.c_fc.weight", kFcw, true},      {"mlp.c_fc.bias", kFcb, false},
    {"mlp.c_proj.weight", kFcprojw, true}, {"mlp.c_proj.bias", kFcprojb, false},
};

// Visits the model's tensors in GPT2LMHeadModel's state_dict order, one at
// a time, stopping at the first error: a config read from a file may claim
// billions of layers, and the reader must fail at the first missing tensor
// without ever listing them all. REQUIRES: CheckedParameterCount(config).
Status ForEachHfTensor(const GPTConfig& c, const std::function<Status(const HfTensor&)>& visit) {
  const ParameterLayout layout(c, WholeModel(c));
  const uint64_t C = c.n_embd;
  MERIDIAN_RETURN_IF_ERROR(visit({"wte.weight", {uint64_t(c.vocab_size), C}, layout.tensor(kWte).offset, false}));
  MERIDIAN_RETURN_IF_ERROR(visit({"wpe.weight", {uint64_t(c.max_seq_len), C}, layout.tensor(kWpe).offset, false}));
  for (int l = 0; l < c.n_layer; ++l) {
    for (const LayerTensor& t : kLayerTensors) {
      const std::vector<size_t>& s = layout.tensor(t.index).shape;  // {L, out, in} or {L, n}
      std::vector<uint64_t> shape = t.conv1d ? std::vector<uint64_t>{s[2], s[1]} : std::vector<uint64_t>{s[1]};
      MERIDIAN_RETURN_IF_ERROR(visit({"h." + std::to_string(l) + "." + t.suffix, std::move(shape),
                                      layout.LayerOffset(t.index, l), t.conv1d}));
    }
  }
  MERIDIAN_RETURN_IF_ERROR(visit({"ln_f.weight", {C}, layout.tensor(kLnfw).offset, false}));
  return visit({"ln_f.bias", {C}, layout.tensor(kLnfb).offset, false});
}

// dst[c][r] = src[r][c] for src of rows x cols.
void Transpose(const float* src, size_t rows, size_t cols, float* dst) {
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < cols; ++c) dst[c * rows + r] = src[r * cols + c];
  }
}

enum class NameKind { kModel, kBuffer, kUnexpected };

// What a name under the model's prefix is: one of GPT-2's tensors of this
// config, an attention mask buffer (older checkpoints save them), or
// something GPT-2 of this config lacks (another layer count, say).
NameKind Classify(const std::string& name, int n_layer) {
  if (name == "wte.weight" || name == "wpe.weight" || name == "ln_f.weight" || name == "ln_f.bias") {
    return NameKind::kModel;
  }
  if (name.rfind("h.", 0) != 0) return NameKind::kUnexpected;
  size_t i = 2;
  long layer = 0;
  while (i < name.size() && i < 11 && name[i] >= '0' && name[i] <= '9') layer = layer * 10 + (name[i++] - '0');
  if (i == 2 || i >= name.size() || name[i] != '.' || (name[2] == '0' && i > 3) || layer >= n_layer) {
    return NameKind::kUnexpected;
  }
  const std::string suffix = name.substr(i + 1);
  if (suffix == "attn.bias" || suffix == "attn.masked_bias") return NameKind::kBuffer;
  for (const LayerTensor& t : kLayerTensors) {
    if (suffix == t.suffix) return NameKind::kModel;
  }
  return NameKind::kUnexpected;
}

// Names of the model's tensors in this file: "transformer.x" (as
// GPT2LMHeadModel saves) or bare "x" (as GPT2Model saves).
bool UnderModel(const std::string& name, const std::string& prefix) {
  if (!prefix.empty()) return name.rfind(prefix, 0) == 0;
  for (const char* start : {"h.", "wte.", "wpe.", "ln_f."}) {
    if (name.rfind(start, 0) == 0) return true;
  }
  return false;
}

struct HfFiles {
  std::string weights;
  std::string config;
};

Result<HfFiles> LocateFiles(const std::string& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) {
    return HfFiles{path, HfConfigPath(path)};
  }
  const fs::path dir(path);
  HfFiles files{(dir / kHfWeightsFile).string(), (dir / kHfConfigFile).string()};
  if (!fs::exists(files.weights, ec)) {
    if (fs::exists(dir / "model.safetensors.index.json", ec)) {
      return Status::NotFound(path + ": holds a sharded checkpoint (model.safetensors.index.json); Meridian reads "
                                     "one model.safetensors (save_pretrained with a larger max_shard_size)");
    }
    if (fs::exists(dir / "pytorch_model.bin", ec)) {
      return Status::NotFound(path + ": holds pytorch_model.bin but no model.safetensors; save the model with "
                                     "save_pretrained(..., safe_serialization=True)");
    }
    return Status::NotFound(files.weights + ": no such file (a Hugging Face GPT-2 directory holds " +
                            kHfWeightsFile + " and " + kHfConfigFile + ")");
  }
  return files;
}

Result<GPTConfig> ReadConfig(const std::string& path) {
  MERIDIAN_ASSIGN_OR_RETURN(const std::string text, hf_config::ReadConfigText(path));
  return ParseHfGpt2Config(text, path);
}

// Every tensor the config needs is present, float, and of its shape, so
// that the allocation that follows is backed by bytes the file holds.
Status CheckTensors(const SafetensorsFile& file, const GPTConfig& c, const std::string& prefix) {
  return ForEachHfTensor(c, [&](const HfTensor& t) -> Status {
    const std::string name = prefix + t.name;
    const SafetensorsTensorInfo* found = file.Find(name);
    if (found == nullptr) {
      return Status::Corruption(file.path() + ": tensor '" + name + "' is missing (expected shape " +
                                FormatShape(t.shape) + " for " + DescribeConfig(c) + ")");
    }
    if (found->shape != t.shape) {
      return Status::Corruption(file.path() + ": tensor '" + name + "' has shape " + FormatShape(found->shape) +
                                ", expected " + FormatShape(t.shape) + " for " + DescribeConfig(c));
    }
    if (!IsFloatSafetensorsDtype(found->dtype)) {
      return Status::InvalidArgument(file.path() + ": tensor '" + name + "' has dtype " + found->dtype +
                                     "; weights must be F32, F16 or BF16");
    }
    return Status::OK();
  });
}

Status CheckNoStrayTensors(const SafetensorsFile& file, const GPTConfig& c, const std::string& prefix) {
  for (const SafetensorsTensorInfo& t : file.tensors()) {
    if (!UnderModel(t.name, prefix)) continue;
    if (Classify(t.name.substr(prefix.size()), c.n_layer) == NameKind::kUnexpected) {
      return Status::Corruption(file.path() + ": tensor '" + t.name.substr(0, 120) + "' is not part of GPT-2 " +
                                DescribeConfig(c) + " as config.json describes it");
    }
  }
  return Status::OK();
}

// Meridian's LM head is wte itself; a separately trained head cannot load.
Status CheckHeadIsTied(const SafetensorsFile& file, const GPTConfig& c, const std::string& wte_name,
                       const float* wte) {
  const SafetensorsTensorInfo* head = file.Find("lm_head.weight");
  if (head == nullptr) return Status::OK();
  const std::vector<uint64_t> expected = {uint64_t(c.vocab_size), uint64_t(c.n_embd)};
  if (head->shape != expected) {
    return Status::Corruption(file.path() + ": tensor 'lm_head.weight' has shape " + FormatShape(head->shape) +
                              ", expected " + FormatShape(expected) + " (tied to " + wte_name + ")");
  }
  std::vector<float> values(static_cast<size_t>(head->num_elements));
  MERIDIAN_RETURN_IF_ERROR(file.ReadFloat32(*head, values.data()));
  if (std::memcmp(values.data(), wte, values.size() * sizeof(float)) != 0) {
    return Status::InvalidArgument(file.path() + ": 'lm_head.weight' differs from '" + wte_name +
                                   "'; Meridian ties the LM head to the token embedding and cannot load an untied "
                                   "head");
  }
  return Status::OK();
}

}  // namespace

Result<LlmcModel> ReadHfGpt2(const std::string& path) {
  MERIDIAN_ASSIGN_OR_RETURN(HfFiles files, LocateFiles(path));
  MERIDIAN_ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::Open(files.weights));
  LlmcModel model;
  MERIDIAN_ASSIGN_OR_RETURN(model.config, ReadConfig(files.config));
  const GPTConfig& c = model.config;
  const std::optional<uint64_t> count = checkpoint_io::CheckedParameterCount(c);
  if (!count) {
    return Status::InvalidArgument(files.config + ": describes an impossibly large model (" + DescribeConfig(c) +
                                   ")");
  }

  const bool prefixed = file.Find(std::string(kPrefix) + "wte.weight") != nullptr;
  if (prefixed && file.Find("wte.weight") != nullptr) {
    return Status::Corruption(files.weights + ": holds both 'transformer.wte.weight' and 'wte.weight'; cannot "
                                              "tell which model to load");
  }
  const std::string prefix = prefixed || file.Find("wte.weight") == nullptr ? kPrefix : "";
  MERIDIAN_RETURN_IF_ERROR(CheckTensors(file, c, prefix));
  MERIDIAN_RETURN_IF_ERROR(CheckNoStrayTensors(file, c, prefix));

  // Zero-filled, so the padded wte rows (absent from the file) are zero.
  model.params.assign(static_cast<size_t>(*count), 0.0f);
  float* params = model.params.data();
  std::vector<float> staging;
  MERIDIAN_RETURN_IF_ERROR(ForEachHfTensor(c, [&](const HfTensor& t) -> Status {
    const SafetensorsTensorInfo& info = *file.Find(prefix + t.name);
    if (!t.conv1d) return file.ReadFloat32(info, params + t.offset);
    staging.resize(static_cast<size_t>(t.count()));
    MERIDIAN_RETURN_IF_ERROR(file.ReadFloat32(info, staging.data()));
    Transpose(staging.data(), t.shape[0], t.shape[1], params + t.offset);
    return Status::OK();
  }));
  MERIDIAN_RETURN_IF_ERROR(CheckHeadIsTied(file, c, prefix + "wte.weight", params));
  return model;
}

Status WriteHfGpt2(const std::string& dir, const GPTConfig& config, const float* params) {
  if (config.llama()) return Status::InvalidArgument(dir + ": the model is llama, not gpt2; write it with WriteHfLlama");
  MERIDIAN_RETURN_IF_ERROR(PrepareHfExport(dir, config, params));

  // Conv1D weights need a transposed copy; everything else (wte's first V
  // rows included) is written from `params` in place.
  std::vector<std::vector<float>> transposed;
  std::vector<SafetensorsTensorView> views;
  MERIDIAN_RETURN_IF_ERROR(ForEachHfTensor(config, [&](const HfTensor& t) -> Status {
    const float* data = params + t.offset;
    if (t.conv1d) {
      std::vector<float>& copy = transposed.emplace_back(static_cast<size_t>(t.count()));
      Transpose(data, t.shape[1], t.shape[0], copy.data());  // llm.c [out, in] -> [in, out]
      data = copy.data();
    }
    views.push_back({kPrefix + t.name, t.shape, data});
    return Status::OK();
  }));
  const fs::path root(dir);
  // transformers refuses safetensors files without format metadata.
  MERIDIAN_RETURN_IF_ERROR(WriteSafetensors((root / kHfWeightsFile).string(), views, {{"format", "pt"}}));
  const std::string text = FormatHfGpt2Config(config);
  return checkpoint_io::WriteFileAtomically((root / kHfConfigFile).string(), {{text.data(), text.size()}});
}

}  // namespace meridian
