#include "runtime/data/byte_level_bpe.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <utility>

namespace meridian {
namespace {

// A scratch's BPE cache is dropped when it grows past this many pieces, so
// a corpus of endless distinct pieces (random bytes, hashes) cannot grow it
// without bound. Natural text needs far fewer.
constexpr size_t kMaxCachedPieces = 1 << 18;

}  // namespace

// Per-thread state: PCRE2's match data and JIT stack, and the BPE results of
// pieces seen before (most pieces of natural text are common words).
struct ByteLevelBpe::Scratch {
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
  std::unordered_map<std::string, std::vector<uint32_t>, StringHash, std::equal_to<>> cache;
  std::vector<uint32_t> word;  // Bpe's working copy, kept for its capacity
};

// Borrows a Scratch from the pool for one Encode call (two lock round trips
// per call, none per piece) and gives it back.
class ByteLevelBpe::ScratchLease {
 public:
  explicit ScratchLease(const ByteLevelBpe& bpe) : bpe_(bpe) {
    {
      std::lock_guard<std::mutex> lock(bpe_.pool_mu_);
      if (!bpe_.pool_.empty()) {
        scratch_ = std::move(bpe_.pool_.back());
        bpe_.pool_.pop_back();
      }
    }
    if (!scratch_) scratch_ = std::make_unique<Scratch>(static_cast<const pcre2_code*>(bpe_.code_));
  }
  ~ScratchLease() {
    std::lock_guard<std::mutex> lock(bpe_.pool_mu_);
    bpe_.pool_.push_back(std::move(scratch_));
  }
  ScratchLease(const ScratchLease&) = delete;
  ScratchLease& operator=(const ScratchLease&) = delete;
  Scratch& operator*() { return *scratch_; }

 private:
  const ByteLevelBpe& bpe_;
  std::unique_ptr<Scratch> scratch_;
};

Result<std::unique_ptr<ByteLevelBpe>> ByteLevelBpe::Create(std::string_view pattern,
                                                           std::string_view what) {
  int error = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error,
                                   &error_offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(error, msg, sizeof(msg));
    return Status::Internal(std::string(what) + " pre-tokenizer regex does not compile at offset " +
                            std::to_string(error_offset) + ": " + reinterpret_cast<char*>(msg));
  }
  // Without JIT (a platform PCRE2 has no JIT for) the interpreter gives the
  // same matches, only slower.
  (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  std::unique_ptr<ByteLevelBpe> bpe(new ByteLevelBpe());
  bpe->code_ = code;
  return bpe;
}

ByteLevelBpe::~ByteLevelBpe() {
  pool_.clear();
  pcre2_code_free(static_cast<pcre2_code*>(code_));
}

bool ByteLevelBpe::AddMerge(uint32_t left, uint32_t right, uint32_t rank, uint32_t merged) {
  return merges_.emplace((uint64_t{left} << 32) | right, Merge{rank, merged}).second;
}

void ByteLevelBpe::AddWholePiece(std::string bytes, uint32_t id) {
  whole_pieces_.emplace(std::move(bytes), id);
}

// encoder.py's bpe(): repeatedly take the adjacent pair of lowest rank and
// merge every occurrence of it, left to right, until no pair has a rank.
// Ids stand for the strings here; the map between them is one to one, so
// pairs of ids compare as pairs of strings do.
void ByteLevelBpe::Bpe(std::vector<uint32_t>* word) const {
  std::vector<uint32_t>& w = *word;
  while (w.size() > 1) {
    const Merge* best = nullptr;
    uint32_t first = 0, second = 0;
    for (size_t i = 0; i + 1 < w.size(); ++i) {
      const auto it = merges_.find((uint64_t{w[i]} << 32) | w[i + 1]);
      if (it != merges_.end() && (best == nullptr || it->second.rank < best->rank)) {
        best = &it->second;
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

void ByteLevelBpe::EncodePiece(std::string_view piece, Scratch& scratch,
                               std::vector<uint32_t>* tokens) const {
  if (piece.size() == 1) {
    tokens->push_back(byte_token_[static_cast<unsigned char>(piece[0])]);
    return;
  }
  if (const auto it = scratch.cache.find(piece); it != scratch.cache.end()) {
    tokens->insert(tokens->end(), it->second.begin(), it->second.end());
    return;
  }
  if (const auto it = whole_pieces_.find(piece); it != whole_pieces_.end()) {
    tokens->push_back(it->second);
    return;
  }
  std::vector<uint32_t>& word = scratch.word;
  word.resize(piece.size());
  for (size_t i = 0; i < piece.size(); ++i) word[i] = byte_token_[static_cast<unsigned char>(piece[i])];
  Bpe(&word);
  tokens->insert(tokens->end(), word.begin(), word.end());
  if (scratch.cache.size() >= kMaxCachedPieces) scratch.cache.clear();
  scratch.cache.emplace(std::string(piece), word);
}

void ByteLevelBpe::Encode(std::string_view text, std::vector<uint32_t>* tokens) const {
  ScratchLease lease(*this);
  Scratch& scratch = *lease;
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

std::vector<std::string_view> ByteLevelBpe::PreTokenize(std::string_view text) const {
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

}  // namespace meridian
