#include "runtime/checkpoint/hf_weight_set.h"

#include <cstdio>
#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>

#include "runtime/checkpoint/file_io.h"
#include "runtime/checkpoint/hf_config_fields.h"
#include "runtime/checkpoint/json_fields.h"

namespace meridian {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// An index lists every tensor once; a 405B model's is ~100 KB.
constexpr uint64_t kMaxIndexBytes = 64 << 20;

// "model-00002-of-00005.safetensors", as save_pretrained names shards.
std::string ShardName(size_t i, size_t n) {
  char name[64];
  std::snprintf(name, sizeof(name), "model-%05zu-of-%05zu.safetensors", i + 1, n);
  return name;
}

bool LooksLikeShardName(const std::string& name) {
  const std::string suffix = ".safetensors";
  return name.rfind("model-", 0) == 0 && name.find("-of-") != std::string::npos && name.size() > suffix.size() &&
         name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Removes what an earlier export left in `dir` that the new one does not
// use; `keep` are the weight files just written.
Status RemoveStaleWeights(const fs::path& dir, const std::set<std::string>& keep) {
  std::error_code ec;
  std::vector<fs::path> stale;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (keep.count(name) != 0) continue;
    if (name == kHfWeightsFile || name == kHfIndexFile || LooksLikeShardName(name)) stale.push_back(e.path());
  }
  if (ec) return Status::IOError(dir.string() + ": cannot list: " + ec.message());
  for (const fs::path& p : stale) {
    if (!fs::remove(p, ec) && ec) return Status::IOError(p.string() + ": cannot remove stale weights: " + ec.message());
  }
  return stale.empty() ? Status::OK() : checkpoint_io::SyncDirectory(dir.string());
}

}  // namespace

std::string HfConfigPath(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return (fs::path(path) / kHfConfigFile).string();
  return (fs::path(checkpoint_io::ParentDirectory(path)) / kHfConfigFile).string();
}

Result<HfWeightSet> HfWeightSet::Open(const std::string& path) {
  HfWeightSet set;
  std::error_code ec;
  if (!fs::is_directory(path, ec)) {
    MERIDIAN_ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::Open(path));
    set.source_ = path;
    set.files_.push_back(std::make_unique<SafetensorsFile>(std::move(file)));
    for (const SafetensorsTensorInfo& t : set.files_.back()->tensors()) {
      set.tensors_[t.name] = {set.files_.back().get(), &t};
    }
    return set;
  }

  const fs::path dir(path);
  const std::string single = (dir / kHfWeightsFile).string();
  const std::string index_path = (dir / kHfIndexFile).string();
  const bool has_single = fs::exists(single, ec);
  const bool has_index = fs::exists(index_path, ec);
  if (has_single && has_index) {
    return Status::Corruption(path + ": holds both " + kHfWeightsFile + " and " + kHfIndexFile +
                              "; remove whichever is stale");
  }
  if (has_single) return Open(single);
  if (!has_index) {
    if (fs::exists(dir / "pytorch_model.bin", ec) || fs::exists(dir / "pytorch_model.bin.index.json", ec)) {
      return Status::NotFound(path + ": holds pytorch_model.bin but no model.safetensors; save the model with "
                                     "save_pretrained(..., safe_serialization=True)");
    }
    return Status::NotFound(single + ": no such file (a Hugging Face model directory holds " + kHfWeightsFile +
                            " or " + kHfIndexFile + " with its shards, and " + kHfConfigFile + ")");
  }

  set.source_ = index_path;
  MERIDIAN_ASSIGN_OR_RETURN(const std::string text, hf_config::ReadConfigText(index_path, kMaxIndexBytes));
  MERIDIAN_ASSIGN_OR_RETURN(const json root,
                            hf_config::ParseConfigObject(text, index_path, "a safetensors index"));
  const hf_config::ConfigFields f(root, index_path);
  const json* map = f.Find("weight_map");
  if (map == nullptr) return f.Bad("weight_map", "is missing");
  if (!map->is_object()) return f.Bad("weight_map", "must be an object of tensor name -> shard file");
  const hf_config::ConfigFields m(*map, index_path, "weight_map");
  std::map<std::string, std::string> shard_of;     // tensor -> shard
  std::map<std::string, std::string> first_tensor;  // shard -> a tensor that needs it, for messages
  for (auto it = map->begin(); it != map->end(); ++it) {
    if (!it.value().is_string() || !checkpoint_manifest::IsPlainFileName(it.value().get<std::string>())) {
      return m.Bad(it.key(), "must name a shard file in the model directory, found " + it.value().dump());
    }
    const std::string shard = it.value().get<std::string>();
    shard_of[it.key()] = shard;
    first_tensor.emplace(shard, it.key());
  }

  std::map<std::string, const SafetensorsFile*> shards;
  for (const auto& [shard, tensor] : first_tensor) {
    Result<SafetensorsFile> file = SafetensorsFile::Open((dir / shard).string());
    if (!file.ok()) {
      if (file.status().code() != Status::Code::kNotFound) return file.status();
      return Status::NotFound(index_path + ": shard '" + shard + "' (holding tensor '" + tensor +
                              "') is missing: " + file.status().message());
    }
    set.files_.push_back(std::make_unique<SafetensorsFile>(std::move(*file)));
    shards[shard] = set.files_.back().get();
  }
  for (const auto& [shard, file] : shards) {
    for (const SafetensorsTensorInfo& t : file->tensors()) {
      auto it = shard_of.find(t.name);
      if (it == shard_of.end() || it->second != shard) {
        return Status::Corruption(file->path() + ": holds tensor '" + t.name.substr(0, 120) + "', which " +
                                  kHfIndexFile + " does not map to this shard");
      }
      set.tensors_[t.name] = {file, &t};
    }
  }
  for (const auto& [tensor, shard] : shard_of) {
    if (set.tensors_.count(tensor) == 0) {
      return Status::Corruption(index_path + ": maps tensor '" + tensor.substr(0, 120) + "' to shard '" + shard +
                                "', which does not hold it");
    }
  }
  return set;
}

