// Hostile safetensors files (--init-from of a Hugging Face GPT-2 model):
// SafetensorsFile and ReadHfGpt2 must return the tensors/model or an error
// naming the file, never crash or allocate what the file does not hold.
// The input is model.safetensors in a directory whose config.json is fixed
// (the seed corpus is an export of that config, so mutations reach the
// tensor mapping and not only the header checks).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "runtime/checkpoint/hf_gpt2.h"
#include "runtime/checkpoint/safetensors.h"
#include "tests/fuzz/fuzz_scratch.h"

namespace {

// L1 H2 C8 V16 maxT8, as tests/fuzz/corpus/safetensors_fuzz/ was written.
constexpr char kConfig[] = R"({"model_type": "gpt2", "n_layer": 1, "n_head": 2, "n_embd": 8, "vocab_size": 16,
  "n_positions": 8, "layer_norm_epsilon": 1e-05, "activation_function": "gelu_new"})";

const std::filesystem::path& ModelDir() {
  static const std::filesystem::path dir = [] {
    std::filesystem::path d = meridian::fuzz::ScratchDir() / "hf";
    std::filesystem::create_directories(d);
    meridian::fuzz::WriteBytes(d / "config.json", kConfig);
    return d;
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = ModelDir() / "model.safetensors";
  meridian::fuzz::WriteBytes(path, meridian::fuzz::AsText(data, size));
  auto file = meridian::SafetensorsFile::Open(path.string());
  if (file.ok()) {
    for (const meridian::SafetensorsTensorInfo& t : file->tensors()) {
      if (!meridian::IsFloatSafetensorsDtype(t.dtype)) continue;
      std::vector<float> values(static_cast<size_t>(t.num_elements));
      (void)file->ReadFloat32(t, values.data());
    }
  }
  (void)meridian::ReadHfGpt2(ModelDir().string());
  return 0;
}
