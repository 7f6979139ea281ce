// Hostile --config files (YAML, common/yaml_cli_config.h) for a command
// line shaped like meridian-train's: strings, numbers, flags, lists, job-file
// sections. Never a crash or an exception other than CLI11's parse errors
// (which the programs report naming the file); and what parses prints, with
// --print-config's formatter, as YAML that parses back to the same values.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "common/yaml_cli_config.h"
#include "tests/fuzz/fuzz_scratch.h"

namespace {

struct Values {
  std::string model = "d4", data, prompt = "\n";
  int batch = 4;
  double lr = 3e-4;
  bool resume = false;
  std::vector<std::string> args;
  bool operator==(const Values&) const = default;
};

std::unique_ptr<CLI::App> MakeApp(Values* v) {
  auto app = std::make_unique<CLI::App>("fuzz");
  app->option_defaults()->always_capture_default()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app->config_formatter(std::make_shared<meridian::YamlCliConfig>());
  app->set_config("--config");
  app->allow_config_extras(CLI::config_extras_mode::error);
  app->add_option("--model,--preset", v->model);
  app->add_option("--data", v->data);
  app->add_option("--sample-prompt", v->prompt);
  app->add_option("--batch", v->batch);
  app->add_option("--lr", v->lr);
  app->add_flag("--resume", v->resume);
  app->add_option("--arg", v->args)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  return app;
}

bool Parse(const std::string& path, Values* v, std::string* printed) {
  auto app = MakeApp(v);
  std::vector<std::string> argv = {"--config", path};
  std::reverse(argv.begin(), argv.end());  // CLI11 takes a vector in reverse order
  try {
    app->parse(argv);
  } catch (const CLI::ParseError&) {
    return false;
  }
  if (printed != nullptr) *printed = app->config_to_str(true, false);
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto dir = meridian::fuzz::ScratchDir();
  const std::string path = (dir / "config.yaml").string();
  meridian::fuzz::WriteBytes(path, meridian::fuzz::AsText(data, size));
  Values first;
  std::string printed;
  if (!Parse(path, &first, &printed)) return 0;
  meridian::fuzz::WriteBytes(path, printed);
  Values second;
  if (!Parse(path, &second, nullptr) || !(first == second)) std::abort();  // the printout must load back
  return 0;
}
