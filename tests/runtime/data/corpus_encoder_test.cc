#include "runtime/data/corpus_encoder.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "runtime/data/byte_tokenizer.h"
#include "runtime/data/data_loader.h"
#include "runtime/data/gpt2_tokenizer.h"
#include "runtime/data/llama3_tokenizer.h"
#include "runtime/data/token_shard.h"
#include "tests/runtime/data/temp_dir.h"

namespace meridian {
namespace {

void WriteFile(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// All tokens of DIR/split_*.bin, in shard order.
std::vector<uint32_t> ReadSplit(const std::string& dir, const std::string& split) {
  std::vector<uint32_t> all;
  Result<std::vector<std::string>> paths = ExpandShardGlob(dir + "/" + split + "_*.bin");
  if (!paths.ok()) return all;
  for (const std::string& p : *paths) {
    Result<std::vector<uint32_t>> t = ReadTokenShard(p);
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    if (t.ok()) all.insert(all.end(), t->begin(), t->end());
  }
  return all;
}

// Splits tokens at `eot`, which starts every document.
std::vector<std::string> DecodeDocuments(const Tokenizer& tok, const std::vector<uint32_t>& tokens,
                                         uint32_t eot) {
  std::vector<std::string> docs;
  std::vector<uint32_t> cur;
  for (size_t i = 0; i <= tokens.size(); ++i) {
    if (i == tokens.size() || tokens[i] == eot) {
      if (i > 0) docs.push_back(tok.Decode(cur));
      cur.clear();
      continue;
    }
    cur.push_back(tokens[i]);
  }
  return docs;
}

// A corpus of one .jsonl file and a directory of text files, and its
// documents in reading order.
struct Corpus {
  std::vector<std::string> docs;
};

Corpus MakeCorpus(const ScopedTempDir& dir) {
  Corpus c;
  WriteFile(dir.File("in/a.jsonl"),
            "{\"text\": \"First JSON doc: Größe, 日本語.\", \"id\": 1}\n"
            "\n"
            "{\"id\": 2, \"text\": \"Second\\nwith a newline and <|endoftext|> literal\"}\n");
  c.docs.push_back("First JSON doc: Größe, 日本語.");
  c.docs.push_back("Second\nwith a newline and <|endoftext|> literal");
  WriteFile(dir.File("in/texts/b.txt"), "Para one line one.\nline two.\n\nPara two.\n");
  c.docs.push_back("Para one line one.\nline two.\n\n");
  c.docs.push_back("Para two.\n");
  WriteFile(dir.File("in/texts/c.txt"), "Русский текст 123");
  c.docs.push_back("Русский текст 123");
  WriteFile(dir.File("in/texts/.hidden"), "never read");
  return c;
}

CorpusEncodeOptions Options(const ScopedTempDir& dir, std::vector<std::string>* warnings) {
  CorpusEncodeOptions o;
  o.inputs = {dir.File("in/a.jsonl"), dir.File("in/texts")};
  o.out_dir = dir.File("out");
  o.val_fraction = 0;
  o.shard_tokens = 1000;
  o.log_shards = false;
  o.read.warn = [warnings](const Status& s) { warnings->push_back(s.message()); };
  return o;
}

TEST(CorpusEncoder, ShardsDecodeBackToTheDocumentsWithGpt2) {
  std::unique_ptr<Gpt2Tokenizer> tok;
  if (Result<std::unique_ptr<Gpt2Tokenizer>> r = Gpt2Tokenizer::Load(ResolveGpt2VocabDir()); r.ok()) {
    tok = std::move(r).value();
  } else {
    GTEST_SKIP() << "no GPT-2 vocabulary (run scripts/fetch-gpt2-vocab.sh)";
  }
  ScopedTempDir dir;
  const Corpus corpus = MakeCorpus(dir);
  std::vector<std::string> warnings;
  Result<CorpusEncodeSummary> sum = EncodeCorpus(*tok, Options(dir, &warnings));
  ASSERT_TRUE(sum.ok()) << sum.status().ToString();
  EXPECT_EQ(sum->files, 3u);
  EXPECT_EQ(sum->documents, corpus.docs.size());
  const std::vector<uint32_t> tokens = ReadSplit(dir.File("out"), "train");
  ASSERT_FALSE(tokens.empty());
  EXPECT_EQ(tokens[0], Gpt2Tokenizer::kEndOfText);
  EXPECT_EQ(DecodeDocuments(*tok, tokens, Gpt2Tokenizer::kEndOfText), corpus.docs);
  EXPECT_TRUE(warnings.empty());
}

// Bytes shifted past 16 bits, with Llama 3's framing: needs no vocabulary,
// so the framing and the version 2 path are tested everywhere.
class WideFramedTokenizer : public Tokenizer {
 public:
  static constexpr uint32_t kBase = 100000, kStart = 99998, kEnd = 99999;
  std::string_view name() const override { return "wide"; }
  int vocab_size() const override { return static_cast<int>(kBase) + 256; }
  std::optional<uint32_t> eot() const override { return kEnd; }
  std::optional<uint32_t> document_start() const override { return kStart; }
  std::optional<uint32_t> document_end() const override { return kEnd; }

 private:
  void EncodeImpl(std::string_view text, std::vector<uint32_t>* tokens) const override {
    for (unsigned char c : text) tokens->push_back(kBase + c);
  }
  std::string DecodeImpl(const uint32_t* tokens, size_t n) const override {
    std::string text;
    for (size_t i = 0; i < n; ++i) text += static_cast<char>(tokens[i] - kBase);
    return text;
  }
};

// The documents framed start ... end, in order, from the tokens of a split.
std::vector<std::string> FramedDocuments(const Tokenizer& tok, const std::vector<uint32_t>& tokens,
                                         uint32_t start, uint32_t end) {
  std::vector<std::string> docs;
  size_t i = 0;
  while (i < tokens.size()) {
    EXPECT_EQ(tokens[i], start) << "token " << i;
    size_t j = i + 1;
    while (j < tokens.size() && tokens[j] != end) ++j;
    EXPECT_LT(j, tokens.size()) << "document at " << i << " has no end token";
    docs.push_back(tok.Decode(std::vector<uint32_t>(tokens.begin() + i + 1, tokens.begin() + j)));
    i = j + 1;
  }
  return docs;
}

TEST(CorpusEncoder, FramesEveryDocumentInItsOwnSplitAndWritesVersion2ForWideIds) {
  ScopedTempDir dir;
  std::string jsonl;
  std::vector<std::string> train, val;
  for (int d = 0; d < 300; ++d) {
    const std::string doc = "doc " + std::to_string(d);
    jsonl += "{\"text\": \"" + doc + "\"}\n";
    (IsValDocument(static_cast<uint64_t>(d), 0.2) ? val : train).push_back(doc);
  }
  WriteFile(dir.File("in/docs.jsonl"), jsonl);
  std::vector<std::string> warnings;
  CorpusEncodeOptions o = Options(dir, &warnings);
  o.inputs = {dir.File("in/docs.jsonl")};
  o.val_fraction = 0.2;
  o.shard_tokens = 500;
  o.threads = 3;
  WideFramedTokenizer tok;
  Result<CorpusEncodeSummary> sum = EncodeCorpus(tok, o);
  ASSERT_TRUE(sum.ok()) << sum.status().ToString();
  for (const char* split : {"train", "val"}) {
    Result<std::vector<std::string>> paths = ExpandShardGlob(o.out_dir + "/" + split + "_*.bin");
    ASSERT_TRUE(paths.ok());
    for (const std::string& p : *paths) EXPECT_EQ(ReadTokenShardHeader(p)->version, 2) << p;
  }
  using W = WideFramedTokenizer;
  EXPECT_EQ(FramedDocuments(tok, ReadSplit(o.out_dir, "train"), W::kStart, W::kEnd), train);
  EXPECT_EQ(FramedDocuments(tok, ReadSplit(o.out_dir, "val"), W::kStart, W::kEnd), val);
}

TEST(CorpusEncoder, Llama3WritesVersion2ShardsThatTheLoaderReadsBack) {
  std::unique_ptr<Llama3Tokenizer> tok;
  if (auto r = Llama3Tokenizer::Load(ResolveLlama3VocabDir()); r.ok()) {
    tok = std::move(r).value();
  } else {
    GTEST_SKIP() << "no Llama 3 vocabulary (run scripts/fetch-llama3-vocab.sh)";
  }
  ScopedTempDir dir;
  const Corpus corpus = MakeCorpus(dir);
  std::vector<std::string> warnings;
  CorpusEncodeOptions o = Options(dir, &warnings);
  o.shard_tokens = 20;
  Result<CorpusEncodeSummary> sum = EncodeCorpus(*tok, o);
  ASSERT_TRUE(sum.ok()) << sum.status().ToString();
  EXPECT_EQ(sum->documents, corpus.docs.size());
  EXPECT_GE(sum->train_shards, 2u);
  const std::vector<uint32_t> tokens = ReadSplit(o.out_dir, "train");
  // <|begin_of_text|> text <|end_of_text|> per document; the literal
  // "<|endoftext|>" and any special token's text stay ordinary text.
  EXPECT_EQ(FramedDocuments(*tok, tokens, Llama3Tokenizer::kBeginOfText, Llama3Tokenizer::kEndOfText),
            corpus.docs);
  std::vector<uint32_t> expected;
  for (const std::string& d : corpus.docs) {
    expected.push_back(Llama3Tokenizer::kBeginOfText);
    tok->Encode(d, &expected);
    expected.push_back(Llama3Tokenizer::kEndOfText);
  }
  EXPECT_EQ(tokens, expected);

  Result<std::vector<std::string>> paths = ExpandShardGlob(o.out_dir + "/train_*.bin");
  ASSERT_TRUE(paths.ok());
  for (const std::string& p : *paths) EXPECT_EQ(ReadTokenShardHeader(p)->version, 2) << p;
  // The loader gives the same ids back as int32, shard after shard.
  Result<std::unique_ptr<DataLoader>> loader = DataLoader::Open(
      {.pattern = o.out_dir + "/train_*.bin", .batch = 1, .seq = 4, .vocab_size = tok->vocab_size()});
  ASSERT_TRUE(loader.ok()) << loader.status().ToString();
  std::vector<int32_t> in(4), tgt(4);
  ASSERT_TRUE((*loader)->NextBatch(in.data(), tgt.data()).ok());
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(in[i], static_cast<int32_t>(tokens[i]));
    EXPECT_EQ(tgt[i], static_cast<int32_t>(tokens[i + 1]));
  }
  EXPECT_EQ(in[0], 128000);
}

TEST(CorpusEncoder, ByteTokensAreTheDocumentsConcatenated) {
  ScopedTempDir dir;
  const Corpus corpus = MakeCorpus(dir);
  std::vector<std::string> warnings;
  ByteTokenizer tok;
  Result<CorpusEncodeSummary> sum = EncodeCorpus(tok, Options(dir, &warnings));
  ASSERT_TRUE(sum.ok()) << sum.status().ToString();
  std::string all;
  for (const std::string& d : corpus.docs) all += d;
  EXPECT_EQ(ByteTokenizer::Decode(ReadSplit(dir.File("out"), "train")), all);
}

// A few megabytes, so that many batches are in flight at once.
TEST(CorpusEncoder, OutputIsTheSameForAnyThreadCount) {
  ScopedTempDir dir;
  std::mt19937_64 rng(5);
  std::string jsonl, text;
  const char* words[] = {"alpha", "beta", "Größe", "日本", "x", "123", "it's", "!!", "  "};
  for (int d = 0; d < 3000; ++d) {
    std::string doc;
    for (int w = 0, n = 20 + static_cast<int>(rng() % 400); w < n; ++w) {
      doc += words[rng() % std::size(words)];
      doc += rng() % 10 == 0 ? "\\n" : " ";
    }
    jsonl += "{\"text\": \"" + doc + "\"}\n";
    std::string t = doc;
    for (size_t p; (p = t.find("\\n")) != std::string::npos;) t.replace(p, 2, "\n");
    text += t + "\n\n";
  }
  WriteFile(dir.File("in/big.jsonl"), jsonl);
  WriteFile(dir.File("in/big.txt"), text);
  std::unique_ptr<Tokenizer> tok;
  if (Result<std::unique_ptr<Gpt2Tokenizer>> r = Gpt2Tokenizer::Load(ResolveGpt2VocabDir()); r.ok()) {
    tok = std::move(r).value();
  } else {
    tok = std::make_unique<ByteTokenizer>();
  }
  std::vector<std::string> warnings;
  std::vector<std::string> outputs;
  for (int threads : {1, 2, 3}) {
    CorpusEncodeOptions o = Options(dir, &warnings);
    o.inputs = {dir.File("in")};
    o.out_dir = dir.File("out" + std::to_string(threads));
    o.threads = threads;
    o.val_fraction = 0.1;
    o.shard_tokens = 100'000;
    Result<CorpusEncodeSummary> sum = EncodeCorpus(*tok, o);
    ASSERT_TRUE(sum.ok()) << sum.status().ToString();
    EXPECT_GT(sum->val_tokens, 0u);
    EXPECT_GT(sum->train_shards, 2u);
    std::string all;
    for (const auto& entry : std::filesystem::directory_iterator(o.out_dir)) {
      all += entry.path().filename().string() + ":" + ReadFile(entry.path().string()) + "|";
    }
    outputs.push_back(all);
  }
  // directory_iterator order is unspecified; compare sorted listings.
  for (std::string& o : outputs) std::sort(o.begin(), o.end());
  EXPECT_EQ(outputs[0], outputs[1]);
  EXPECT_EQ(outputs[0], outputs[2]);
}

TEST(CorpusEncoder, SplitsTrainAndValByDocument) {
  ScopedTempDir dir;
  std::string jsonl;
  for (int d = 0; d < 400; ++d) jsonl += "{\"text\": \"<doc " + std::to_string(d) + ">\"}\n";
  WriteFile(dir.File("in/docs.jsonl"), jsonl);
  std::vector<std::string> warnings;
  CorpusEncodeOptions o = Options(dir, &warnings);
  o.inputs = {dir.File("in/docs.jsonl")};
  o.val_fraction = 0.25;
  ByteTokenizer tok;
  Result<CorpusEncodeSummary> sum = EncodeCorpus(tok, o);
  ASSERT_TRUE(sum.ok()) << sum.status().ToString();
  std::string train, val;
  for (int d = 0; d < 400; ++d) {
    (IsValDocument(static_cast<uint64_t>(d), 0.25) ? val : train) += "<doc " + std::to_string(d) + ">";
  }
  EXPECT_EQ(ByteTokenizer::Decode(ReadSplit(o.out_dir, "train")), train);
  EXPECT_EQ(ByteTokenizer::Decode(ReadSplit(o.out_dir, "val")), val);
  EXPECT_GT(sum->val_documents, 60u);
  EXPECT_LT(sum->val_documents, 140u);
  EXPECT_FALSE(IsValDocument(0, 0.99));
}

TEST(CorpusEncoder, LastTwoShardsShareTheRemainder) {
  ScopedTempDir dir;
  WriteFile(dir.File("in/t.txt"), std::string(2500, 'a'));
  std::vector<std::string> warnings;
  CorpusEncodeOptions o = Options(dir, &warnings);
  o.inputs = {dir.File("in/t.txt")};
  ByteTokenizer tok;
  ASSERT_TRUE(EncodeCorpus(tok, o).ok());
  std::vector<uint64_t> sizes;
  for (const char* name : {"train_000.bin", "train_001.bin", "train_002.bin"}) {
    Result<TokenShardHeader> h = ReadTokenShardHeader(o.out_dir + "/" + name);
    ASSERT_TRUE(h.ok()) << name;
    sizes.push_back(h->num_tokens);
  }
  EXPECT_EQ(sizes, (std::vector<uint64_t>{1000, 750, 750}));
  EXPECT_FALSE(std::filesystem::exists(o.out_dir + "/train_003.bin"));
}

TEST(CorpusEncoder, BadJsonLineFailsNamingFileAndLine) {
  ScopedTempDir dir;
  WriteFile(dir.File("in/bad.jsonl"), "{\"text\": \"ok\"}\n{\"text\": broken\n{\"txt\": \"x\"}\n");
  std::vector<std::string> warnings;
  CorpusEncodeOptions o = Options(dir, &warnings);
  o.inputs = {dir.File("in/bad.jsonl")};
  ByteTokenizer tok;
  Result<CorpusEncodeSummary> failed = EncodeCorpus(tok, o);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find(dir.File("in/bad.jsonl") + ":2: invalid JSON"),
            std::string::npos)
      << failed.status().message();
}

TEST(CorpusEncoder, OnErrorSkipReportsAndSkipsBadLinesAndFiles) {
  ScopedTempDir dir;
  WriteFile(dir.File("in/bad.jsonl"), "{\"text\": \"ok\"}\n{\"text\": broken\n{\"txt\": \"x\"}\n"
                                      "{\"text\": \"fine\"}\n");
  std::vector<std::string> warnings;
  CorpusEncodeOptions o = Options(dir, &warnings);
  o.inputs = {dir.File("in/bad.jsonl"), dir.File("in/missing.txt"), dir.File("in/nothing*.jsonl")};
  o.read.on_error = OnError::kSkip;
  ByteTokenizer tok;
  Result<CorpusEncodeSummary> sum = EncodeCorpus(tok, o);
  ASSERT_TRUE(sum.ok()) << sum.status().ToString();
  EXPECT_EQ(sum->documents, 2u);
  EXPECT_EQ(sum->skipped_lines, 2u);
  EXPECT_EQ(ByteTokenizer::Decode(ReadSplit(o.out_dir, "train")), "okfine");
  ASSERT_EQ(warnings.size(), 4u);
  EXPECT_NE(warnings[0].find("missing.txt"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[1].find("nothing*.jsonl"), std::string::npos) << warnings[1];
  EXPECT_NE(warnings[2].find("bad.jsonl:2: invalid JSON"), std::string::npos) << warnings[2];
  EXPECT_NE(warnings[3].find("bad.jsonl:3: no string field \"text\""), std::string::npos)
      << warnings[3];
}

TEST(CorpusEncoder, LongDocumentsStreamInPiecesAndStayWhole) {
  ScopedTempDir dir;
  std::string text;
  for (int i = 0; text.size() < 5'000'000; ++i) text += "line " + std::to_string(i) + " of a long file\n";
  WriteFile(dir.File("in/long.txt"), text);
  std::vector<std::string> warnings;
  CorpusEncodeOptions o = Options(dir, &warnings);
  o.inputs = {dir.File("in/long.txt")};
  o.shard_tokens = 1'000'000;
  o.threads = 2;
  ByteTokenizer tok;
  Result<CorpusEncodeSummary> sum = EncodeCorpus(tok, o);
  ASSERT_TRUE(sum.ok()) << sum.status().ToString();
  EXPECT_EQ(sum->documents, 1u);
  EXPECT_EQ(sum->bytes, text.size());
  EXPECT_EQ(ByteTokenizer::Decode(ReadSplit(o.out_dir, "train")), text);
}

TEST(CorpusEncoder, NeverReadsItsOwnOutputDirectory) {
  ScopedTempDir dir;
  WriteFile(dir.File("in/a.txt"), "some text");
  WriteFile(dir.File("in/out/train_000.bin"), "old shard");
  std::vector<std::string> warnings;
  CorpusEncodeOptions o = Options(dir, &warnings);
  o.inputs = {dir.File("in")};
  o.out_dir = dir.File("in/out");
  ByteTokenizer tok;
  Result<CorpusEncodeSummary> sum = EncodeCorpus(tok, o);
  ASSERT_TRUE(sum.ok()) << sum.status().ToString();
  EXPECT_EQ(sum->files, 1u);
  EXPECT_EQ(ByteTokenizer::Decode(ReadSplit(o.out_dir, "train")), "some text");
}

}  // namespace
}  // namespace meridian
