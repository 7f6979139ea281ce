#include "runtime/checkpoint/manifest.h"

#include <cctype>
#include <climits>
#include <cstdint>
#include <vector>

#include "runtime/checkpoint/file_io.h"
#include "runtime/checkpoint/json_fields.h"
#include "runtime/model/parameter_layout.h"

namespace meridian::checkpoint_manifest {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

Result<FileEntry> ParseFileEntry(const json& object, const std::string& name,
                                 const std::string& path) {
  FieldReader r(object, name, path);
  FileEntry e;
  MERIDIAN_ASSIGN_OR_RETURN(e.file, r.GetString("file"));
  MERIDIAN_ASSIGN_OR_RETURN(e.bytes, r.GetUnsigned("bytes"));
  MERIDIAN_ASSIGN_OR_RETURN(e.xxh64, r.GetString("xxh64"));
  // A name with a slash could point the loader outside the step directory.
  if (!IsPlainFileName(e.file)) {
    return r.Bad(r.Name("file"), "must be a plain file name, found '" + e.file + "'");
  }
  return e;
}

// The per-tensor entries must describe exactly the layout the config
// implies; anything else means the manifest and the data disagree.
Status CheckTensors(const json& tensors, const GPTConfig& config, const std::string& path) {
  const ParameterLayout layout(config, WholeModel(config));
  // Manifests written before lm_head existed list the 16 GPT-2 tensors.
  const bool before_lm_head = tensors.is_array() && tensors.size() == kNumParamTensors - 1 && !config.llama();
  if (!tensors.is_array() || (tensors.size() != kNumParamTensors && !before_lm_head)) {
    return Status::Corruption(path + ": manifest field 'tensors' must be an array of " +
                              std::to_string(kNumParamTensors) + " entries");
  }
  for (int i = 0; i < (int)tensors.size(); ++i) {
    const ParamTensorInfo& want = layout.tensor(i);
    const std::string name = "tensors[" + std::to_string(i) + "]";
    FieldReader r(tensors[i], name, path);
    MERIDIAN_ASSIGN_OR_RETURN(std::string tname, r.GetString("name"));
    MERIDIAN_ASSIGN_OR_RETURN(uint64_t offset, r.GetUnsigned("offset"));
    MERIDIAN_ASSIGN_OR_RETURN(uint64_t count, r.GetUnsigned("count"));
    MERIDIAN_ASSIGN_OR_RETURN(const json* shape, r.Get("shape"));
    if (tname != want.name || offset != want.offset || count != want.count) {
      return r.Bad(name, "(" + tname + " at offset " + std::to_string(offset) + ", count " +
                             std::to_string(count) + ") disagrees with the model config, which "
                             "puts " + want.name + " at offset " + std::to_string(want.offset) +
                             ", count " + std::to_string(want.count));
    }
    if (!shape->is_array() || *shape != json(want.shape)) {
      return r.Bad(name + ".shape", "disagrees with the model config's shape for " + want.name);
    }
  }
  return Status::OK();
}

// The architecture and Llama's shapes; a manifest without "arch" predates
// Llama and holds GPT-2.
Status ParseArchFields(const FieldReader& mr, GPTConfig* c, const std::string& path) {
  if (!mr.Has("arch")) return Status::OK();
  MERIDIAN_ASSIGN_OR_RETURN(std::string arch, mr.GetString("arch"));
  Result<ModelArch> parsed = kModelArchs.Parse(arch);
  if (!parsed.ok()) return mr.Bad("model.arch", "is \"" + arch + "\": expected " + kModelArchs.Choices());
  c->arch = *parsed;
  if (!c->llama()) return Status::OK();
  MERIDIAN_ASSIGN_OR_RETURN(c->n_kv_head, mr.GetInt("n_kv_head"));
  MERIDIAN_ASSIGN_OR_RETURN(c->ffn_hidden, mr.GetInt("ffn_hidden"));
  MERIDIAN_ASSIGN_OR_RETURN(c->rope_theta, mr.GetDouble("rope_theta"));
  MERIDIAN_ASSIGN_OR_RETURN(double eps, mr.GetDouble("norm_eps"));
  c->norm_eps = (float)eps;
  MERIDIAN_ASSIGN_OR_RETURN(c->tie_embeddings, mr.GetBool("tie_embeddings"));
  MERIDIAN_ASSIGN_OR_RETURN(const json* scaling, mr.GetObject("rope_scaling"));
  FieldReader sr(*scaling, "model.rope_scaling", path);
  MERIDIAN_ASSIGN_OR_RETURN(c->rope_scaling.factor, sr.GetDouble("factor"));
  MERIDIAN_ASSIGN_OR_RETURN(c->rope_scaling.low_freq_factor, sr.GetDouble("low_freq_factor"));
  MERIDIAN_ASSIGN_OR_RETURN(c->rope_scaling.high_freq_factor, sr.GetDouble("high_freq_factor"));
  MERIDIAN_ASSIGN_OR_RETURN(c->rope_scaling.original_max_position_embeddings,
                            sr.GetInt("original_max_position_embeddings"));
  return Status::OK();
}

Status CheckFileSize(const FileEntry& e, const char* field, uint64_t expected_bytes,
                     const std::string& path) {
  if (e.bytes != expected_bytes) {
    return Status::Corruption(path + ": manifest field 'files." + field + ".bytes' is " +
                              std::to_string(e.bytes) + " but the model config needs " +
                              std::to_string(expected_bytes) + " bytes");
  }
  return Status::OK();
}

// The version 1 part: one whole-model file per array.
Result<Manifest> ParseVersion1(const json& root, const std::string& path) {
  FieldReader top(root, "", path);
  MERIDIAN_ASSIGN_OR_RETURN(int version, ParseManifestVersion(root, path));
  if (version != kFormatVersion) {
    return top.Bad("version", "is " + std::to_string(version) + ", expected " +
                                  std::to_string(kFormatVersion) + " here");
  }
  Manifest m;
  MERIDIAN_ASSIGN_OR_RETURN(m.run, ParseRunFields(root, path));

  MERIDIAN_ASSIGN_OR_RETURN(const json* files, top.GetObject("files"));
  FieldReader fr(*files, "files", path);
  const uint64_t bytes = m.run.num_parameters * sizeof(float);  // CheckedParameterCount leaves headroom
  MERIDIAN_ASSIGN_OR_RETURN(const json* model_file, fr.GetObject("model"));
  MERIDIAN_ASSIGN_OR_RETURN(m.model, ParseFileEntry(*model_file, "files.model", path));
  MERIDIAN_RETURN_IF_ERROR(CheckFileSize(m.model, "model", bytes, path));
  const bool has_m = files->contains("adam_m"), has_v = files->contains("adam_v");
  if (has_m != has_v) {
    return fr.Bad(has_m ? "files.adam_v" : "files.adam_m",
                  std::string("is missing while '") + (has_m ? "files.adam_m" : "files.adam_v") +
                      "' is present (optimizer state needs both moments)");
  }
  if (has_m) {
    MERIDIAN_ASSIGN_OR_RETURN(const json* fm, fr.GetObject("adam_m"));
    MERIDIAN_ASSIGN_OR_RETURN(const json* fv, fr.GetObject("adam_v"));
    MERIDIAN_ASSIGN_OR_RETURN(m.adam_m, ParseFileEntry(*fm, "files.adam_m", path));
    MERIDIAN_ASSIGN_OR_RETURN(m.adam_v, ParseFileEntry(*fv, "files.adam_v", path));
    MERIDIAN_RETURN_IF_ERROR(CheckFileSize(*m.adam_m, "adam_m", bytes, path));
    MERIDIAN_RETURN_IF_ERROR(CheckFileSize(*m.adam_v, "adam_v", bytes, path));
  }
  for (auto it = files->begin(); it != files->end(); ++it) {
    const std::string& name = it.key();
    if (name == "model" || name == "adam_m" || name == "adam_v") continue;
    const std::string field = "files." + name;
    if (!IsExtraArrayName(name)) return fr.Bad(field, "is not a valid array name");
    MERIDIAN_ASSIGN_OR_RETURN(const json* f, fr.GetObject(name.c_str()));
    MERIDIAN_ASSIGN_OR_RETURN(FileEntry e, ParseFileEntry(*f, field, path));
    MERIDIAN_RETURN_IF_ERROR(CheckFileSize(e, name.c_str(), bytes, path));
    m.extra_arrays[name] = e;
  }
  return m;
}

}  // namespace

