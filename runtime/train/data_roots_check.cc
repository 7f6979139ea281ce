#include "runtime/train/data_roots_check.h"

#include "runtime/data/token_shard.h"

namespace meridian {

Status CheckTrainerDataUnderRoots(const TrainOptions& o, const HandedRoots& roots) {
  if (roots.empty()) return Status::OK();
  for (const auto& [option, pattern] : {std::pair{"--data", o.data}, std::pair{"--val-data", o.val_data}}) {
    if (pattern.empty()) continue;
    MERIDIAN_RETURN_IF_ERROR(CheckUnderHandedRoots(option, {pattern.substr(0, pattern.find_first_of("*?["))}, roots));
    Result<std::vector<std::string>> shards = ExpandShardGlob(pattern);
    if (shards.ok()) MERIDIAN_RETURN_IF_ERROR(CheckUnderHandedRoots(option, *shards, roots));
  }
  if (!o.init_from.empty()) {
    std::vector<std::string> files = InitFromCompanionFiles(o.init_from);
    files.push_back(o.init_from);
    MERIDIAN_RETURN_IF_ERROR(CheckUnderHandedRoots("--init-from", files, roots));
  }
  if (!o.vocab_dir.empty())
    MERIDIAN_RETURN_IF_ERROR(
        CheckUnderHandedRoots("--vocab-dir",
                              {o.vocab_dir + "/encoder.json", o.vocab_dir + "/vocab.bpe", o.vocab_dir + "/tokenizer.model"},
                              roots));
  return Status::OK();
}

}  // namespace meridian
