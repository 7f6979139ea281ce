#include "common/yaml_cli_config.h"

#include <algorithm>
#include <sstream>

#include <yaml-cpp/yaml.h>

namespace meridian {

namespace {

// Sections whose keys are options themselves, so that a job file's
// `model:`, `training:` and `layout:` maps read as a config file of the
// same options (model.preset is --preset, layout.dp is --dp).
bool IsOptionSection(const std::vector<std::string>& parents, const std::string& key) {
  return parents.empty() && (key == "model" || key == "training" || key == "layout");
}

// A job file's fields for the scheduler alone: a config ignores them.
bool IsJobOnlyField(const std::vector<std::string>& parents, const std::string& key) {
  return parents.empty() && (key == "name" || key == "data-centers" || key == "max-restarts");
}

void Flatten(const YAML::Node& node, std::vector<std::string>& parents, std::vector<CLI::ConfigItem>& out) {
  for (const auto& kv : node) {
    std::string key = kv.first.as<std::string>();
    std::replace(key.begin(), key.end(), '_', '-');
    const YAML::Node& value = kv.second;
    if (IsJobOnlyField(parents, key)) continue;
    if (value.IsMap() && IsOptionSection(parents, key)) {
      Flatten(value, parents, out);
      continue;
    }
    if (value.IsMap()) {
      parents.push_back(key);
      Flatten(value, parents, out);
      parents.pop_back();
      continue;
    }
    CLI::ConfigItem item;
    item.parents = parents;
    item.name = key;
    if (key == "extra-args" && value.IsSequence() && parents.empty()) {
      // A job's training.extra_args are meridian-train options already.
      throw CLI::ConversionError("YAML config",
                                 "training.extra_args: give these options as keys of their own in a config file");
    }
    if (value.IsSequence()) {
      for (const auto& v : value) item.inputs.push_back(v.as<std::string>());
    } else if (value.IsNull()) {
      item.inputs.push_back("");
    } else {
      item.inputs.push_back(value.as<std::string>());
    }
    out.push_back(std::move(item));
  }
}

}  // namespace

std::string YamlCliConfig::to_config(const CLI::App* app, bool default_also, bool, std::string) const {
  // yaml-cpp quotes what needs it (a prompt of "\n", a glob starting with
  // '*'), so the text loads back to the same values.
  YAML::Emitter out;
  out << YAML::BeginMap;
  for (const CLI::Option* opt : app->get_options()) {
    if (opt->get_lnames().empty() || !opt->get_configurable()) continue;
    const std::string& name = opt->get_lnames()[0];
    // What asks for an action rather than sets an option.
    if (name == "help" || name == "version" || name == "config" || name == "print-config") continue;
    if (opt->count() == 0 && !default_also) continue;
    std::vector<std::string> values =
        opt->count() > 0 ? opt->reduced_results() : std::vector<std::string>{opt->get_default_str()};
    out << YAML::Key << name << YAML::Value;
    if (opt->get_expected_min() == 0) {  // a flag
      const std::string& v = values.empty() ? std::string("false") : values.back();
      out << (v == "true" || v == "1" || v == "on" || v == "yes");
    } else if (values.size() == 1) {
      out << values[0];
    } else {
      out << YAML::Flow << values;
    }
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

std::vector<CLI::ConfigItem> YamlCliConfig::from_config(std::istream& input) const {
  std::vector<CLI::ConfigItem> items;
  YAML::Node root;
  try {
    root = YAML::Load(input);
  } catch (const YAML::Exception& e) {
    throw CLI::ConversionError("YAML config", std::string("line ") + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  if (root.IsNull()) return items;
  if (!root.IsMap()) throw CLI::ConversionError("YAML config", "the top level must be a map of option: value");
  std::vector<std::string> parents;
  Flatten(root, parents, items);
  return items;
}

}  // namespace meridian
