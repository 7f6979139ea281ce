// meridian-train: trains a GPT-2 model. See --help and docs/operations.md.
#include <cstdio>

#include "runtime/train/train_options.h"
#include "runtime/train/trainer.h"

int main(int argc, char** argv) {
  int exit_code = -1;
  meridian::Result<meridian::TrainOptions> options = meridian::ParseTrainOptions(argc, argv, &exit_code);
  if (exit_code >= 0) return exit_code;
  if (!options.ok()) {
    std::fprintf(stderr, "error: %s\n", options.status().message().c_str());
    return 2;
  }
  auto trainer = meridian::Trainer::Create(*options);
  if (!trainer.ok()) {
    std::fprintf(stderr, "error: %s\n", trainer.status().ToString().c_str());
    return 1;
  }
  meridian::Status s = (*trainer)->Run();
  if (!s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