bool IsExtraArrayName(const std::string& name) {
  if (name.empty() || name.size() > 64 || name[0] == '.') return false;
  if (name == "model" || name == "adam_m" || name == "adam_v") return false;
  for (char c : name)
    if (!std::isalnum((unsigned char)c) && c != '_' && c != '-' && c != '.') return false;
  return true;
}

Result<json> ParseManifestJson(const std::string& text, const std::string& path) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    return Status::Corruption(path + ": manifest is not valid JSON: " + e.what());
  }
}

Result<int> ParseManifestVersion(const json& root, const std::string& path) {
  FieldReader top(root, "", path);
  MERIDIAN_ASSIGN_OR_RETURN(std::string format, top.GetString("format"));
  if (format != kFormatName) {
    return top.Bad("format", "is '" + format + "', expected '" + kFormatName + "'");
  }
  MERIDIAN_ASSIGN_OR_RETURN(uint64_t version, top.GetUnsigned("version"));
  if (version != static_cast<uint64_t>(kFormatVersion) &&
      version != static_cast<uint64_t>(kShardedFormatVersion)) {
    return top.Bad("version", "is " + std::to_string(version) + ", this build reads versions " +
                                  std::to_string(kFormatVersion) + " and " +
                                  std::to_string(kShardedFormatVersion));
  }
  return static_cast<int>(version);
}

