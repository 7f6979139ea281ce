#include "common/yaml_cli_config.h"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <sstream>

#include <yaml-cpp/yaml.h>

namespace meridian {

namespace {

// The 1-based line of the first character YAML does not allow in a stream
// (bytes that are not UTF-8; control characters other than tab and line
// breaks), or 0. yaml-cpp reads them without complaint but cannot write
// them back as they were.
size_t FirstBadCharacterLine(const std::string& text) {
  size_t line = 1;
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = text[i];
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (n == 0 || i + n > text.size()) return line;
    uint32_t cp = n == 1 ? c : c & (0x7f >> n);
    for (size_t k = 1; k < n; ++k) {
      const unsigned char d = text[i + k];
      if ((d & 0xc0) != 0x80) return line;
      cp = (cp << 6) | (d & 0x3f);
    }
    // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8.
    static constexpr uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return line;
    const bool control = (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || (cp >= 0x7f && cp <= 0x9f && cp != 0x85);
    if (control) return line;
    if (c == '\n') ++line;
    i += n;
  }
  return 0;
}

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
      throw CLI::ConfigError("training.extra_args: give these options as keys of their own in a config file");
    }
    if (value.IsSequence()) {
      // CLI11 needs a value to hold; an empty list would give it none.
      if (value.size() == 0)
        throw CLI::ConfigError("line " + std::to_string(value.Mark().line + 1) + ": " + key +
                               ": an empty list; leave the key out for the default");
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
    // A list option left at its default: CLI11's text for it ("[]") would
    // load back as a list of that one string.
    if (opt->get_expected_max() > 1 && opt->count() == 0) continue;
    out << YAML::Key << name << YAML::Value;
    if (opt->get_expected_min() == 0) {  // a flag: true or false as the program took it
      bool set = false;
      try {
        set = opt->count() > 0 ? opt->as<bool>() : opt->get_default_str() == "true";
      } catch (const CLI::Error&) {
        set = false;
      }
      out << set;
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
  // Errors are CLI11's ConfigError, which the programs report naming the
  // file; a key or value yaml-cpp cannot read as text (a map used as a key)
  // is one too, with its line, never an exception out of the parser.
  std::vector<CLI::ConfigItem> items;
  std::string text((std::istreambuf_iterator<char>(input)), std::istreambuf_iterator<char>());
  // YAML's line breaks are \r\n, \r and \n; yaml-cpp keeps a lone \r at the
  // end of a plain value (and then writes it back where it reads as a line
  // break), so every break becomes \n first.
  size_t out = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') {
      if (i + 1 < text.size() && text[i + 1] == '\n') continue;
      text[out++] = '\n';
    } else {
      text[out++] = text[i];
    }
  }
  text.resize(out);
  if (const size_t line = FirstBadCharacterLine(text); line > 0)
    throw CLI::ConfigError("line " + std::to_string(line) + ": not UTF-8 text, or a control character");
  try {
    const YAML::Node root = YAML::Load(text);
    if (root.IsNull()) return items;
    if (!root.IsMap()) throw CLI::ConfigError("the top level must be a map of option: value");
    std::vector<std::string> parents;
    Flatten(root, parents, items);
  } catch (const YAML::Exception& e) {
    throw CLI::ConfigError("line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  return items;
}

}  // namespace meridian
