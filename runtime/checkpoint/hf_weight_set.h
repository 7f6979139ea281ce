// The weights of a Hugging Face model directory as one set of named
// tensors, whether save_pretrained wrote them to one model.safetensors or
// split them into shards listed by model.safetensors.index.json
// (docs/formats.md "Hugging Face Llama"):
//
//   {"metadata": {"total_size": <bytes of all tensors>},
//    "weight_map": {"<tensor>": "model-00001-of-00002.safetensors", ...}}
//
// Shared by the architectures' readers and writers (internal to
// runtime/checkpoint).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "runtime/model/gpt_config.h"
#include "runtime/checkpoint/safetensors.h"

namespace meridian {

inline constexpr char kHfWeightsFile[] = "model.safetensors";
inline constexpr char kHfConfigFile[] = "config.json";
inline constexpr char kHfIndexFile[] = "model.safetensors.index.json";

// Exports split into shards above this size (each shard holds at most this
// many bytes of tensors, unless one tensor alone is larger).
inline constexpr uint64_t kHfDefaultMaxShardBytes = uint64_t{2} << 30;

// config.json of the model at `path`: inside it when it is a directory,
// beside it when it is a file.
std::string HfConfigPath(const std::string& path);

// One tensor of a set and the file that holds it.
struct HfWeightEntry {
  const SafetensorsFile* file = nullptr;
  const SafetensorsTensorInfo* info = nullptr;
};

// Open safetensors files seen as one name -> tensor map. Move-only.
class HfWeightSet {
 public:
  // `path` is a directory holding model.safetensors or, instead of it,
  // model.safetensors.index.json and the shards it names; or one
  // .safetensors file. Errors name the file:
  //   NotFound    no weights in the directory (pytorch_model.bin is named as
  //               such), or a shard the index names does not exist (the
  //               index and the tensor that needs it are named too);
  //   Corruption  both model.safetensors and an index (which is current?),
  //               an index that is not an object with a "weight_map" of
  //               tensor -> plain file name, a tensor the index maps to a
  //               shard that lacks it, a shard tensor the index does not map
  //               to that shard, or a malformed safetensors file.
  static Result<HfWeightSet> Open(const std::string& path);

  // The file or index read: what messages about the set as a whole name.
  const std::string& source() const { return source_; }
  // nullptr when no file of the set holds `name`.
  const HfWeightEntry* Find(const std::string& name) const;
  // Every tensor, by name.
  const std::map<std::string, HfWeightEntry>& tensors() const { return tensors_; }

 private:
  std::vector<std::unique_ptr<SafetensorsFile>> files_;  // stable addresses for the entries
  std::map<std::string, HfWeightEntry> tensors_;
  std::string source_;
};

// Writes `tensors` (float32, in the given order) into `dir`, which must
// exist: as one model.safetensors when their bytes total at most
// `max_shard_bytes`, otherwise as model-0000i-of-0000n.safetensors shards
// (filled in order, a new shard whenever the next tensor would pass the
// limit) and model.safetensors.index.json, as save_pretrained writes them.
// Every file is written atomically and carries {"format": "pt"} metadata;
// the index is written after its shards. Weights of an earlier export that
// the new one does not use (model.safetensors, an index, other shards) are
// removed afterwards. InvalidArgument for max_shard_bytes 0 or a tensor
// WriteSafetensors refuses; IOError when writing or removing fails.
Status WriteHfWeights(const std::string& dir, const std::vector<SafetensorsTensorView>& tensors,
                      uint64_t max_shard_bytes = kHfDefaultMaxShardBytes);

// What every Hugging Face writer checks first: a valid config, weights
// given, a writable size; then creates `dir`. InvalidArgument naming `dir`
// and the defect; IOError when the directory cannot be made.
Status PrepareHfExport(const std::string& dir, const GPTConfig& config, const float* params);

}  // namespace meridian