Result<RunFields> ParseRunFields(const json& root, const std::string& path) {
  FieldReader top(root, "", path);
  RunFields m;
  MERIDIAN_ASSIGN_OR_RETURN(uint64_t step, top.GetUnsigned("step"));
  if (step > static_cast<uint64_t>(INT64_MAX)) return top.Bad("step", "is out of range");
  m.step = static_cast<int64_t>(step);

  MERIDIAN_ASSIGN_OR_RETURN(const json* model, top.GetObject("model"));
  FieldReader mr(*model, "model", path);
  MERIDIAN_ASSIGN_OR_RETURN(m.config.max_seq_len, mr.GetInt("max_seq_len"));
  MERIDIAN_ASSIGN_OR_RETURN(m.config.vocab_size, mr.GetInt("vocab_size"));
  MERIDIAN_ASSIGN_OR_RETURN(m.config.padded_vocab_size, mr.GetInt("padded_vocab_size"));
  MERIDIAN_ASSIGN_OR_RETURN(m.config.n_layer, mr.GetInt("n_layer"));
  MERIDIAN_ASSIGN_OR_RETURN(m.config.n_head, mr.GetInt("n_head"));
  MERIDIAN_ASSIGN_OR_RETURN(m.config.n_embd, mr.GetInt("n_embd"));
  MERIDIAN_RETURN_IF_ERROR(ParseArchFields(mr, &m.config, path));
  Status valid = ValidateConfig(m.config);
  if (!valid.ok()) return Status::Corruption(path + ": " + valid.message());
  const std::optional<uint64_t> count = checkpoint_io::CheckedParameterCount(m.config);
  if (!count) return mr.Bad("model", "describes an impossibly large model");

  MERIDIAN_ASSIGN_OR_RETURN(m.num_parameters, top.GetUnsigned("num_parameters"));
  if (m.num_parameters != *count) {
    return top.Bad("num_parameters", "is " + std::to_string(m.num_parameters) +
                                         " but the model config (" + DescribeConfig(m.config) +
                                         ") has " + std::to_string(*count) + " parameters");
  }
  MERIDIAN_ASSIGN_OR_RETURN(const json* tensors, top.Get("tensors"));
  MERIDIAN_RETURN_IF_ERROR(CheckTensors(*tensors, m.config, path));

  MERIDIAN_ASSIGN_OR_RETURN(const json* data, top.GetObject("train_data"));
  FieldReader dr(*data, "train_data", path);
  MERIDIAN_ASSIGN_OR_RETURN(m.train_data.epoch, dr.GetUnsigned("epoch"));
  MERIDIAN_ASSIGN_OR_RETURN(m.train_data.shard_index, dr.GetUnsigned("shard_index"));
  MERIDIAN_ASSIGN_OR_RETURN(m.train_data.token_offset, dr.GetUnsigned("token_offset"));
  MERIDIAN_ASSIGN_OR_RETURN(m.rng_state, top.GetUnsigned("rng_state"));
  MERIDIAN_ASSIGN_OR_RETURN(const json* extra, top.Get("extra"));
  m.extra = *extra;
  return m;
}

