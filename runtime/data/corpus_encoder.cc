#include "runtime/data/corpus_encoder.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <utility>

#include "runtime/data/token_shard.h"

namespace meridian {
namespace {

// The reader hands the encoders about this much text at a time: large
// enough that the hand-over costs nothing, small enough to keep all threads
// busy on a small corpus. At most 2 * threads + 2 batches are in flight.
constexpr size_t kBatchBytes = 1024 * 1024;
// Mixed into the document index before hashing, so the val documents are
// not the ones another hash of the index would pick.
constexpr uint64_t kValSplitSalt = 0x5641'4c5f'444f'4353ULL;  // "VAL_DOCS"

uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// Writes one split's shards as its tokens arrive, holding back the last
// full shard so that the end can be shared evenly with the one before.
class SplitWriter {
 public:
  SplitWriter(std::string dir, std::string split, uint64_t shard_tokens, int32_t version, bool log)
      : dir_(std::move(dir)), split_(std::move(split)), shard_tokens_(shard_tokens),
        version_(version), log_(log) {}

  Status Append(const std::vector<uint32_t>& tokens) {
    buf_.insert(buf_.end(), tokens.begin(), tokens.end());
    tokens_ += tokens.size();
    if (buf_.size() < 2 * shard_tokens_) return Status::OK();
    size_t begin = 0;
    while (buf_.size() - begin >= 2 * shard_tokens_) {
      MERIDIAN_RETURN_IF_ERROR(Write(begin, begin + shard_tokens_));
      begin += shard_tokens_;
    }
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(begin));
    return Status::OK();
  }

  Status Finish() {
    if (buf_.size() > shard_tokens_) {
      const size_t half = (buf_.size() + 1) / 2;
      MERIDIAN_RETURN_IF_ERROR(Write(0, half));
      MERIDIAN_RETURN_IF_ERROR(Write(half, buf_.size()));
    } else if (!buf_.empty()) {
      MERIDIAN_RETURN_IF_ERROR(Write(0, buf_.size()));
    }
    buf_.clear();
    if (shards_ > 1000) {  // the names written so far are too narrow to sort
      for (size_t i = 0; i < shards_; ++i) {
        const std::string from = dir_ + "/" + TokenShardName(split_, i, 1);
        const std::string to = dir_ + "/" + TokenShardName(split_, i, shards_);
        std::error_code ec;
        if (from != to) std::filesystem::rename(from, to, ec);
        if (ec) return Status::IOError(from + ": cannot rename to " + to + ": " + ec.message());
      }
    }
    // Leftovers of an earlier, larger run would silently join this one's
    // data when the loader globs split_*.bin.
    Result<std::vector<std::string>> all = ExpandShardGlob(dir_ + "/" + split_ + "_*.bin");
    if (all.ok() && all->size() > shards_) {
      std::fprintf(stderr, "warning: %s holds %zu %s_*.bin files but this run wrote %zu; "
                   "remove the stale ones or a loader globbing %s_*.bin will read them\n",
                   dir_.c_str(), all->size(), split_.c_str(), static_cast<size_t>(shards_),
                   split_.c_str());
    }
    return Status::OK();
  }

  uint64_t shards() const { return shards_; }
  uint64_t tokens() const { return tokens_; }

 private:
  Status Write(size_t begin, size_t end) {
    const std::vector<uint32_t> part(buf_.begin() + static_cast<std::ptrdiff_t>(begin),
                                     buf_.begin() + static_cast<std::ptrdiff_t>(end));
    const std::string path = dir_ + "/" + TokenShardName(split_, shards_, 1);
    MERIDIAN_RETURN_IF_ERROR(WriteTokenShard(path, part, version_));
    if (log_) std::printf("wrote %s (%zu tokens)\n", path.c_str(), part.size());
    ++shards_;
    return Status::OK();
  }

