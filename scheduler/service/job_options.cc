#include "scheduler/service/job_options.h"


#include <cmath>
#include <cstdlib>
#include <map>
#include <set>

#include "common/bounded_glob.h"
#include "common/data_roots.h"
#include "common/link_schedule.h"
// The trainer's closed sets, from their headers alone (no link to the
// runtime): a job's extra arguments are checked against the same words.
#include "runtime/checkpoint/checkpoint_format.h"
#include "runtime/parallel/compression.h"
#include "runtime/parallel/pipeline_schedule.h"
#include "scheduler/service/request_checks.h"

namespace meridian::scheduler {

namespace {


// How an allowed option's value is checked.
struct Allowed {
  enum Kind { kFlag, kNumber, kChoice, kDataPath, kWindow } kind;
  double min = 0, max = 0;           // kNumber
  std::set<std::string> choices;     // kChoice
};

const std::map<std::string, Allowed>& AllowedOptions() {
  static const std::map<std::string, Allowed> options = {
      {"--weight-decay", {Allowed::kNumber, 0, 10, {}}},
      {"--beta1", {Allowed::kNumber, 0, 1, {}}},
      {"--beta2", {Allowed::kNumber, 0, 1, {}}},
      {"--adam-eps", {Allowed::kNumber, 0, 1, {}}},
      {"--grad-clip", {Allowed::kNumber, 0, 1e6, {}}},
      {"--seed", {Allowed::kNumber, 0, 1.8e19, {}}},
      {"--eval-batches", {Allowed::kNumber, 1, 1e6, {}}},
      {"--checkpoint-every", {Allowed::kNumber, 0, 1e12, {}}},
      {"--keep-last", {Allowed::kNumber, 0, 1e6, {}}},
      {"--checkpoint-format", {Allowed::kChoice, 0, 0, kCheckpointFormats.Words()}},
      {"--pp-schedule", {Allowed::kChoice, 0, 0, kPipelineSchedules.Words()}},
      {"--bucket-mb", {Allowed::kNumber, 0, 1e5, {}}},
      {"--no-overlap", {Allowed::kFlag, 0, 0, {}}},
      {"--comm-timeout", {Allowed::kNumber, 0.1, 1e6, {}}},
      {"--diloco-h", {Allowed::kNumber, 1, 1e9, {}}},
      {"--diloco-fragments", {Allowed::kNumber, 1, 1e6, {}}},
      {"--diloco-overlap", {Allowed::kNumber, 0, 1e9, {}}},
      {"--diloco-mix", {Allowed::kNumber, 0, 1, {}}},
      {"--diloco-elastic", {Allowed::kFlag, 0, 0, {}}},
      {"--wan-window", {Allowed::kWindow, 0, 0, {}}},
      {"--wan-strict", {Allowed::kFlag, 0, 0, {}}},
      {"--wan-timeout", {Allowed::kNumber, 0.1, 1e6, {}}},
      {"--outer-lr", {Allowed::kNumber, 0, 100, {}}},
      {"--outer-momentum", {Allowed::kNumber, 0, 1, {}}},
      {"--outer-compress", {Allowed::kChoice, 0, 0, kCompressions.Words()}},
      {"--sample-temperature", {Allowed::kNumber, 1e-6, 100, {}}},
      {"--log-every", {Allowed::kNumber, 0, 1e12, {}}},
      {"--init-from", {Allowed::kDataPath, 0, 0, {}}},
      {"--tokenizer", {Allowed::kChoice, 0, 0, {"auto", "bytes", "gpt2", "llama3"}}},
      {"--vocab-dir", {Allowed::kDataPath, 0, 0, {}}},
      {"--peak-tflops", {Allowed::kNumber, 0, 1e7, {}}},
  };
  return options;
}

Status Refused(int i, const std::string& arg, const std::string& why) {
  return Status::InvalidArgument("spec.training.extra_args[" + std::to_string(i) + "] = " + arg.substr(0, 60) + ": " +
                                 why);
}

}  // namespace

Status CheckUnderDataRoots(const std::string& field, const std::string& pattern,
                           const std::vector<std::string>& data_roots, const std::string& roots_name) {
  if (data_roots.empty()) return Status::OK();
  auto inside = [&](const std::string& p) { return UnderAnyRoot(p, data_roots); };
  const std::string why = "lies outside the data roots (" + roots_name + ") once .. and symbolic links are resolved";
  // The pattern's fixed part, then each file it matches (a link inside a
  // root may point out of it).
  const std::string fixed = pattern.substr(0, pattern.find_first_of("*?["));
  if (!inside(fixed.empty() ? "." : fixed)) return Status::InvalidArgument(field + " = \"" + pattern + "\": " + why);
  Result<std::vector<std::string>> matches = ExpandBoundedGlob(pattern);
  if (!matches.ok() && matches.status().code() != Status::Code::kNotFound)
    return Status::InvalidArgument(field + ": " + matches.status().message());
  for (const std::string& match : matches.ok() ? *matches : std::vector<std::string>{})
    if (!inside(match))
      return Status::InvalidArgument(field + " = \"" + pattern + "\": its match " + match + " " + why);
  return Status::OK();
}

Status CheckSpecUnderRoots(const v1::JobSpec& spec, const std::vector<std::string>& roots,
                           const std::string& roots_name) {
  MERIDIAN_RETURN_IF_ERROR(CheckUnderDataRoots("spec.training.data", spec.training().data(), roots, roots_name));
  if (!spec.training().val_data().empty())
    MERIDIAN_RETURN_IF_ERROR(
        CheckUnderDataRoots("spec.training.val_data", spec.training().val_data(), roots, roots_name));
  return CheckExtraArgs(spec.training(), roots, roots_name);
}

Status CheckDataGlob(const std::string& field, const std::string& pattern) {
  Result<std::vector<std::string>> matches = ExpandBoundedGlob(pattern);
  if (!matches.ok() && matches.status().code() != Status::Code::kNotFound)
    return Status::InvalidArgument(field + ": " + matches.status().message());
  if (!matches.ok()) {
    return Invalid(field, "\"" + pattern + "\"",
                   "matches no file on the scheduler's host (job data must be on storage that the scheduler and "
                   "every host see at the same path)");
  }
  return Status::OK();
}

std::optional<std::string> ExtraArgValue(const v1::TrainingOptions& training, const std::string& name) {
  std::optional<std::string> value;
  const auto& args = training.extra_args();
  for (int i = 0; i < args.size(); ++i) {
    if (args[i] == name && i + 1 < args.size()) {
      value = args[++i];
    } else if (args[i].size() > name.size() && args[i].compare(0, name.size(), name) == 0 &&
               args[i][name.size()] == '=') {
      value = args[i].substr(name.size() + 1);
    }
  }
  return value;
}

Status CheckExtraArgs(const v1::TrainingOptions& training, const std::vector<std::string>& data_roots,
                      const std::string& roots_name) {
  const auto& args = training.extra_args();
  for (int i = 0; i < args.size(); ++i) {
    std::string name = args[i], value;
    bool inline_value = false;
    if (const size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    auto it = AllowedOptions().find(name);
    if (it == AllowedOptions().end())
      return Refused(i, args[i],
                     "not an option a job file may set (paths the daemon chooses, layout and model come from the "
                     "job file's own fields; see docs/formats.md)");
    const Allowed& a = it->second;
    if (a.kind == Allowed::kFlag) {
      if (inline_value) return Refused(i, args[i], "takes no value");
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= args.size()) return Refused(i, args[i], "needs a value");
      value = args[++i];
    }
    switch (a.kind) {
      case Allowed::kNumber: {
        char* end = nullptr;
        const double v = std::strtod(value.c_str(), &end);
        if (value.empty() || *end != '\0' || !std::isfinite(v) || v < a.min || v > a.max)
          return Refused(i, value, name + " takes a number in [" + std::to_string(a.min) + ", " +
                                       std::to_string(a.max) + "]");
        break;
      }
      case Allowed::kChoice:
        if (!a.choices.count(value)) return Refused(i, value, name + " takes one of its documented values");
        break;
      case Allowed::kWindow:
        if (!ParseWindowSpec(value, name).ok()) return Refused(i, value, name + " takes PERIOD:UP[:PHASE] or @OPEN-CLOSE,... seconds");
        break;
      case Allowed::kDataPath: {
        const std::string field = "spec.training.extra_args[" + std::to_string(i) + "] (" + name + ")";
        MERIDIAN_RETURN_IF_ERROR(CheckUnderDataRoots(field, value, data_roots, roots_name));
        // --init-from also opens the files of a Hugging Face model: those in
        // its directory, or the config.json beside a .safetensors file;
        // --vocab-dir GPT-2's two files or Llama 3's one. A link among them
        // must not lead out of the roots either.
        const std::vector<std::string> companions =
            name == "--vocab-dir"
                ? std::vector<std::string>{value + "/encoder.json", value + "/vocab.bpe", value + "/tokenizer.model"}
                : InitFromCompanionFiles(value);
        for (const std::string& file : companions) {
          MERIDIAN_RETURN_IF_ERROR(CheckUnderDataRoots(field, file, data_roots, roots_name));
        }
        break;
      }
      case Allowed::kFlag:
        break;
    }
  }
  return Status::OK();
}

}  // namespace meridian::scheduler
