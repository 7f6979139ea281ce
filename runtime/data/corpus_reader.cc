#include "runtime/data/corpus_reader.h"

#include <glob.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>

#include <nlohmann/json.hpp>

namespace meridian {
namespace {

namespace fs = std::filesystem;

// Pieces are about kPieceBytes; kMaxPieceBytes of text without a safe split
// point is cut at a character boundary instead.
constexpr size_t kPieceBytes = 256 * 1024;
constexpr size_t kMaxPieceBytes = 1024 * 1024;
constexpr size_t kReadBlockBytes = 1024 * 1024;

bool IsAsciiNonSpace(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u < 0x7F;
}
bool IsAsciiLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

bool IsHidden(const fs::path& p) {
  const std::string name = p.filename().string();
  return name.size() > 1 && name[0] == '.' && name != "..";
}

bool HasGlobChars(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

// Whether `path` lies in `dir` (both made absolute and normal).
bool IsUnder(const fs::path& path, const fs::path& dir) {
  if (dir.empty()) return false;
  const fs::path rel = path.lexically_relative(dir);
  return !rel.empty() && *rel.begin() != "..";
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

Result<File> OpenForReading(const std::string& path) {
  File f(std::fopen(path.c_str(), "rb"));
  if (!f) return Status::IOError(path + ": cannot open: " + std::strerror(errno));
  return f;
}

// Sends `text` (a document's tail: nothing of it follows) as pieces.
void SendAll(std::string_view text, bool doc_start, const PieceSink& sink) {
  while (!text.empty()) {
    const size_t n = NextPieceLength(text, /*at_end=*/true);
    sink(doc_start, std::string(text.substr(0, n)));
    doc_start = false;
    text.remove_prefix(n);
  }
}

Status ReadText(const InputFile& file, const ReadOptions& options, const PieceSink& sink,
                ReadStats* stats) {
  MERIDIAN_ASSIGN_OR_RETURN(File f, OpenForReading(file.path));
  const bool paragraphs = options.text_documents == TextDocuments::kParagraph;
  std::string pending;       // text of the current document not yet sent
  bool doc_started = false;  // some of the current document was sent
  size_t scanned = 0;        // pending[0, scanned) holds no "\n\n"
  std::vector<char> block(kReadBlockBytes);
  uint64_t line = 1;
  for (;;) {
    const size_t got = std::fread(block.data(), 1, block.size(), f.get());
    if (got == 0) {
      if (std::ferror(f.get())) {
        return Status::IOError(file.path + ":" + std::to_string(line) + ": read failed: " +
                               std::strerror(errno));
      }
      break;
    }
    stats->bytes += got;
    line += static_cast<uint64_t>(std::count(block.data(), block.data() + got, '\n'));
    pending.append(block.data(), got);
    if (paragraphs) {
      size_t begin = 0;
      for (size_t at; (at = pending.find("\n\n", std::max(scanned, begin + 1) - 1)) != std::string::npos;) {
        const size_t end = at + 2;
        SendAll(std::string_view(pending).substr(begin, end - begin), !doc_started, sink);
        doc_started = false;
        begin = end;
        scanned = end;
      }
      pending.erase(0, begin);
      scanned = pending.size();
    }
    // Send what is safe of a long document now, keeping memory bounded.
    size_t sent = 0;
    for (size_t n; (n = NextPieceLength(std::string_view(pending).substr(sent), false)) > 0;) {
      sink(!doc_started, pending.substr(sent, n));
      doc_started = true;
      sent += n;
    }
    pending.erase(0, sent);
    scanned = pending.size();
  }
  SendAll(pending, !doc_started, sink);
  return Status::OK();
}

Status ReadJsonl(const InputFile& file, const ReadOptions& options, const PieceSink& sink,
                 ReadStats* stats) {
  MERIDIAN_ASSIGN_OR_RETURN(File f, OpenForReading(file.path));
  // getline(3) reads a line of any length into one growing buffer.
  struct LineBuffer {
    char* data = nullptr;
    size_t cap = 0;
    ~LineBuffer() { std::free(data); }
  } lb;
  for (uint64_t line_no = 1;; ++line_no) {
    errno = 0;
    const ssize_t len = ::getline(&lb.data, &lb.cap, f.get());
    char* buf = lb.data;
    if (len < 0) {
      if (std::ferror(f.get())) {
        return Status::IOError(file.path + ":" + std::to_string(line_no) + ": read failed: " +
                               std::strerror(errno));
      }
      return Status::OK();
    }
    stats->bytes += static_cast<uint64_t>(len);
    std::string_view line(buf, static_cast<size_t>(len));
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    const std::string where = file.path + ":" + std::to_string(line_no) + ": ";
    Status error;
    std::string text;
    try {
      const nlohmann::json doc = nlohmann::json::parse(line);
      const auto it = doc.is_object() ? doc.find(options.text_field) : doc.end();
      if (!doc.is_object() || it == doc.end() || !it->is_string()) {
        error = Status::Corruption(where + "no string field \"" + options.text_field + "\"" +
                                   (doc.is_object() ? "" : " (the line is not a JSON object)"));
      } else {
        text = it->get<std::string>();
      }
    } catch (const nlohmann::json::exception& e) {
      error = Status::Corruption(where + "invalid JSON: " + e.what());
    }
    if (!error.ok()) {
      if (options.on_error == OnError::kFail) return error;
      options.warn(error);
      ++stats->skipped_lines;
      continue;
    }
    SendAll(text, /*doc_start=*/true, sink);
  }
}

}  // namespace

Result<InputFormat> ParseInputFormat(std::string_view name) {
  if (name == "auto") return InputFormat::kAuto;
  if (name == "text") return InputFormat::kText;
  if (name == "jsonl") return InputFormat::kJsonl;
  return Status::InvalidArgument("--format: \"" + std::string(name) +
                                 "\" is not one of auto, text, jsonl");
}

InputFormat FormatForPath(const std::string& path) {
  const std::string ext = fs::path(path).extension().string();
  return ext == ".jsonl" || ext == ".ndjson" ? InputFormat::kJsonl : InputFormat::kText;
}

Result<std::vector<InputFile>> ExpandInputs(const std::vector<std::string>& inputs,
                                            const ReadOptions& options,
                                            const std::string& exclude_dir) {
  std::error_code ec;
  const fs::path exclude = exclude_dir.empty() ? fs::path() : fs::weakly_canonical(exclude_dir, ec);
  std::vector<InputFile> files;
  auto add_file = [&](const std::string& path) {
    if (IsUnder(fs::weakly_canonical(path, ec), exclude)) return;
    const InputFormat format =
        options.format == InputFormat::kAuto ? FormatForPath(path) : options.format;
    files.push_back({path, format});
  };
  // kFail: the error ends the expansion; kSkip: it is reported and dropped.
  auto problem = [&](Status s) -> Status {
    if (options.on_error == OnError::kFail) return s;
    options.warn(s);
    return Status::OK();
  };
  auto add_path = [&](const std::string& path) -> Status {
    std::error_code st_ec;
    const fs::file_status st = fs::status(path, st_ec);
    if (!fs::exists(st)) {
      return problem(Status::NotFound(path + ": no such file or directory"));
    }
    if (!fs::is_directory(st)) {
      add_file(path);
      return Status::OK();
    }
    std::vector<std::string> found;
    std::error_code walk_ec;
    fs::recursive_directory_iterator it(path, walk_ec), end;
    for (; !walk_ec && it != end; it.increment(walk_ec)) {
      if (IsHidden(it->path())) {
        if (it->is_directory(walk_ec)) it.disable_recursion_pending();
        continue;
      }
      if (it->is_regular_file(walk_ec)) found.push_back(it->path().string());
    }
    if (walk_ec) return problem(Status::IOError(path + ": cannot walk directory: " + walk_ec.message()));
    std::sort(found.begin(), found.end());
    for (const std::string& f : found) add_file(f);
    return Status::OK();
  };
  for (const std::string& input : inputs) {
    if (!HasGlobChars(input) || fs::exists(input, ec)) {
      MERIDIAN_RETURN_IF_ERROR(add_path(input));
      continue;
    }
    glob_t g{};
    const int rc = ::glob(input.c_str(), 0, nullptr, &g);
    std::vector<std::string> matches(g.gl_pathv, g.gl_pathv + (rc == 0 ? g.gl_pathc : 0));
    globfree(&g);
    if (matches.empty()) {
      MERIDIAN_RETURN_IF_ERROR(problem(Status::NotFound(input + ": pattern matches no file")));
      continue;
    }
    std::sort(matches.begin(), matches.end());
    for (const std::string& m : matches) MERIDIAN_RETURN_IF_ERROR(add_path(m));
  }
  if (files.empty()) return Status::InvalidArgument("no input files to encode");
  return files;
}

Status ReadDocuments(const InputFile& file, const ReadOptions& options, const PieceSink& sink,
                     ReadStats* stats) {
  return file.format == InputFormat::kJsonl ? ReadJsonl(file, options, sink, stats)
                                            : ReadText(file, options, sink, stats);
}

size_t SafeSplitPoint(std::string_view text, size_t limit) {
  if (text.size() < 3) return 0;
  for (size_t p = std::min(limit, text.size() - 1); p >= 2; --p) {
    if (text[p - 1] == '\n' && IsAsciiNonSpace(text[p - 2]) && IsAsciiNonSpace(text[p])) return p;
    if (text[p] == ' ' && p + 1 < text.size() && IsAsciiLetter(text[p - 1]) &&
        IsAsciiLetter(text[p + 1])) {
      return p;
    }
  }
  return 0;
}

size_t NextPieceLength(std::string_view text, bool at_end) {
  if (text.size() <= (at_end ? kMaxPieceBytes : kPieceBytes)) return at_end ? text.size() : 0;
  if (const size_t p = SafeSplitPoint(text, kMaxPieceBytes); p > 0) return p;
  if (!at_end && text.size() < kMaxPieceBytes) return 0;
  size_t p = kMaxPieceBytes;  // a character boundary: never inside a UTF-8 sequence
  while (p > 1 && (static_cast<unsigned char>(text[p]) & 0xC0) == 0x80) --p;
  return p;
}

}  // namespace meridian
