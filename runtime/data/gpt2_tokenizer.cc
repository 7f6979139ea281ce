#include "runtime/data/gpt2_tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <limits>
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

// A scratch's BPE cache is dropped when it grows past this many pieces, so
// a corpus of endless distinct pieces (random bytes, hashes) cannot grow it
// without bound. Natural text needs far fewer.
constexpr size_t kMaxCachedPieces = 1 << 18;

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

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

Status MissingFile(const std::string& path) {
  return Status::NotFound(path + ": GPT-2 vocabulary file not found; run "
                          "scripts/fetch-gpt2-vocab.sh, or point --vocab-dir or "
                          "MERIDIAN_GPT2_VOCAB_DIR at a directory holding encoder.json and "
                          "vocab.bpe");
}

}  // namespace

// Per-thread state: PCRE2's match data and JIT stack, and the BPE results of
// pieces seen before (most pieces of natural text are common words).
struct Gpt2Tokenizer::Scratch {
  explicit Scratch(const pcre2_code* code)
      : match_data(pcre2_match_data_create_from_pattern(code, nullptr)),
        match_context(pcre2_match_context_create(nullptr)),
        // Long runs of one class (a megabyte of spaces) need more than the
        // default 32 KiB; the stack grows on demand up to the maximum.
        jit_stack(pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr)) {
    if (match_context && jit_stack) pcre2_jit_stack_assign(match_context, nullptr, jit_stack);
  }
  ~Scratch() {
    pcre2_jit_stack_free(jit_stack);
    pcre2_match_context_free(match_context);
    pcre2_match_data_free(match_data);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

  pcre2_match_data* match_data;
  pcre2_match_context* match_context;
  pcre2_jit_stack* jit_stack;
  std::unordered_map<std::string, std::vector<uint16_t>, StringHash, std::equal_to<>> cache;
  std::vector<uint16_t> word;  // Bpe's working copy, kept for its capacity
};

// Borrows a Scratch from the pool for one Encode call (two lock round trips
// per call, none per piece) and gives it back.
class Gpt2Tokenizer::ScratchLease {
 public:
  explicit ScratchLease(const Gpt2Tokenizer& tok) : tok_(tok) {
    {
      std::lock_guard<std::mutex> lock(tok_.pool_mu_);
      if (!tok_.pool_.empty()) {
        scratch_ = std::move(tok_.pool_.back());
        tok_.pool_.pop_back();
      }
    }
    if (!scratch_) scratch_ = std::make_unique<Scratch>(static_cast<const pcre2_code*>(tok_.code_));
  }
  ~ScratchLease() {
    std::lock_guard<std::mutex> lock(tok_.pool_mu_);
    tok_.pool_.push_back(std::move(scratch_));
  }
  ScratchLease(const ScratchLease&) = delete;
  ScratchLease& operator=(const ScratchLease&) = delete;
  Scratch& operator*() { return *scratch_; }

 private:
  const Gpt2Tokenizer& tok_;
  std::unique_ptr<Scratch> scratch_;
};

Gpt2Tokenizer::~Gpt2Tokenizer() {
  pool_.clear();
  pcre2_code_free(static_cast<pcre2_code*>(code_));
}

