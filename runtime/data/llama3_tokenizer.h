// Llama 3's tokenizer: Meta's byte-level BPE over tiktoken ranks
// (meta-llama/llama3 tokenizer.py), vocabulary 128256.
//
// Vocabulary: tokenizer.model in tiktoken's format, one "base64(bytes) rank"
// line per ordinary token, ranks 0 .. 127999 (the rank is the id);
// scripts/fetch-llama3-vocab.sh makes it (it is Meta's file byte for byte).
// The 256 special tokens follow at 128000 .. 128255 under fixed names
// (SpecialTokenName): <|begin_of_text|>, <|end_of_text|>, the reserved ones,
// <|start_header_id|>, <|end_header_id|>, <|eot_id|> = 128009, ...
//
// Encoding a text (ByteLevelBpe, byte_level_bpe.h):
//  1. Pre-tokenization by kPattern
//     (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//     ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//     with PCRE2 in UTF + UCP mode, \s spelled out as Unicode White_Space as
//     in tiktoken's regex (GPT-2's tokenizer does the same).
//  2. A piece whose bytes are a token is that token (tiktoken's rule).
//  3. Otherwise BPE from the piece's bytes: the adjacent pair whose
//     concatenation has the lowest rank merges first, until no adjacent
//     pair concatenates to a token.
// Invalid UTF-8 is accepted as GPT-2's tokenizer accepts it (each maximal
// invalid run is a piece of its own), so Decode(Encode(x)) == x for every
// byte string.
//
// Special tokens in the input are ordinary text ("<", "|", "eot", ...)
// unless special_tokens_in_text is set; then each of the 256 names encodes
// as its id. Documents (EncodeCorpus) are framed as Meta's pre-training
// data is: <|begin_of_text|> text <|end_of_text|>.
//
// Thread safety: as Gpt2Tokenizer; Encode and Decode may run on many threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "runtime/data/byte_level_bpe.h"
#include "runtime/data/tokenizer.h"

namespace meridian {

class Llama3Tokenizer : public Tokenizer {
 public:
  static constexpr int kNumRanks = 128000;
  static constexpr int kNumSpecialTokens = 256;
  static constexpr int kVocabSize = kNumRanks + kNumSpecialTokens;  // 128256
  static constexpr uint32_t kBeginOfText = 128000;
  static constexpr uint32_t kEndOfText = 128001;
  static constexpr uint32_t kStartHeaderId = 128006;
  static constexpr uint32_t kEndHeaderId = 128007;
  static constexpr uint32_t kEotId = 128009;
  // What Decode writes for an id outside [0, kVocabSize): U+FFFD.
  static constexpr std::string_view kUnknownToken = "\xEF\xBF\xBD";
  static constexpr std::string_view kModelFile = "tokenizer.model";

  // The name of special token `id`, in [kNumRanks, kVocabSize).
  static std::string SpecialTokenName(uint32_t id);

  // Reads vocab_dir/tokenizer.model. NotFound naming the path (and
  // scripts/fetch-llama3-vocab.sh) when it is absent; Corruption naming the
  // file and line when a line is not "base64 rank", a rank is out of order,
  // a token repeats, the count is not 128000, or a byte has no token.
  static Result<std::unique_ptr<Llama3Tokenizer>> Load(const std::string& vocab_dir,
                                                       bool special_tokens_in_text = false);
  ~Llama3Tokenizer() override;

  std::string_view name() const override { return "llama3"; }
  int vocab_size() const override { return kVocabSize; }
  std::optional<uint32_t> eot() const override { return kEndOfText; }
  std::optional<uint32_t> document_start() const override { return kBeginOfText; }
  std::optional<uint32_t> document_end() const override { return kEndOfText; }

  // Step 1 alone: the pieces of `text` (views into it), for tests.
  std::vector<std::string_view> PreTokenize(std::string_view text) const {
    return bpe_->PreTokenize(text);
  }

 private:
  Llama3Tokenizer() = default;
  void EncodeImpl(std::string_view text, std::vector<uint32_t>* tokens) const override;
  std::string DecodeImpl(const uint32_t* tokens, size_t n) const override;

  bool special_tokens_in_text_ = false;
  std::vector<std::string> token_bytes_;  // id -> bytes (special tokens: their names)
  std::unordered_map<std::string_view, uint32_t> special_ids_;  // views into token_bytes_
  std::unique_ptr<ByteLevelBpe> bpe_;
};

}  // namespace meridian
