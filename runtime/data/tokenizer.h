// Tokenizer: text <-> token ids, behind one interface so that the data tools
// and the trainer pick the tokenizer by name at start-up and never branch on
// it afterwards.
//
//   bytes  one token per byte, vocabulary 256, no end-of-text token
//          (ByteTokenizer, byte_tokenizer.h)
//   gpt2   OpenAI's GPT-2 byte-level BPE, vocabulary 50257, <|endoftext|> =
//          50256 (Gpt2Tokenizer, gpt2_tokenizer.h); needs encoder.json and
//          vocab.bpe from a vocabulary directory (ResolveGpt2VocabDir)
//   llama3 Meta's Llama 3 byte-level BPE (tiktoken ranks), vocabulary
//          128256 = 128000 ranks + 256 special tokens, <|begin_of_text|> =
//          128000, <|end_of_text|> = 128001 (Llama3Tokenizer,
//          llama3_tokenizer.h); needs tokenizer.model from a vocabulary
//          directory (ResolveLlama3VocabDir)
//
// Token ids are uint32: Llama 3's exceed 65535.
//
// Typical use:
//   MERIDIAN_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tok,
//                             MakeTokenizer("gpt2", {.vocab_dir = flag}));
//   std::vector<uint32_t> ids = tok->Encode(prompt);
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

  // "bytes", "gpt2" or "llama3": the name MakeTokenizer takes.
  virtual std::string_view name() const = 0;
  // Number of token ids; every id Encode produces is below it.
  virtual int vocab_size() const = 0;
  // The end-of-text token that separates documents, if the tokenizer has one.
  virtual std::optional<uint32_t> eot() const = 0;
  // How EncodeCorpus frames every document: the token written before it and
  // the one written after it, if any. By default a document starts with
  // eot() and nothing follows it (llm.c's GPT-2 data); Llama 3 writes
  // <|begin_of_text|> before and <|end_of_text|> after.
  virtual std::optional<uint32_t> document_start() const { return eot(); }
  virtual std::optional<uint32_t> document_end() const { return std::nullopt; }

  // Appends the tokens of `text` to *tokens. Any bytes are accepted (see the
  // implementation for how invalid UTF-8 is handled); Decode of the result
  // gives `text` back. Thread-safe: may be called from many threads at once.
  void Encode(std::string_view text, std::vector<uint32_t>* tokens) const {
    EncodeImpl(text, tokens);
  }
  std::vector<uint32_t> Encode(std::string_view text) const {
    std::vector<uint32_t> tokens;
    EncodeImpl(text, &tokens);
    return tokens;
  }

  // The bytes of `tokens`, concatenated. Never fails: an id outside the
  // vocabulary decodes to a placeholder the implementation documents.
  // Thread-safe.
  std::string Decode(const uint32_t* tokens, size_t n) const { return DecodeImpl(tokens, n); }
  std::string Decode(const std::vector<uint32_t>& tokens) const {
    return DecodeImpl(tokens.data(), tokens.size());
  }

 private:
  // What implementations provide. The public names are not virtual so that
  // ByteTokenizer can keep its static Encode/Decode of the same signatures.
  virtual void EncodeImpl(std::string_view text, std::vector<uint32_t>* tokens) const = 0;
  virtual std::string DecodeImpl(const uint32_t* tokens, size_t n) const = 0;
};

struct TokenizerOptions {
  // gpt2: directory holding encoder.json and vocab.bpe; llama3: directory
  // holding tokenizer.model. Empty: see ResolveGpt2VocabDir and
  // ResolveLlama3VocabDir.
  std::string vocab_dir;
  // gpt2: when true, the literal text "<|endoftext|>" in the input encodes as
  // the one token 50256; llama3: each special token's text ("<|eot_id|>")
  // encodes as its id. When false (the default) it is ordinary text
  // ("<", "|", "end", ...), so document text can never forge a document
  // boundary.
  bool special_tokens_in_text = false;
};

// The names MakeTokenizer accepts, for help texts: "bytes|gpt2|llama3".
std::string TokenizerNames();

// Builds the tokenizer called `name`. InvalidArgument naming the value and
// the choices for an unknown name; for gpt2 and llama3 the errors of
// Gpt2Tokenizer::Load and Llama3Tokenizer::Load (a missing file is NotFound
// naming the path and the fetch script).
Result<std::unique_ptr<Tokenizer>> MakeTokenizer(std::string_view name,
                                                 const TokenizerOptions& options = {});

// The GPT-2 vocabulary directory: `flag` when non-empty, else the
// environment variable MERIDIAN_GPT2_VOCAB_DIR when set and non-empty, else
// ${XDG_CACHE_HOME:-$HOME/.cache}/meridian/gpt2, where
// scripts/fetch-gpt2-vocab.sh puts it.
std::string ResolveGpt2VocabDir(const std::string& flag = "");

// The Llama 3 vocabulary directory, likewise: `flag`, else
// MERIDIAN_LLAMA3_VOCAB_DIR, else ${XDG_CACHE_HOME:-$HOME/.cache}/meridian/llama3,
// where scripts/fetch-llama3-vocab.sh puts it.
std::string ResolveLlama3VocabDir(const std::string& flag = "");

}  // namespace meridian