  const std::string dir_, split_;
  const uint64_t shard_tokens_;
  const int32_t version_;
  const bool log_;
  std::vector<uint32_t> buf_;
  uint64_t shards_ = 0, tokens_ = 0;
};

struct Batch {
  struct Piece {
    bool doc_start;
    bool val;
    std::string text;
    // A piece that ends its document: no text, only the tokenizer's
    // document_end token (with doc_start false).
    bool doc_end = false;
  };
  std::vector<Piece> pieces;
  size_t bytes = 0;
};

struct Encoded {
  std::vector<uint32_t> train, val;
};

// `threads` encoders over a queue of numbered batches; results come back
// strictly in submission order.
class EncodePool {
 public:
  EncodePool(const Tokenizer& tokenizer, int threads) : tokenizer_(tokenizer) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
  }
  ~EncodePool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    work_cv_.notify_all();
    for (std::thread& t : threads_) t.join();
  }
  EncodePool(const EncodePool&) = delete;
  EncodePool& operator=(const EncodePool&) = delete;

  void Submit(Batch batch) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.emplace_back(next_submit_++, std::move(batch));
    }
    work_cv_.notify_one();
  }

  // REQUIRES: in_flight() > 0.
  Encoded TakeNext() {
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [&] { return done_.count(next_take_) > 0; });
    auto it = done_.find(next_take_++);
    Encoded out = std::move(it->second);
    done_.erase(it);
    return out;
  }

  uint64_t in_flight() const { return next_submit_ - next_take_; }

 private:
  void Run() {
    const std::optional<uint32_t> start = tokenizer_.document_start();
    const std::optional<uint32_t> end = tokenizer_.document_end();
    for (;;) {
      std::pair<uint64_t, Batch> job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        work_cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      Encoded out;
      for (const Batch::Piece& p : job.second.pieces) {
        std::vector<uint32_t>* tokens = p.val ? &out.val : &out.train;
        if (p.doc_end) {
          tokens->push_back(*end);
          continue;
        }
        if (p.doc_start && start) tokens->push_back(*start);
        tokenizer_.Encode(p.text, tokens);
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        done_.emplace(job.first, std::move(out));
      }
      done_cv_.notify_all();
    }
  }

  const Tokenizer& tokenizer_;
  std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  std::deque<std::pair<uint64_t, Batch>> queue_;
  std::map<uint64_t, Encoded> done_;
  uint64_t next_submit_ = 0, next_take_ = 0;  // touched by the submitting thread only
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace

bool IsValDocument(uint64_t index, double val_fraction) {
  if (index == 0) return false;
  const double u = static_cast<double>(SplitMix64(index ^ kValSplitSalt) >> 11) * 0x1.0p-53;
  return u < val_fraction;
}

