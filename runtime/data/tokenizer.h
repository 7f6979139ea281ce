// Tokenizer: text <-> token ids, behind one interface so that the data tools
// and the trainer pick the tokenizer by name at start-up and never branch on
// it afterwards.
//
//   bytes  one token per byte, vocabulary 256, no end-of-text token
//          (ByteTokenizer, byte_tokenizer.h)
//   gpt2   OpenAI's GPT-2 byte-level BPE, vocabulary 50257, <|endoftext|> =
//          50256 (Gpt2Tokenizer, gpt2_tokenizer.h); needs encoder.json and
//          vocab.bpe from a vocabulary directory (ResolveGpt2VocabDir)
//
// Typical use:
//   MERIDIAN_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tok,
//                             MakeTokenizer("gpt2", {.vocab_dir = flag}));
//   std::vector<uint16_t> ids = tok->Encode(prompt);
//   std::string text = tok->Decode(ids);
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace meridian {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // "bytes" or "gpt2": the name MakeTokenizer takes.
  virtual std::string_view name() const = 0;
  // Number of token ids; every id Encode produces is below it.
  virtual int vocab_size() const = 0;
  // The end-of-text token that separates documents, if the tokenizer has one.
  virtual std::optional<uint16_t> eot() const = 0;

  // Appends the tokens of `text` to *tokens. Any bytes are accepted (see the
  // implementation for how invalid UTF-8 is handled); Decode of the result
  // gives `text` back. Thread-safe: may be called from many threads at once.
  void Encode(std::string_view text, std::vector<uint16_t>* tokens) const {
    EncodeImpl(text, tokens);
  }
  std::vector<uint16_t> Encode(std::string_view text) const {
    std::vector<uint16_t> tokens;
    EncodeImpl(text, &tokens);
    return tokens;
  }

  // The bytes of `tokens`, concatenated. Never fails: an id outside the
  // vocabulary decodes to a placeholder the implementation documents.
  // Thread-safe.
  std::string Decode(const uint16_t* tokens, size_t n) const { return DecodeImpl(tokens, n); }
  std::string Decode(const std::vector<uint16_t>& tokens) const {
    return DecodeImpl(tokens.data(), tokens.size());
  }

 private:
  // What implementations provide. The public names are not virtual so that
  // ByteTokenizer can keep its static Encode/Decode of the same signatures.
  virtual void EncodeImpl(std::string_view text, std::vector<uint16_t>* tokens) const = 0;
  virtual std::string DecodeImpl(const uint16_t* tokens, size_t n) const = 0;
};

struct TokenizerOptions {
  // gpt2: directory holding encoder.json and vocab.bpe. Empty: see
  // ResolveGpt2VocabDir.
  std::string vocab_dir;
  // gpt2: when true, the literal text "<|endoftext|>" in the input encodes as
  // the one token 50256; when false (the default) it is ordinary text
  // ("<", "|", "end", ...), so document text can never forge a document
  // boundary.
  bool special_tokens_in_text = false;
};

// The names MakeTokenizer accepts, for help texts: "bytes|gpt2".
std::string TokenizerNames();

// Builds the tokenizer called `name`. InvalidArgument naming the value and
// the choices for an unknown name; for gpt2 the errors of LoadGpt2Tokenizer
// (a missing file is NotFound naming the path and the fetch script).
Result<std::unique_ptr<Tokenizer>> MakeTokenizer(std::string_view name,
                                                 const TokenizerOptions& options = {});

// The GPT-2 vocabulary directory: `flag` when non-empty, else the
// environment variable MERIDIAN_GPT2_VOCAB_DIR when set and non-empty, else
// ${XDG_CACHE_HOME:-$HOME/.cache}/meridian/gpt2, where
// scripts/fetch-gpt2-vocab.sh puts it.
std::string ResolveGpt2VocabDir(const std::string& flag = "");

}  // namespace meridian