Result<std::string> RenderManifestText(const RunFields& run, int version, const ordered_json& layout) {
  // ordered_json keeps the fields in the order written here (format and
  // step first), which is what a person opening the file wants to see.
  const ParameterLayout tensor_layout(run.config, WholeModel(run.config));
  ordered_json tensors = ordered_json::array();
  for (const ParamTensorInfo& t : tensor_layout.tensors()) {
    tensors.push_back(ordered_json{{"name", t.name}, {"offset", t.offset}, {"count", t.count},
                                   {"shape", t.shape}});
  }
  const GPTConfig& c = run.config;
  ordered_json model = {{"arch", kModelArchs.Name(c.arch)},
                        {"max_seq_len", c.max_seq_len},
                        {"vocab_size", c.vocab_size},
                        {"padded_vocab_size", c.padded_vocab_size},
                        {"n_layer", c.n_layer},
                        {"n_head", c.n_head},
                        {"n_embd", c.n_embd}};
  if (c.llama()) {
    model["n_kv_head"] = c.kv_heads();
    model["ffn_hidden"] = c.ffn_size();
    model["rope_theta"] = c.rope_theta;
    model["rope_scaling"] = {{"factor", c.rope_scaling.factor},
                             {"low_freq_factor", c.rope_scaling.low_freq_factor},
                             {"high_freq_factor", c.rope_scaling.high_freq_factor},
                             {"original_max_position_embeddings", c.rope_scaling.original_max_position_embeddings}};
    model["norm_eps"] = c.norm_eps;
    model["tie_embeddings"] = c.tie_embeddings;
  }
  try {
    ordered_json root = {
        {"format", kFormatName},
        {"version", version},
        {"step", run.step},
        {"model", model},
        {"num_parameters", run.num_parameters},
        {"train_data", {{"epoch", run.train_data.epoch}, {"shard_index", run.train_data.shard_index},
                        {"token_offset", run.train_data.token_offset}}},
        {"rng_state", run.rng_state},
    };
    for (auto it = layout.begin(); it != layout.end(); ++it) root[it.key()] = it.value();
    root["tensors"] = std::move(tensors);
    // The two json flavours do not convert into each other directly.
    root["extra"] = ordered_json::parse(run.extra.dump());
    return root.dump(2) + "\n";
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(std::string("checkpoint extra cannot be written as JSON: ") +
                                   e.what());
  }
}

Result<std::string> RenderManifest(const Manifest& m) {
  auto file_entry = [](const FileEntry& e) {
    return ordered_json{{"file", e.file}, {"bytes", e.bytes}, {"xxh64", e.xxh64}};
  };
  ordered_json files = ordered_json::object();
  files["model"] = file_entry(m.model);
  if (m.adam_m) files["adam_m"] = file_entry(*m.adam_m);
  if (m.adam_v) files["adam_v"] = file_entry(*m.adam_v);
  for (const auto& [name, e] : m.extra_arrays) files[name] = file_entry(e);
  ordered_json layout = ordered_json::object();
  layout["files"] = std::move(files);
  return RenderManifestText(m.run, kFormatVersion, layout);
}

Result<Manifest> ParseManifest(const std::string& text, const std::string& path) {
  MERIDIAN_ASSIGN_OR_RETURN(json root, ParseManifestJson(text, path));
  try {
    return ParseVersion1(root, path);
  } catch (const json::exception& e) {
    // The reader checks types before every get(); this is a safety net so
    // no exception ever crosses the module boundary.
    return Status::Corruption(path + ": malformed manifest: " + e.what());
  }
}

}  // namespace meridian::checkpoint_manifest
