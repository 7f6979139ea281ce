// Reading a text corpus as a stream of documents, in bounded memory.
//
// Inputs are files, directories (walked recursively, hidden entries
// skipped, files in bytewise-sorted order) and glob(3) patterns, expanded
// in the order given. A file is plain text or JSON lines:
//   text   documents are paragraphs: a document ends after each "\n\n" (the
//          blank line stays with the document before it), or, with
//          TextDocuments::kFile, the whole file is one document;
//   jsonl  one JSON object per line, the document is its string field
//          `text_field`; blank lines are skipped.
// A document reaches the sink in pieces of at most about a megabyte, cut
// only where GPT-2's and Llama 3's pre-tokenizers cut anyway
// (SafeSplitPoint), so encoding the pieces one by one gives the tokens of
// the whole document.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace meridian {

enum class InputFormat { kAuto, kText, kJsonl };
enum class TextDocuments { kParagraph, kFile };
enum class OnError { kFail, kSkip };

// "auto" | "text" | "jsonl"; InvalidArgument naming the value otherwise.
Result<InputFormat> ParseInputFormat(std::string_view name);
// What kAuto means for `path`: kJsonl for .jsonl and .ndjson, else kText.
InputFormat FormatForPath(const std::string& path);

struct InputFile {
  std::string path;
  InputFormat format = InputFormat::kText;  // never kAuto
};

struct ReadOptions {
  InputFormat format = InputFormat::kAuto;
  std::string text_field = "text";
  TextDocuments text_documents = TextDocuments::kParagraph;
  OnError on_error = OnError::kFail;
  // Told of every error that on_error == kSkip skips. Required.
  std::function<void(const Status&)> warn;
};

// Expands `inputs` into the files to read, in order. An input that does not
// exist, a glob that matches nothing, or a directory that cannot be walked
// is an error naming it (NotFound / IOError) that stops the expansion under
// kFail and is passed to options.warn and left out under kSkip. Files under
// `exclude_dir` (the output directory) are left out so shards written there
// are never read back as text. InvalidArgument when nothing is left.
Result<std::vector<InputFile>> ExpandInputs(const std::vector<std::string>& inputs,
                                            const ReadOptions& options,
                                            const std::string& exclude_dir = "");

// Receives the pieces of the documents, in order. `doc_start` is true for
// the first piece of each document; pieces are never empty.
using PieceSink = std::function<void(bool doc_start, std::string&& piece)>;

struct ReadStats {
  uint64_t bytes = 0;          // file bytes read
  uint64_t skipped_lines = 0;  // JSON lines skipped under OnError::kSkip
};

// Streams the documents of `file` into `sink`. Under kFail, returns the
// first error: IOError "<path>: cannot open: ..." or "<path>:<line>: read
// failed", Corruption "<path>:<line>: invalid JSON: ..." or
// "<path>:<line>: no string field "text"". Under kSkip a bad JSON line is
// passed to options.warn and skipped; an I/O error is still returned (the
// caller decides about the file; pieces sent before it stay sent).
Status ReadDocuments(const InputFile& file, const ReadOptions& options, const PieceSink& sink,
                     ReadStats* stats);

// Largest p in [2, min(limit, text.size() - 1)] at which GPT-2's and Llama
// 3's pre-tokenizers are certain to cut `text` and at which the pieces before p do
// not depend on the text after it: right after a "\n" that has a non-space
// ASCII byte on each side, or before a " " between two ASCII letters.
// 0 when there is none. The byte tokenizer can be cut anywhere.
size_t SafeSplitPoint(std::string_view text, size_t limit);

// How many leading bytes of `text` to send as the next piece: all of it
// when short enough and `at_end`, else a SafeSplitPoint, else 0 (wait for
// more text), or when a megabyte holds no safe point (one enormous line) a
// UTF-8 character boundary, the one place where cutting may change GPT-2's
// tokens slightly.
size_t NextPieceLength(std::string_view text, bool at_end);

}  // namespace meridian
