#include "runtime/data/llama3_tokenizer.h"

#include <array>
#include <fstream>
#include <utility>

namespace meridian {
namespace {

// kPattern of the header with \s spelled out as Unicode White_Space (and \S
// as its complement), as GPT-2's tokenizer does, so that PCRE2's own,
// version-dependent idea of \s under UCP does not leak in.
#define MERIDIAN_WS "\\t-\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"
constexpr const char* kCompiledPattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
    "| ?[^" MERIDIAN_WS "\\p{L}\\p{N}]+[\\r\\n]*|[" MERIDIAN_WS "]*[\\r\\n]+"
    "|[" MERIDIAN_WS "]+(?![^" MERIDIAN_WS "])|[" MERIDIAN_WS "]+";
#undef MERIDIAN_WS

// The special tokens from 128000 on, as Llama 3.1's tokenizer names them;
// every other id up to 128255 is <|reserved_special_token_N|>, N counting on
// from 3 at 128011.
constexpr std::array<std::string_view, 11> kNamedSpecials = {
    "<|begin_of_text|>",          "<|end_of_text|>",   "<|reserved_special_token_0|>",
    "<|reserved_special_token_1|>", "<|finetune_right_pad_id|>",
    "<|reserved_special_token_2|>", "<|start_header_id|>", "<|end_header_id|>",
    "<|eom_id|>",                 "<|eot_id|>",        "<|python_tag|>"};

// Standard base64 (RFC 4648, with padding) to bytes; false on anything else.
bool DecodeBase64(std::string_view in, std::string* out) {
  if (in.empty() || in.size() % 4 != 0) return false;
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  out->clear();
  for (size_t i = 0; i < in.size(); i += 4) {
    const bool last = i + 4 == in.size();
    const int pad = last ? (in[i + 3] == '=') + (in[i + 2] == '=') : 0;
    if (pad == 1 && in[i + 2] == '=') return false;  // "x=y=" style
    uint32_t bits = 0;
    for (int k = 0; k < 4 - pad; ++k) {
      const int v = value(in[i + k]);
      if (v < 0) return false;
      bits |= static_cast<uint32_t>(v) << (18 - 6 * k);
    }
    out->push_back(static_cast<char>(bits >> 16));
    if (pad < 2) out->push_back(static_cast<char>((bits >> 8) & 0xFF));
    if (pad < 1) out->push_back(static_cast<char>(bits & 0xFF));
  }
  return true;
}

}  // namespace

std::string Llama3Tokenizer::SpecialTokenName(uint32_t id) {
  const uint32_t i = id - kNumRanks;
  if (i < kNamedSpecials.size()) return std::string(kNamedSpecials[i]);
  return "<|reserved_special_token_" + std::to_string(i - kNamedSpecials.size() + 3) + "|>";
}

Llama3Tokenizer::~Llama3Tokenizer() = default;

Result<std::unique_ptr<Llama3Tokenizer>> Llama3Tokenizer::Load(const std::string& vocab_dir,
                                                               bool special_tokens_in_text) {
  const std::string path = vocab_dir + "/" + std::string(kModelFile);
  std::unique_ptr<Llama3Tokenizer> tok(new Llama3Tokenizer());
  tok->special_tokens_in_text_ = special_tokens_in_text;
  MERIDIAN_ASSIGN_OR_RETURN(tok->bpe_, ByteLevelBpe::Create(kCompiledPattern, "Llama 3"));

  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::NotFound(path + ": Llama 3 vocabulary file not found; run "
                            "scripts/fetch-llama3-vocab.sh, or point --vocab-dir or "
                            "MERIDIAN_LLAMA3_VOCAB_DIR at a directory holding tokenizer.model");
  }
  // tokenizer.model: "base64 rank" per line, ranks 0, 1, 2, ... in order.
  std::unordered_map<std::string, uint32_t> ids;
  ids.reserve(kNumRanks * 2);
  tok->token_bytes_.reserve(kVocabSize);
  std::string line, bytes;
  for (size_t line_no = 1; std::getline(in, line); ++line_no) {
    const auto where = [&] { return path + ":" + std::to_string(line_no) + ": "; };
    const size_t space = line.find(' ');
    const std::string rank_text = space == std::string::npos ? "" : line.substr(space + 1);
    const uint32_t rank = static_cast<uint32_t>(tok->token_bytes_.size());
    if (space == std::string::npos || !DecodeBase64(std::string_view(line).substr(0, space), &bytes)) {
      return Status::Corruption(where() + "expected \"base64 rank\", found \"" +
                                line.substr(0, 60) + "\"");
    }
    if (rank_text != std::to_string(rank)) {
      return Status::Corruption(where() + "rank \"" + rank_text.substr(0, 20) + "\", expected " +
                                std::to_string(rank) + " (ranks count up from 0)");
    }
    if (rank >= static_cast<uint32_t>(kNumRanks)) {
      return Status::Corruption(where() + "more than " + std::to_string(kNumRanks) + " tokens");
    }
    if (!ids.emplace(bytes, rank).second) {
      return Status::Corruption(where() + "token of rank " + std::to_string(rank) +
                                " repeats the bytes of rank " + std::to_string(ids[bytes]));
    }
    tok->token_bytes_.push_back(bytes);
  }
  if (in.bad()) return Status::IOError(path + ": read failed");
  if (tok->token_bytes_.size() != static_cast<size_t>(kNumRanks)) {
    return Status::Corruption(path + ": expected " + std::to_string(kNumRanks) + " tokens, found " +
                              std::to_string(tok->token_bytes_.size()));
  }
  for (int b = 0; b < 256; ++b) {
    const auto it = ids.find(std::string(1, static_cast<char>(b)));
    if (it == ids.end()) {
      return Status::Corruption(path + ": no token for byte " + std::to_string(b));
    }
    tok->bpe_->SetByteToken(static_cast<uint8_t>(b), it->second);
  }
  // tiktoken's BPE merges any adjacent pair whose concatenation is a token,
  // by that token's rank: every split of every token is a merge.
  tok->bpe_->ReserveMerges(kNumRanks * 8);
  for (uint32_t id = 0; id < static_cast<uint32_t>(kNumRanks); ++id) {
    const std::string& t = tok->token_bytes_[id];
    for (size_t k = 1; k < t.size(); ++k) {
      const auto l = ids.find(t.substr(0, k));
      if (l == ids.end()) continue;
      const auto r = ids.find(t.substr(k));
      if (r != ids.end()) tok->bpe_->AddMerge(l->second, r->second, id, id);
    }
    tok->bpe_->AddWholePiece(t, id);
  }
  for (uint32_t id = kNumRanks; id < static_cast<uint32_t>(kVocabSize); ++id) {
    tok->token_bytes_.push_back(SpecialTokenName(id));
  }
  for (uint32_t id = kNumRanks; id < static_cast<uint32_t>(kVocabSize); ++id) {
    tok->special_ids_.emplace(tok->token_bytes_[id], id);
  }
  return tok;
}

