// ByteLevelBpe: the encoding machinery that byte-level BPE tokenizers (GPT-2,
// Llama 3) share; each tokenizer only loads its own vocabulary into one.
//
// Encoding a text:
//  1. Pre-tokenization: the text is cut into pieces by the tokenizer's regex
//     with PCRE2 in UTF + UCP mode, JIT-compiled.
//  2. A piece of one byte is that byte's token. With whole-piece lookup
//     (tiktoken's rule, which Llama 3 follows and GPT-2 does not), a piece
//     whose bytes are exactly a token is that token.
//  3. Otherwise the piece's bytes start as one token per byte, then BPE
//     merges adjacent pairs, lowest rank first, until no pair has a rank.
//
// Invalid UTF-8: any bytes are accepted. With PCRE2_MATCH_INVALID_UTF an
// invalid sequence never matches the pattern, so each maximal run of bytes
// that are not valid UTF-8 (what lies between two matches) becomes a piece
// of its own and goes through steps 2-3 like any other. As long as every
// byte has a token, Decode(Encode(x)) == x for every byte string.
//
// Thread safety: set-up (SetByteToken, AddMerge, AddWholePiece) happens
// before the object is shared; afterwards it is immutable apart from
// per-thread scratch (PCRE2 match data and a cache of BPE results per
// piece) handed out from a pool, so Encode may run on many threads.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace meridian {

class ByteLevelBpe {
 public:
  // Compiles `pattern` (PCRE2 syntax). Internal naming `what` and the offset
  // when it does not compile.
  static Result<std::unique_ptr<ByteLevelBpe>> Create(std::string_view pattern,
                                                      std::string_view what);
  ~ByteLevelBpe();
  ByteLevelBpe(const ByteLevelBpe&) = delete;
  ByteLevelBpe& operator=(const ByteLevelBpe&) = delete;

  // Set-up. The token of the one-byte string `byte`.
  void SetByteToken(uint8_t byte, uint32_t id) { byte_token_[byte] = id; }
  // The pair (left, right) merges into `merged`; lower ranks merge first.
  // False when the pair has a merge already.
  bool AddMerge(uint32_t left, uint32_t right, uint32_t rank, uint32_t merged);
  // Turns on whole-piece lookup (step 2) and adds `bytes` as a token.
  void AddWholePiece(std::string bytes, uint32_t id);
  void ReserveMerges(size_t n) { merges_.reserve(n); }

  // Appends the tokens of `text` (steps 1-3) to *tokens. Thread-safe.
  void Encode(std::string_view text, std::vector<uint32_t>* tokens) const;

  // Step 1 alone: the pieces of `text` (views into it), for tests.
  std::vector<std::string_view> PreTokenize(std::string_view text) const;

 private:
  struct Merge {
    uint32_t rank;
    uint32_t merged;
  };
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct Scratch;
  class ScratchLease;

  ByteLevelBpe() = default;
  // Steps 2-3 for one piece, through the scratch's cache.
  void EncodePiece(std::string_view piece, Scratch& scratch, std::vector<uint32_t>* tokens) const;
  // Step 3 without the cache: BPE over `word`, in place.
  void Bpe(std::vector<uint32_t>* word) const;

  std::array<uint32_t, 256> byte_token_{};
  std::unordered_map<uint64_t, Merge> merges_;  // (left << 32 | right) -> merge
  std::unordered_map<std::string, uint32_t, StringHash, std::equal_to<>> whole_pieces_;
  void* code_ = nullptr;  // pcre2_code_8*, the compiled pattern

  mutable std::mutex pool_mu_;
  mutable std::vector<std::unique_ptr<Scratch>> pool_;  // idle scratch
};

}  // namespace meridian
