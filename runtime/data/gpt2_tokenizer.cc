#include "runtime/data/gpt2_tokenizer.h"

#include <array>
#include <fstream>
#include <unordered_map>
#include <utility>

#include <nlohmann/json.hpp>

namespace meridian {
namespace {

// kPattern of the header with \s spelled out as Unicode White_Space (and \S
// as its complement), so that PCRE2's own, version-dependent idea of \s
// under UCP (which adds U+180E) does not leak in.
#define MERIDIAN_WS "\\t-\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"
constexpr const char* kCompiledPattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" MERIDIAN_WS "\\p{L}\\p{N}]+"
    "|[" MERIDIAN_WS "]+(?![^" MERIDIAN_WS "])|[" MERIDIAN_WS "]+";
#undef MERIDIAN_WS

// encoder.py's bytes_to_unicode: the printable Latin-1 bytes stand for
// themselves, the other 68 bytes for U+0100.. in byte order, so that every
// byte has a visible, non-space character in encoder.json and vocab.bpe.
std::array<uint32_t, 256> BytesToUnicode() {
  std::array<uint32_t, 256> map{};
  uint32_t next = 256;
  for (uint32_t b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    map[b] = printable ? b : next++;
  }
  return map;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// The bytes an encoder.json key stands for: each character is one byte
// through the inverse of bytes_to_unicode. std::nullopt when a character is
// not one of the 256 (the file is not a byte-level vocabulary).
std::optional<std::string> KeyBytes(const std::string& key,
                                    const std::unordered_map<uint32_t, uint8_t>& unicode_to_byte) {
  std::string bytes;
  for (size_t i = 0; i < key.size();) {
    const auto c = static_cast<unsigned char>(key[i]);
    uint32_t cp;
    size_t len;
    if (c < 0x80) { cp = c; len = 1; }
    else if ((c & 0xE0) == 0xC0) { cp = c & 0x1F; len = 2; }
    else if ((c & 0xF0) == 0xE0) { cp = c & 0x0F; len = 3; }
    else return std::nullopt;
    if (i + len > key.size()) return std::nullopt;
    for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(key[i + k]) & 0x3F);
    i += len;
    const auto it = unicode_to_byte.find(cp);
    if (it == unicode_to_byte.end()) return std::nullopt;
    bytes.push_back(static_cast<char>(it->second));
  }
  return bytes;
}

Status MissingFile(const std::string& path) {
  return Status::NotFound(path + ": GPT-2 vocabulary file not found; run "
                          "scripts/fetch-gpt2-vocab.sh, or point --vocab-dir or "
                          "MERIDIAN_GPT2_VOCAB_DIR at a directory holding encoder.json and "
                          "vocab.bpe");
}

}  // namespace

Gpt2Tokenizer::~Gpt2Tokenizer() = default;

