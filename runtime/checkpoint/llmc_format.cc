#include "runtime/checkpoint/llmc_format.h"

#include <bit>
#include <optional>

#include "runtime/checkpoint/file_io.h"
#include "runtime/model/parameter_layout.h"

namespace meridian {

// The file is raw little-endian; we read and write it with memcpy-level I/O.
static_assert(std::endian::native == std::endian::little,
              "llm.c checkpoints are little-endian; add byte swapping for this host");

namespace {

// Known llm.c versions we cannot read, so the error can say what the file is.
std::string DescribeUnsupportedVersion(int32_t version) {
  std::string msg = "unsupported llm.c checkpoint version " + std::to_string(version) +
                    " (expected 1 or 3, float32)";
  if (version == 5) msg += "; version 5 is llm.c's bfloat16 format, export float32 instead";
  return msg;
}

}  // namespace

Result<LlmcModel> ReadLlmcCheckpoint(const std::string& path) {
  MERIDIAN_ASSIGN_OR_RETURN(checkpoint_io::InputFile file, checkpoint_io::InputFile::Open(path));
  const uint64_t found_bytes = file.size();
  if (found_bytes < kLlmcHeaderBytes) {
    return Status::Corruption(path + ": truncated llm.c checkpoint header: expected at least " +
                              std::to_string(kLlmcHeaderBytes) + " bytes, found " +
                              std::to_string(found_bytes));
  }
  int32_t header[kLlmcHeaderInts];
  MERIDIAN_RETURN_IF_ERROR(file.ReadAt(0, header, kLlmcHeaderBytes));

  if (header[0] != kLlmcCheckpointMagic) {
    std::string msg = path + ": bad magic number " + std::to_string(header[0]) + " (expected " +
                      std::to_string(kLlmcCheckpointMagic) + " for an llm.c checkpoint)";
    if (header[0] == 20240520) msg += "; this looks like a token shard";
    return Status::Corruption(msg);
  }
  const int32_t version = header[1];
  if (version != kLlmcVersionUnpadded && version != kLlmcVersionPadded) {
    return Status::Corruption(path + ": " + DescribeUnsupportedVersion(version));
  }

  LlmcModel model;
  GPTConfig& c = model.config;
  c.max_seq_len = header[2];
  c.vocab_size = header[3];
  c.n_layer = header[4];
  c.n_head = header[5];
  c.n_embd = header[6];
  c.padded_vocab_size = version == kLlmcVersionPadded ? header[7] : header[3];
  Status valid = ValidateConfig(c);
  if (!valid.ok()) {
    return Status::Corruption(path + ": bad llm.c header field: " + valid.message());
  }

  const std::optional<uint64_t> count = checkpoint_io::CheckedParameterCount(c);
  if (!count) {
    return Status::Corruption(path + ": llm.c header describes an impossibly large model (" +
                              DescribeConfig(c) + ")");
  }
  const uint64_t expected_bytes = kLlmcHeaderBytes + *count * sizeof(float);
  if (found_bytes < expected_bytes) {
    return Status::Corruption(path + ": truncated llm.c checkpoint: expected " +
                              std::to_string(expected_bytes) + " bytes (header + " +
                              std::to_string(*count) + " float32 parameters of " +
                              DescribeConfig(c) + "), found " + std::to_string(found_bytes));
  }
  if (found_bytes > expected_bytes) {
    return Status::Corruption(path + ": " + std::to_string(found_bytes - expected_bytes) +
                              " trailing bytes after the parameters: expected " +
                              std::to_string(expected_bytes) + " bytes (" + DescribeConfig(c) +
                              "), found " + std::to_string(found_bytes));
  }

  model.params.resize(*count);
  MERIDIAN_RETURN_IF_ERROR(
      file.ReadAt(kLlmcHeaderBytes, model.params.data(), model.params.size() * sizeof(float)));
  return model;
}

Status WriteLlmcCheckpoint(const std::string& path, const GPTConfig& config,
                           const float* params) {
  if (config.llama()) {
    return Status::InvalidArgument(path + ": the llm.c checkpoint format holds GPT-2 models only; this model is "
                                          "llama (export it as Hugging Face Llama instead)");
  }
  Status valid = ValidateConfig(config);
  if (!valid.ok()) return Status::InvalidArgument(path + ": " + valid.message());
  if (params == nullptr) return Status::InvalidArgument(path + ": params is null");
  const std::optional<uint64_t> count = checkpoint_io::CheckedParameterCount(config);
  if (!count) {
    return Status::InvalidArgument(path + ": model too large to write (" +
                                   DescribeConfig(config) + ")");
  }

  int32_t header[kLlmcHeaderInts] = {};
  header[0] = kLlmcCheckpointMagic;
  header[1] = kLlmcVersionPadded;
  header[2] = config.max_seq_len;
  header[3] = config.vocab_size;
  header[4] = config.n_layer;
  header[5] = config.n_head;
  header[6] = config.n_embd;
  header[7] = config.padded_vocab_size;
  return checkpoint_io::WriteFileAtomically(
      path, {{header, kLlmcHeaderBytes}, {params, static_cast<size_t>(*count) * sizeof(float)}});
}

}  // namespace meridian
