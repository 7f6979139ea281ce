#include "runtime/data/tokenizer.h"

#include <cstdlib>

#include "runtime/data/byte_tokenizer.h"
#include "runtime/data/gpt2_tokenizer.h"
#include "runtime/data/llama3_tokenizer.h"

namespace meridian {

std::string TokenizerNames() { return "bytes|gpt2|llama3"; }

Result<std::unique_ptr<Tokenizer>> MakeTokenizer(std::string_view name,
                                                 const TokenizerOptions& options) {
  if (name == "bytes") return std::unique_ptr<Tokenizer>(std::make_unique<ByteTokenizer>());
  if (name == "gpt2") {
    MERIDIAN_ASSIGN_OR_RETURN(
        std::unique_ptr<Gpt2Tokenizer> tok,
        Gpt2Tokenizer::Load(ResolveGpt2VocabDir(options.vocab_dir), options.special_tokens_in_text));
    return std::unique_ptr<Tokenizer>(std::move(tok));
  }
  if (name == "llama3") {
    MERIDIAN_ASSIGN_OR_RETURN(std::unique_ptr<Llama3Tokenizer> tok,
                              Llama3Tokenizer::Load(ResolveLlama3VocabDir(options.vocab_dir),
                                                    options.special_tokens_in_text));
    return std::unique_ptr<Tokenizer>(std::move(tok));
  }
  return Status::InvalidArgument("tokenizer: unknown name \"" + std::string(name) +
                                 "\" (choose " + TokenizerNames() + ")");
}

namespace {

// `flag`, else the environment variable `env_name`, else the cache's `leaf`.
std::string ResolveVocabDir(const std::string& flag, const char* env_name, const char* leaf) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv(env_name); env != nullptr && *env != '\0') return env;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg != '\0') {
    return std::string(xdg) + "/meridian/" + leaf;
  }
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr ? home : ".") + "/.cache/meridian/" + leaf;
}

}  // namespace

std::string ResolveGpt2VocabDir(const std::string& flag) {
  return ResolveVocabDir(flag, "MERIDIAN_GPT2_VOCAB_DIR", "gpt2");
}

std::string ResolveLlama3VocabDir(const std::string& flag) {
  return ResolveVocabDir(flag, "MERIDIAN_LLAMA3_VOCAB_DIR", "llama3");
}

}  // namespace meridian