Result<std::unique_ptr<Gpt2Tokenizer>> Gpt2Tokenizer::Load(const std::string& vocab_dir,
                                                           bool special_tokens_in_text) {
  const std::string encoder_path = vocab_dir + "/encoder.json";
  const std::string merges_path = vocab_dir + "/vocab.bpe";
  std::unique_ptr<Gpt2Tokenizer> tok(new Gpt2Tokenizer());
  tok->special_tokens_in_text_ = special_tokens_in_text;
  MERIDIAN_ASSIGN_OR_RETURN(tok->bpe_, ByteLevelBpe::Create(kCompiledPattern, "GPT-2"));

  const std::array<uint32_t, 256> byte_to_unicode = BytesToUnicode();
  std::unordered_map<uint32_t, uint8_t> unicode_to_byte;
  for (int b = 0; b < 256; ++b) unicode_to_byte[byte_to_unicode[b]] = static_cast<uint8_t>(b);

  // encoder.json: {"<token as bytes_to_unicode characters>": id, ...}
  std::unordered_map<std::string, uint32_t> encoder;
  {
    std::ifstream in(encoder_path, std::ios::binary);
    if (!in) return MissingFile(encoder_path);
    nlohmann::json json;
    try {
      json = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      return Status::Corruption(encoder_path + ": not valid JSON: " + e.what());
    }
    if (!json.is_object() || json.size() != kVocabSize) {
      return Status::Corruption(encoder_path + ": expected an object of " +
                                std::to_string(kVocabSize) + " tokens, found " +
                                (json.is_object() ? std::to_string(json.size()) : json.type_name()));
    }
    tok->token_bytes_.assign(kVocabSize, std::string());
    std::vector<bool> seen(kVocabSize, false);
    for (const auto& [key, value] : json.items()) {
      if (!value.is_number_integer() || value.get<int64_t>() < 0 ||
          value.get<int64_t>() >= kVocabSize || seen[value.get<int64_t>()]) {
        return Status::Corruption(encoder_path + ": token \"" + key + "\": id " + value.dump() +
                                  " is not a new id in [0, " + std::to_string(kVocabSize) + ")");
      }
      const auto id = static_cast<uint32_t>(value.get<int64_t>());
      std::optional<std::string> bytes = KeyBytes(key, unicode_to_byte);
      if (!bytes || bytes->empty()) {
        return Status::Corruption(encoder_path + ": token \"" + key + "\" (id " +
                                  std::to_string(id) + ") is not byte-level BPE text");
      }
      seen[id] = true;
      tok->token_bytes_[id] = std::move(*bytes);
      encoder.emplace(key, id);
    }
    if (tok->token_bytes_[kEndOfText] != kEndOfTextText) {
      return Status::Corruption(encoder_path + ": id " + std::to_string(kEndOfText) +
                                " is not \"<|endoftext|>\"");
    }
    for (int b = 0; b < 256; ++b) {
      std::string key;
      AppendUtf8(byte_to_unicode[b], &key);
      const auto it = encoder.find(key);
      if (it == encoder.end()) {
        return Status::Corruption(encoder_path + ": no token for byte " + std::to_string(b));
      }
      tok->bpe_->SetByteToken(static_cast<uint8_t>(b), it->second);
    }
  }

  // vocab.bpe: "#version: 0.2", then one merge "left right" per line, in
  // rank order.
  {
    std::ifstream in(merges_path, std::ios::binary);
    if (!in) return MissingFile(merges_path);
    std::string line;
    std::getline(in, line);
    if (line.rfind("#version", 0) != 0) {
      return Status::Corruption(merges_path + ":1: expected \"#version: ...\", found \"" +
                                line.substr(0, 40) + "\"");
    }
    tok->bpe_->ReserveMerges(kNumMerges * 2);
    uint32_t rank = 0;
    for (size_t line_no = 2; std::getline(in, line); ++line_no) {
      if (line.empty()) continue;
      const size_t space = line.find(' ');
      const auto where = [&] { return merges_path + ":" + std::to_string(line_no) + ": "; };
      if (space == std::string::npos || space == 0 || space + 1 == line.size() ||
          line.find(' ', space + 1) != std::string::npos) {
        return Status::Corruption(where() + "expected \"left right\", found \"" + line + "\"");
      }
      const std::string left = line.substr(0, space), right = line.substr(space + 1);
      const auto l = encoder.find(left), r = encoder.find(right), m = encoder.find(left + right);
      if (l == encoder.end() || r == encoder.end() || m == encoder.end()) {
        return Status::Corruption(where() + "merge \"" + line + "\" names a token not in " +
                                  encoder_path);
      }
      if (!tok->bpe_->AddMerge(l->second, r->second, rank, m->second)) {
        return Status::Corruption(where() + "merge \"" + line + "\" appears twice");
      }
      ++rank;
    }
    if (in.bad()) return Status::IOError(merges_path + ": read failed");
    if (rank != kNumMerges) {
      return Status::Corruption(merges_path + ": expected " + std::to_string(kNumMerges) +
                                " merges, found " + std::to_string(rank));
    }
  }

  return tok;
}

void Gpt2Tokenizer::EncodeImpl(std::string_view text, std::vector<uint32_t>* tokens) const {
  if (!special_tokens_in_text_) {
    bpe_->Encode(text, tokens);
    return;
  }
  for (size_t pos = 0;;) {
    const size_t at = text.find(kEndOfTextText, pos);
    bpe_->Encode(text.substr(pos, at == std::string_view::npos ? std::string_view::npos : at - pos),
                 tokens);
    if (at == std::string_view::npos) return;
    tokens->push_back(kEndOfText);
    pos = at + kEndOfTextText.size();
  }
}

std::string Gpt2Tokenizer::DecodeImpl(const uint32_t* tokens, size_t n) const {
  std::string text;
  for (size_t i = 0; i < n; ++i) {
    text += tokens[i] < kVocabSize ? std::string_view(token_bytes_[tokens[i]]) : kUnknownToken;
  }
  return text;
}

}  // namespace meridian