void Llama3Tokenizer::EncodeImpl(std::string_view text, std::vector<uint32_t>* tokens) const {
  if (!special_tokens_in_text_) {
    bpe_->Encode(text, tokens);
    return;
  }
  // Every special token is "<|" name "|>" with no "|>" inside the name.
  size_t pos = 0;  // start of the text not yet encoded
  for (size_t search = 0;;) {
    const size_t open = text.find("<|", search);
    const size_t close = open == std::string_view::npos ? open : text.find("|>", open + 2);
    if (close == std::string_view::npos) break;
    const auto it = special_ids_.find(text.substr(open, close + 2 - open));
    if (it == special_ids_.end()) {
      search = open + 1;
      continue;
    }
    bpe_->Encode(text.substr(pos, open - pos), tokens);
    tokens->push_back(it->second);
    pos = search = close + 2;
  }
  bpe_->Encode(text.substr(pos), tokens);
}

std::string Llama3Tokenizer::DecodeImpl(const uint32_t* tokens, size_t n) const {
  std::string text;
  for (size_t i = 0; i < n; ++i) {
    text += tokens[i] < static_cast<uint32_t>(kVocabSize) ? std::string_view(token_bytes_[tokens[i]])
                                                         : kUnknownToken;
  }
  return text;
}

}  // namespace meridian