Result<std::unique_ptr<Gpt2Tokenizer>> Gpt2Tokenizer::Load(const std::string& vocab_dir,
                                                           bool special_tokens_in_text) {
  const std::string encoder_path = vocab_dir + "/encoder.json";
  const std::string merges_path = vocab_dir + "/vocab.bpe";
  std::unique_ptr<Gpt2Tokenizer> tok(new Gpt2Tokenizer());
  tok->special_tokens_in_text_ = special_tokens_in_text;

  const std::array<uint32_t, 256> byte_to_unicode = BytesToUnicode();
  std::unordered_map<uint32_t, uint8_t> unicode_to_byte;
  for (int b = 0; b < 256; ++b) unicode_to_byte[byte_to_unicode[b]] = static_cast<uint8_t>(b);

  // encoder.json: {"<token as bytes_to_unicode characters>": id, ...}
  std::unordered_map<std::string, uint16_t> encoder;
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
      const auto id = static_cast<uint16_t>(value.get<int64_t>());
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
      tok->byte_token_[b] = it->second;
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
    tok->merges_.reserve(kNumMerges * 2);
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
      const uint32_t key = (uint32_t{l->second} << 16) | r->second;
      if (!tok->merges_.emplace(key, Merge{rank, m->second}).second) {
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

  int error = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(kCompiledPattern),
                                   PCRE2_ZERO_TERMINATED,
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error,
                                   &error_offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(error, msg, sizeof(msg));
    return Status::Internal("GPT-2 pre-tokenizer regex does not compile at offset " +
                            std::to_string(error_offset) + ": " + reinterpret_cast<char*>(msg));
  }
  // Without JIT (a platform PCRE2 has no JIT for) the interpreter gives the
  // same matches, only slower.
  (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  tok->code_ = code;
  return tok;
}

const Gpt2Tokenizer::Merge* Gpt2Tokenizer::FindMerge(uint16_t left, uint16_t right) const {
  const auto it = merges_.find((uint32_t{left} << 16) | right);
  return it == merges_.end() ? nullptr : &it->second;
}

// encoder.py's bpe(): repeatedly take the adjacent pair of lowest rank and
// merge every occurrence of it, left to right, until no pair has a rank.
// Ids stand for the strings here; the map between them is one to one, so
// pairs of ids compare as pairs of strings do.
void Gpt2Tokenizer::Bpe(std::vector<uint16_t>* word) const {
  std::vector<uint16_t>& w = *word;
  while (w.size() > 1) {
    const Merge* best = nullptr;
    uint16_t first = 0, second = 0;
    for (size_t i = 0; i + 1 < w.size(); ++i) {
      const Merge* m = FindMerge(w[i], w[i + 1]);
      if (m != nullptr && (best == nullptr || m->rank < best->rank)) {
        best = m;
        first = w[i];
        second = w[i + 1];
      }
    }
    if (best == nullptr) break;
    size_t out = 0;
    for (size_t i = 0; i < w.size();) {
      if (i + 1 < w.size() && w[i] == first && w[i + 1] == second) {
        w[out++] = best->merged;
        i += 2;
      } else {
        w[out++] = w[i++];
      }
    }
    w.resize(out);
  }
}

void Gpt2Tokenizer::EncodePiece(std::string_view piece, Scratch& scratch,
                                std::vector<uint16_t>* tokens) const {
  if (piece.size() == 1) {
    tokens->push_back(byte_token_[static_cast<unsigned char>(piece[0])]);
    return;
  }
  if (const auto it = scratch.cache.find(piece); it != scratch.cache.end()) {
    tokens->insert(tokens->end(), it->second.begin(), it->second.end());
    return;
  }
  std::vector<uint16_t>& word = scratch.word;
  word.resize(piece.size());
  for (size_t i = 0; i < piece.size(); ++i) word[i] = byte_token_[static_cast<unsigned char>(piece[i])];
  Bpe(&word);
  tokens->insert(tokens->end(), word.begin(), word.end());
  if (scratch.cache.size() >= kMaxCachedPieces) scratch.cache.clear();
  scratch.cache.emplace(std::string(piece), word);
}

void Gpt2Tokenizer::EncodeOrdinary(std::string_view text, Scratch& scratch,
                                   std::vector<uint16_t>* tokens) const {
  const auto* code = static_cast<const pcre2_code*>(code_);
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(scratch.match_data);
  size_t pos = 0;
  while (pos < text.size()) {
    int rc = pcre2_match(code, subject, text.size(), pos, 0, scratch.match_data,
                         scratch.match_context);
    if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) {
      // A JIT resource limit (a run of one class longer than the JIT stack
      // allows): the interpreter, whose memory is on the heap, may manage.
      rc = pcre2_match(code, subject, text.size(), pos, PCRE2_NO_JIT, scratch.match_data,
                       scratch.match_context);
    }
    if (rc < 0) {
      // No further match: the rest is invalid UTF-8 (or, if even the
      // interpreter gave up, text it could not split); as one piece it
      // still round-trips.
      EncodePiece(text.substr(pos), scratch, tokens);
      return;
    }
    const size_t begin = ovector[0], end = ovector[1];
    if (begin > pos) EncodePiece(text.substr(pos, begin - pos), scratch, tokens);  // invalid UTF-8
    EncodePiece(text.substr(begin, end - begin), scratch, tokens);
    pos = end;  // every alternative matches at least one character
  }
}

void Gpt2Tokenizer::EncodeImpl(std::string_view text, std::vector<uint16_t>* tokens) const {
  ScratchLease scratch(*this);
  if (!special_tokens_in_text_) {
    EncodeOrdinary(text, *scratch, tokens);
    return;
  }
  for (size_t pos = 0;;) {
    const size_t at = text.find(kEndOfTextText, pos);
    EncodeOrdinary(text.substr(pos, at == std::string_view::npos ? std::string_view::npos : at - pos),
                   *scratch, tokens);
    if (at == std::string_view::npos) return;
    tokens->push_back(kEndOfText);
    pos = at + kEndOfTextText.size();
  }
}

std::vector<std::string_view> Gpt2Tokenizer::PreTokenize(std::string_view text) const {
  ScratchLease lease(*this);
  Scratch& scratch = *lease;
  const auto* code = static_cast<const pcre2_code*>(code_);
  const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(scratch.match_data);
  std::vector<std::string_view> pieces;
  size_t pos = 0;
  while (pos < text.size()) {
    const int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), pos,
                               PCRE2_NO_JIT, scratch.match_data, scratch.match_context);
    if (rc < 0) {
      pieces.push_back(text.substr(pos));
      break;
    }
    if (ovector[0] > pos) pieces.push_back(text.substr(pos, ovector[0] - pos));
    pieces.push_back(text.substr(ovector[0], ovector[1] - ovector[0]));
    pos = ovector[1];
  }
  return pieces;
}

std::string Gpt2Tokenizer::DecodeImpl(const uint16_t* tokens, size_t n) const {
  std::string text;
  for (size_t i = 0; i < n; ++i) {
    text += tokens[i] < kVocabSize ? std::string_view(token_bytes_[tokens[i]]) : kUnknownToken;
  }
  return text;
}

}  // namespace meridian