const HfWeightEntry* HfWeightSet::Find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

Status WriteHfWeights(const std::string& dir, const std::vector<SafetensorsTensorView>& tensors,
                      uint64_t max_shard_bytes) {
  if (max_shard_bytes == 0) return Status::InvalidArgument(dir + ": the shard size limit must be positive");
  // Group the tensors into shards, in order.
  std::vector<std::vector<SafetensorsTensorView>> shards(1);
  uint64_t shard_bytes = 0, total_bytes = 0;
  for (const SafetensorsTensorView& t : tensors) {
    uint64_t bytes = sizeof(float);
    for (uint64_t d : t.shape) {
      if (__builtin_mul_overflow(bytes, d, &bytes)) {
        return Status::InvalidArgument(dir + ": tensor '" + t.name + "' shape " + FormatShape(t.shape) +
                                       " is too large");
      }
    }
    if (!shards.back().empty() && bytes > max_shard_bytes - std::min(shard_bytes, max_shard_bytes)) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().push_back(t);
    shard_bytes += bytes;
    total_bytes += bytes;
  }

  const fs::path root(dir);
  const std::map<std::string, std::string> metadata = {{"format", "pt"}};  // transformers requires it
  if (shards.size() == 1) {
    MERIDIAN_RETURN_IF_ERROR(WriteSafetensors((root / kHfWeightsFile).string(), shards[0], metadata));
    return RemoveStaleWeights(root, {kHfWeightsFile});
  }
  json weight_map = json::object();
  std::set<std::string> written;
  for (size_t i = 0; i < shards.size(); ++i) {
    const std::string name = ShardName(i, shards.size());
    MERIDIAN_RETURN_IF_ERROR(WriteSafetensors((root / name).string(), shards[i], metadata));
    for (const SafetensorsTensorView& t : shards[i]) weight_map[t.name] = name;
    written.insert(name);
  }
  const json index = {{"metadata", {{"total_size", total_bytes}}}, {"weight_map", weight_map}};
  const std::string text = index.dump(2) + "\n";
  MERIDIAN_RETURN_IF_ERROR(
      checkpoint_io::WriteFileAtomically((root / kHfIndexFile).string(), {{text.data(), text.size()}}));
  written.insert(kHfIndexFile);
  return RemoveStaleWeights(root, written);
}

Status PrepareHfExport(const std::string& dir, const GPTConfig& config, const float* params) {
  Status valid = ValidateConfig(config);
  if (!valid.ok()) return Status::InvalidArgument(dir + ": " + valid.message());
  if (params == nullptr) return Status::InvalidArgument(dir + ": params is null");
  if (!checkpoint_io::CheckedParameterCount(config)) {
    return Status::InvalidArgument(dir + ": model too large to write (" + DescribeConfig(config) + ")");
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IOError(dir + ": cannot create directory: " + ec.message());
  return Status::OK();
}

}  // namespace meridian
