#include "scheduler/cli/job_file.h"

#include <algorithm>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "proto/enum_words.h"

namespace meridian::scheduler {

namespace {

// Reads scalar `key` of map `node` into *out when present.
template <typename T>
Status Read(const YAML::Node& node, const std::string& key, const std::string& where, T* out) {
  const YAML::Node v = node[key];
  if (!v) return Status::OK();
  try {
    *out = v.as<T>();
  } catch (const YAML::Exception&) {
    return Status::InvalidArgument(where + "." + key + ": '" + YAML::Dump(v) + "' is not a valid value");
  }
  return Status::OK();
}

Status CheckKeys(const YAML::Node& node, const std::string& where, std::initializer_list<const char*> allowed) {
  if (!node.IsMap()) return Status::InvalidArgument(where + ": must be a map");
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>();
    bool ok = false;
    for (const char* a : allowed) ok |= key == a;
    if (!ok) return Status::InvalidArgument(where + "." + key + ": unknown field");
  }
  return Status::OK();
}

Status Parse(const YAML::Node& root, const std::string& f, v1::JobSpec* spec) {
  MERIDIAN_RETURN_IF_ERROR(
      CheckKeys(root, f, {"name", "model", "training", "layout", "data_centers", "max_restarts", "discard_checkpoints",
                          "dc_worlds", "priority", "tenant"}));
  std::string name;
  MERIDIAN_RETURN_IF_ERROR(Read(root, "name", f, &name));
  spec->set_name(name);
  if (root["discard_checkpoints"]) {
    bool discard = false;
    MERIDIAN_RETURN_IF_ERROR(Read(root, "discard_checkpoints", f, &discard));
    spec->set_discard_checkpoints(discard);
  }
  if (root["dc_worlds"]) {
    bool worlds = false;
    MERIDIAN_RETURN_IF_ERROR(Read(root, "dc_worlds", f, &worlds));
    spec->set_dc_worlds(worlds);
  }
  if (root["priority"]) {
    int priority = 0;
    MERIDIAN_RETURN_IF_ERROR(Read(root, "priority", f, &priority));
    spec->set_priority(priority);
  }
  if (root["tenant"]) {
    std::string tenant;
    MERIDIAN_RETURN_IF_ERROR(Read(root, "tenant", f, &tenant));
    spec->set_tenant(tenant);
  }
  if (root["max_restarts"]) {
    int max_restarts = 0;
    MERIDIAN_RETURN_IF_ERROR(Read(root, "max_restarts", f, &max_restarts));
    spec->set_max_restarts(max_restarts);
  }
  if (root["data_centers"]) {
    // Like Slurm's --partition: the job runs only in these data centers.
    const YAML::Node dcs = root["data_centers"];
    if (!dcs.IsSequence()) return Status::InvalidArgument(f + ": data_centers: must be a list of data center names");
    for (size_t i = 0; i < dcs.size(); ++i) {
      if (!dcs[i].IsScalar() || dcs[i].Scalar().empty())
        return Status::InvalidArgument(f + ": data_centers[" + std::to_string(i) + "]: must be a data center name");
      spec->add_data_centers(dcs[i].Scalar());
    }
  }
  if (root["model"]) {
    const YAML::Node m = root["model"];
    const std::string w = f + ": model";
    MERIDIAN_RETURN_IF_ERROR(CheckKeys(m, w, {"preset", "arch", "n_layer", "n_head", "n_embd", "n_kv_head", "ffn_hidden",
                                              "rope_theta", "tie_embeddings", "vocab_size", "max_seq_len"}));
    v1::ModelConfig* mc = spec->mutable_model();
    std::string preset, arch, tie;
    double rope_theta = 0;
    int v = 0;
    MERIDIAN_RETURN_IF_ERROR(Read(m, "preset", w, &preset));
    MERIDIAN_RETURN_IF_ERROR(Read(m, "arch", w, &arch));
    MERIDIAN_RETURN_IF_ERROR(Read(m, "tie_embeddings", w, &tie));
    MERIDIAN_RETURN_IF_ERROR(Read(m, "rope_theta", w, &rope_theta));
    mc->set_preset(preset);
    mc->set_arch(arch);
    mc->set_tie_embeddings(tie);
    mc->set_rope_theta(rope_theta);
    for (auto [key, setter] : std::initializer_list<std::pair<const char*, void (v1::ModelConfig::*)(int32_t)>>{
             {"n_layer", &v1::ModelConfig::set_n_layer}, {"n_head", &v1::ModelConfig::set_n_head},
             {"n_embd", &v1::ModelConfig::set_n_embd}, {"vocab_size", &v1::ModelConfig::set_vocab_size},
             {"max_seq_len", &v1::ModelConfig::set_max_seq_len}, {"n_kv_head", &v1::ModelConfig::set_n_kv_head},
             {"ffn_hidden", &v1::ModelConfig::set_ffn_hidden}}) {
      v = 0;
      MERIDIAN_RETURN_IF_ERROR(Read(m, key, w, &v));
      (mc->*setter)(v);
    }
  }
  v1::TrainingOptions* t = spec->mutable_training();
  t->set_batch(4);
  t->set_seq(64);
  t->set_microbatches(1);
  t->set_steps(100);
  t->set_lr(3e-4f);
  if (root["training"]) {
    const YAML::Node n = root["training"];
    const std::string w = f + ": training";
    if (!n.IsMap()) return Status::InvalidArgument(w + ": must be a map");
    int batch = t->batch(), seq = t->seq(), micro = t->microbatches(), sample = 0, threads = 0, zero = 0;
    long steps = t->steps(), warmup = 0, eval_every = 0;
    float lr = t->lr(), min_lr = 0;
    std::string data, val_data, prompt, device = "cpu", dtype = "fp32";
    MERIDIAN_RETURN_IF_ERROR(Read(n, "batch", w, &batch));
    MERIDIAN_RETURN_IF_ERROR(Read(n, "seq", w, &seq));
    MERIDIAN_RETURN_IF_ERROR(Read(n, "microbatches", w, &micro));
    MERIDIAN_RETURN_IF_ERROR(Read(n, "steps", w, &steps));
    MERIDIAN_RETURN_IF_ERROR(Read(n, "lr", w, &lr));
    MERIDIAN_RETURN_IF_ERROR(Read(n, "min_lr", w, &min_lr));
    MERIDIAN_RETURN_IF_ERROR(Read(n, "warmup", w, &warmup));
    MERIDIAN_RETURN_IF_ERROR(Read(n, "data", w, &data));
    MERIDIAN_RETURN_IF_ERROR(Read(n, "val_data", w, &val_data));
    MERIDIAN_RETURN_IF_ERROR(Read(n, "eval_every", w, &eval_every));
    MERIDIAN_RETURN_IF_ERROR(Read(n, "sample", w, &sample));
    MERIDIAN_RETURN_IF_ERROR(Read(n, "sample_prompt", w, &prompt));
    MERIDIAN_RETURN_IF_ERROR(Read(n, "threads", w, &threads));
    MERIDIAN_RETURN_IF_ERROR(Read(n, "zero", w, &zero));
    MERIDIAN_RETURN_IF_ERROR(Read(n, "device", w, &device));
    MERIDIAN_RETURN_IF_ERROR(Read(n, "dtype", w, &dtype));
    MERIDIAN_ASSIGN_OR_RETURN(v1::Device device_value, ParseEnumWord<v1::Device>(device, w + ".device"));
    MERIDIAN_ASSIGN_OR_RETURN(v1::DType dtype_value, ParseEnumWord<v1::DType>(dtype, w + ".dtype"));
    t->set_batch(batch);
    t->set_seq(seq);
    t->set_microbatches(micro);
    t->set_steps(steps);
    t->set_lr(lr);
    t->set_min_lr(min_lr);
    t->set_warmup(warmup);
    t->set_data(data);
    t->set_val_data(val_data);
    t->set_eval_every(eval_every);
    t->set_sample(sample);
    t->set_sample_prompt(prompt);
    t->set_threads(threads);
    t->set_zero(zero);
    t->set_device(device_value);
    t->set_dtype(dtype_value);
    if (n["extra_args"]) {
      if (!n["extra_args"].IsSequence()) return Status::InvalidArgument(w + ".extra_args: must be a list");
      for (const auto& a : n["extra_args"]) t->add_extra_args(a.as<std::string>());
    }
    // Any other key is a meridian-train option by its own name (weight_decay:
    // 0.1 is --weight-decay 0.1): one schema for a trainer config and a job's
    // training section. The daemon checks them as it checks extra_args.
    static const std::set<std::string> kFields = {"batch", "seq", "microbatches", "steps", "lr", "min_lr", "warmup",
                                                  "data", "val_data", "eval_every", "sample", "sample_prompt",
                                                  "threads", "zero", "extra_args", "device", "dtype"};
    for (const auto& kv : n) {
      const std::string key = kv.first.as<std::string>();
      if (kFields.count(key)) continue;
      if (!kv.second.IsScalar())
        return Status::InvalidArgument(w + "." + key + ": must be a single value (a meridian-train option)");
      std::string option = "--" + key;
      std::replace(option.begin(), option.end(), '_', '-');
      const std::string value = kv.second.Scalar();
      if (value == "true") t->add_extra_args(option);  // a flag
      else if (value != "false") t->add_extra_args(option + "=" + value);
    }
  }
  v1::Layout* l = spec->mutable_layout();
  l->set_dp(1);
  l->set_pp(1);
  if (root["layout"]) {
    const YAML::Node n = root["layout"];
    const std::string w = f + ": layout";
    MERIDIAN_RETURN_IF_ERROR(CheckKeys(n, w, {"dp", "pp", "auto", "gpus", "dp_sync", "tune_diloco"}));
    int dp = 1, pp = 1, gpus = 0;
    bool automatic = false, tune_diloco = false;
    std::string sync;
    MERIDIAN_RETURN_IF_ERROR(Read(n, "dp", w, &dp));
    MERIDIAN_RETURN_IF_ERROR(Read(n, "pp", w, &pp));
    MERIDIAN_RETURN_IF_ERROR(Read(n, "auto", w, &automatic));
    MERIDIAN_RETURN_IF_ERROR(Read(n, "gpus", w, &gpus));
    MERIDIAN_RETURN_IF_ERROR(Read(n, "dp_sync", w, &sync));
    MERIDIAN_RETURN_IF_ERROR(Read(n, "tune_diloco", w, &tune_diloco));
    MERIDIAN_ASSIGN_OR_RETURN(v1::DpSync sync_value, ParseEnumWord<v1::DpSync>(sync, w + ".dp_sync"));
    l->set_dp(dp);
    l->set_pp(pp);
    l->set_auto_layout(automatic);
    l->set_gpus(gpus);
    l->set_dp_sync(sync_value);
    l->set_tune_diloco(tune_diloco);
  }
  return Status::OK();
}

}  // namespace

Result<v1::JobSpec> ParseJobYaml(const std::string& text, const std::string& source) {
  v1::JobSpec spec;
  try {
    const YAML::Node root = YAML::Load(text);
    MERIDIAN_RETURN_IF_ERROR(Parse(root, source, &spec));
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(source + ": line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  return spec;
}

Result<v1::JobSpec> LoadJobFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound(path + ": cannot open job file");
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseJobYaml(ss.str(), path);
}

}  // namespace meridian::scheduler
