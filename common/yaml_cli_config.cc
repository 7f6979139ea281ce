#include "common/yaml_cli_config.h"

#include <algorithm>
#include <sstream>

#include <yaml-cpp/yaml.h>

namespace meridian {

namespace {

void Flatten(const YAML::Node& node, std::vector<std::string>& parents, std::vector<CLI::ConfigItem>& out) {
  for (const auto& kv : node) {
    std::string key = kv.first.as<std::string>();
    std::replace(key.begin(), key.end(), '_', '-');
    const YAML::Node& value = kv.second;
    if (value.IsMap()) {
      parents.push_back(key);
      Flatten(value, parents, out);
      parents.pop_back();
      continue;
    }
    CLI::ConfigItem item;
    item.parents = parents;
    item.name = key;
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
  std::ostringstream os;
  for (const CLI::Option* opt : app->get_options()) {
    if (opt->get_lnames().empty() || opt->get_configurable() == false) continue;
    std::string value = opt->count() > 0 ? CLI::detail::join(opt->results(), ", ")
                                         : (default_also ? opt->get_default_str() : "");
    if (value.empty()) continue;
    os << opt->get_lnames()[0] << ": " << value << "\n";
  }
  return os.str();
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
