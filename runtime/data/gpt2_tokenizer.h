// GPT-2's tokenizer: OpenAI's byte-level BPE (encoder.py of openai/gpt-2).
//
// Encoding a text:
//  1. Pre-tokenization: the text is cut into pieces by the regex kPattern
//     ('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)
//     with PCRE2 in UTF + UCP mode, JIT-compiled. \s is spelled out as the
//     Unicode White_Space set, as in OpenAI's Python `regex` and tiktoken,
//     so the result does not depend on the PCRE2 version. (The JavaScript
//     port in gpt-3-encoder differs on two rare characters: its \s has
//     U+FEFF and lacks U+0085.)
//  2. Each piece's UTF-8 bytes start as one token per byte (bytes_to_unicode
//     of encoder.py names them), then BPE merges adjacent pairs, lowest
//     vocab.bpe rank first, until no pair has a rank. (No whole-piece
//     lookup: a piece is always merged up from its bytes.)
// Both steps run in the ByteLevelBpe (byte_level_bpe.h) that Load fills.
//
// Invalid UTF-8: GPT-2 defines tokenization on Unicode text only. Here any
// bytes are accepted: with PCRE2_MATCH_INVALID_UTF an invalid sequence never
// matches the pattern, so each maximal run of bytes that are not valid UTF-8
// (what lies between two matches) becomes a piece of its own and goes
// through step 2 like any other. Decode(Encode(x)) == x for every byte
// string, and valid UTF-8 encodes exactly as GPT-2 does. (Tokenizers that
// first replace invalid bytes with U+FFFD give other ids there, and lose
// the bytes.)
//
// <|endoftext|> (kEndOfText = 50256) is produced by callers between
// documents. The literal text "<|endoftext|>" in the input is ordinary text
// unless special_tokens_in_text is set (TokenizerOptions).
//
// Thread safety: a loaded tokenizer is immutable apart from the per-thread
// scratch of its ByteLevelBpe, so Encode and Decode may run on many threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "runtime/data/byte_level_bpe.h"
#include "runtime/data/tokenizer.h"

namespace meridian {

class Gpt2Tokenizer : public Tokenizer {
 public:
  static constexpr int kVocabSize = 50257;
  static constexpr uint32_t kEndOfText = 50256;
  static constexpr std::string_view kEndOfTextText = "<|endoftext|>";
  static constexpr int kNumMerges = 50000;
  // What Decode writes for an id outside [0, kVocabSize): U+FFFD.
  static constexpr std::string_view kUnknownToken = "\xEF\xBF\xBD";

  // Reads vocab_dir/encoder.json and vocab_dir/vocab.bpe. NotFound naming the
  // missing path (and scripts/fetch-gpt2-vocab.sh) when a file is absent;
  // Corruption naming the file (and the line for vocab.bpe) when a file is
  // not GPT-2's vocabulary: bad JSON, wrong size, a merge whose parts are
  // not in encoder.json.
  static Result<std::unique_ptr<Gpt2Tokenizer>> Load(const std::string& vocab_dir,
                                                     bool special_tokens_in_text = false);
  ~Gpt2Tokenizer() override;

  std::string_view name() const override { return "gpt2"; }
  int vocab_size() const override { return kVocabSize; }
  std::optional<uint32_t> eot() const override { return kEndOfText; }

  // Step 1 alone: the pieces of `text` (views into it), for tests.
  std::vector<std::string_view> PreTokenize(std::string_view text) const {
    return bpe_->PreTokenize(text);
  }

 private:
  Gpt2Tokenizer() = default;
  void EncodeImpl(std::string_view text, std::vector<uint32_t>* tokens) const override;
  std::string DecodeImpl(const uint32_t* tokens, size_t n) const override;

  bool special_tokens_in_text_ = false;
  std::vector<std::string> token_bytes_;  // id -> the bytes it stands for
  std::unique_ptr<ByteLevelBpe> bpe_;     // kPattern, the byte tokens, vocab.bpe's merges
};

}  // namespace meridian
