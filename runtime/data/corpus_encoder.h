// Streaming corpus encoder: documents in (corpus_reader.h), llm.c token
// shards out (token_shard.h), in memory that does not grow with the corpus.
//
// The reader runs on the calling thread and hands batches of document
// pieces to `threads` encoding threads; results are written in the order the
// batches were read, so the shards are the same bytes for any thread count.
// Every document starts with the tokenizer's document_start token and ends
// with its document_end token, where it has them: GPT-2's documents start
// with <|endoftext|> (as llm.c's data scripts do), Llama 3's are
// <|begin_of_text|> text <|end_of_text|>, byte documents have no marks.
//
// Shard version: TokenShardVersionFor(tokenizer.vocab_size()), so bytes and
// GPT-2 write llm.c's version 1 (uint16) and Llama 3 version 2 (uint32).
//
// Train/val split: by document. Document i (counting from 0 over all
// inputs, in order) goes to val when IsValDocument(i, val_fraction); the
// choice depends on i alone, so train and val never share a document and
// the same corpus splits the same way every time. Document 0 always goes to
// train, so train is never empty.
//
// Shards: DIR/train_000.bin, ... and DIR/val_000.bin, ..., each of
// shard_tokens tokens except the last two of a split, which share the
// remainder evenly (between shard_tokens/2 and shard_tokens each), so no
// split ends in a stub shorter than a training window. Past 1000 shards the
// names of the whole split get more digits, as they still sort in order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "runtime/data/corpus_reader.h"
#include "runtime/data/tokenizer.h"

namespace meridian {

struct CorpusEncodeOptions {
  std::vector<std::string> inputs;  // files, directories, globs
  std::string out_dir;
  ReadOptions read;  // format, text field, text documents, on_error, warn
  double val_fraction = 0.05;  // REQUIRES: in [0, 1)
  uint64_t shard_tokens = 1'000'000;  // REQUIRES: in [1, INT32_MAX]
  int threads = 1;  // encoding threads; REQUIRES: >= 1
  // Rewrite one progress line on stderr about twice a second.
  bool progress = false;
  // Print "wrote PATH (N tokens)" on stdout for every shard.
  bool log_shards = true;
};

struct CorpusEncodeSummary {
  uint64_t files = 0;         // files read (skipped ones not counted)
  uint64_t skipped_files = 0;
  uint64_t skipped_lines = 0;
  uint64_t documents = 0;
  uint64_t val_documents = 0;
  uint64_t bytes = 0;         // file bytes read
  uint64_t train_tokens = 0;
  uint64_t val_tokens = 0;
  uint64_t train_shards = 0;
  uint64_t val_shards = 0;
  double seconds = 0;
};

// Whether document `index` belongs to val: a SplitMix64 hash of the index,
// as a fraction in [0, 1), below val_fraction. Document 0 never does.
bool IsValDocument(uint64_t index, double val_fraction);

// Encodes the corpus. InvalidArgument for bad options; the errors of
// ExpandInputs and ReadDocuments (under OnError::kFail; under kSkip a file
// that cannot be read is reported and skipped); IOError from writing.
Result<CorpusEncodeSummary> EncodeCorpus(const Tokenizer& tokenizer,
                                         const CorpusEncodeOptions& options);

}  // namespace meridian