Result<CorpusEncodeSummary> EncodeCorpus(const Tokenizer& tokenizer,
                                         const CorpusEncodeOptions& options) {
  if (!(options.val_fraction >= 0.0 && options.val_fraction < 1.0)) {
    std::ostringstream msg;
    msg << "--val-fraction: " << options.val_fraction << " must be in [0, 1)";
    return Status::InvalidArgument(msg.str());
  }
  if (options.threads < 1) {
    return Status::InvalidArgument("--threads: " + std::to_string(options.threads) +
                                   " must be at least 1");
  }
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  Clock::time_point last_progress = start;
  bool progress_shown = false;
  CorpusEncodeSummary sum;

  // Warnings start on a clean line when a progress line is showing.
  ReadOptions read = options.read;
  read.warn = [&](const Status& s) {
    if (progress_shown) std::fputs("\r\033[K", stderr);
    options.read.warn(s);
  };
  MERIDIAN_ASSIGN_OR_RETURN(std::vector<InputFile> files,
                            ExpandInputs(options.inputs, read, options.out_dir));
  std::error_code ec;
  std::filesystem::create_directories(options.out_dir, ec);
  if (ec) return Status::IOError(options.out_dir + ": cannot create directory: " + ec.message());

  const int32_t version = TokenShardVersionFor(tokenizer.vocab_size());
  SplitWriter train(options.out_dir, "train", options.shard_tokens, version, options.log_shards);
  SplitWriter val(options.out_dir, "val", options.shard_tokens, version, options.log_shards);
  Status write_status;
  uint64_t file_bytes_sent = 0;  // text of the file being read handed on so far
  auto show_progress = [&](bool force) {
    const Clock::time_point now = Clock::now();
    if (!options.progress || (!force && now - last_progress < std::chrono::milliseconds(500))) return;
    last_progress = now;
    const double secs = std::chrono::duration<double>(now - start).count();
    const uint64_t tokens = train.tokens() + val.tokens();
    std::fprintf(stderr, "\r\033[Kencode: %.1f MB, %llu docs, %llu tokens, %.2fM tokens/s",
                 static_cast<double>(sum.bytes + file_bytes_sent) / 1e6,
                 static_cast<unsigned long long>(sum.documents),
                 static_cast<unsigned long long>(tokens),
                 secs > 0 ? static_cast<double>(tokens) / secs / 1e6 : 0.0);
    progress_shown = true;
  };

  {
    EncodePool pool(tokenizer, options.threads);
    const uint64_t max_in_flight = 2 * static_cast<uint64_t>(options.threads) + 2;
    auto write_next = [&] {
      Encoded e = pool.TakeNext();
      if (!write_status.ok()) return;
      write_status = train.Append(e.train);
      if (write_status.ok()) write_status = val.Append(e.val);
      show_progress(false);
    };
    Batch batch;
    auto flush = [&] {
      if (batch.pieces.empty()) return;
      pool.Submit(std::move(batch));
      batch = Batch();
      while (pool.in_flight() >= max_in_flight) write_next();
    };
    bool doc_val = false;
    // With a document_end token every document but the last is ended when
    // the next one starts (in its own split), the last after the inputs.
    const bool end_documents = tokenizer.document_end().has_value();
    auto end_document = [&] {
      if (!end_documents || sum.documents == 0) return;
      batch.pieces.push_back({false, doc_val, std::string(), true});
    };
    const PieceSink sink = [&](bool doc_start, std::string&& piece) {
      if (doc_start) {
        end_document();
        doc_val = IsValDocument(sum.documents++, options.val_fraction);
        if (doc_val) ++sum.val_documents;
      }
      batch.bytes += piece.size();
      file_bytes_sent += piece.size();
      batch.pieces.push_back({doc_start, doc_val, std::move(piece)});
      if (batch.bytes >= kBatchBytes) flush();
    };
    for (const InputFile& file : files) {
      ReadStats stats;
      file_bytes_sent = 0;
      const Status s = ReadDocuments(file, read, sink, &stats);
      file_bytes_sent = 0;
      sum.bytes += stats.bytes;
      sum.skipped_lines += stats.skipped_lines;
      if (!s.ok() && options.read.on_error == OnError::kFail) {
        while (pool.in_flight() > 0) pool.TakeNext();
        return s;
      }
      if (!s.ok()) {
        read.warn(s);
        ++sum.skipped_files;
      } else {
        ++sum.files;
      }
      if (!write_status.ok()) break;
    }
    end_document();
    flush();
    while (pool.in_flight() > 0) write_next();
  }
  MERIDIAN_RETURN_IF_ERROR(write_status);
  if (sum.documents == 0) {
    return Status::InvalidArgument("no documents in the inputs (all files empty or skipped)");
  }
  MERIDIAN_RETURN_IF_ERROR(train.Finish());
  MERIDIAN_RETURN_IF_ERROR(val.Finish());
  show_progress(true);
  if (progress_shown) std::fputs("\n", stderr);
  sum.train_tokens = train.tokens();
  sum.val_tokens = val.tokens();
  sum.train_shards = train.shards();
  sum.val_shards = val.shards();
  sum.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return sum;
}

}  // namespace meridian
