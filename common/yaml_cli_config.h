// Lets CLI11 read its options from a YAML file (`--config FILE.yaml`). Keys
// are option names without dashes ("n-layer" or "n_layer"); nested maps
// become dotted names; lists become repeated values. Values given on the
// command line win over the file, as CLI11 does for any config source.
#pragma once

#include <CLI/CLI.hpp>

namespace meridian {

class YamlCliConfig : public CLI::Config {
 public:
  std::string to_config(const CLI::App* app, bool default_also, bool write_description,
                        std::string prefix) const override;
  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override;
};

}  // namespace meridian
