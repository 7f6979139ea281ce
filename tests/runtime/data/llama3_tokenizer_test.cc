#include "runtime/data/llama3_tokenizer.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/data/corpus_reader.h"
#include "runtime/data/tokenizer.h"
#include "tests/runtime/data/temp_dir.h"

namespace meridian {
namespace {

// The vocabulary comes from scripts/fetch-llama3-vocab.sh (install-deps runs
// it); without it these tests skip.
std::unique_ptr<Llama3Tokenizer> LoadOrNull(bool special = false) {
  Result<std::unique_ptr<Llama3Tokenizer>> tok =
      Llama3Tokenizer::Load(ResolveLlama3VocabDir(), special);
  return tok.ok() ? std::move(tok).value() : nullptr;
}

#define LOAD_LLAMA3_OR_SKIP(var, ...)                                                  \
  std::unique_ptr<Llama3Tokenizer> var = LoadOrNull(__VA_ARGS__);                     \
  if (!var) GTEST_SKIP() << "no Llama 3 vocabulary in " << ResolveLlama3VocabDir()     \
                         << " (run scripts/fetch-llama3-vocab.sh)"

// The npm package's own encoder, run by node, is the reference.
std::string ReferenceBundle() {
  return ResolveLlama3VocabDir() +
         "/package/bundle/commonjs-llama3-tokenizer-with-baked-data.cjs";
}

#define REQUIRE_NODE_REFERENCE_OR_SKIP()                                                      \
  if (!std::filesystem::exists(ReferenceBundle())) GTEST_SKIP() << "no " << ReferenceBundle(); \
  if (std::system("node --version >/dev/null 2>&1") != 0) GTEST_SKIP() << "node not installed"

// Runs `script` (which gets the bundle's path, then `args`) with node and
// returns its stdout lines. Fails the test when node fails.
std::vector<std::string> RunNode(const ScopedTempDir& dir, const std::string& script,
                                 const std::vector<std::string>& args) {
  const std::string path = dir.File("ref.cjs");
  std::ofstream(path) << script;
  std::string command = "node '" + path + "' '" + ReferenceBundle() + "'";
  for (const std::string& a : args) command += " '" + a + "'";
  FILE* pipe = ::popen(command.c_str(), "r");
  EXPECT_NE(pipe, nullptr);
  if (pipe == nullptr) return {};
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof(buf), pipe)) > 0;) out.append(buf, n);
  EXPECT_EQ(::pclose(pipe), 0) << out;
  std::vector<std::string> lines;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<uint32_t> ParseIds(const std::string& line) {
  std::vector<uint32_t> ids;
  std::istringstream in(line);
  for (uint32_t id; in >> id;) ids.push_back(id);
  return ids;
}

// Text in many scripts, code, numbers, contractions, whitespace and emoji.
// (Avoided: U+FEFF and U+0085, on which JavaScript's \s differs from
// Unicode White_Space, and U+017F, which (?i:'s) matches in tiktoken and
// PCRE2 but not in the package's [sS].)
const std::vector<std::string>& SampleTexts() {
  static const std::vector<std::string> texts = {
      "Hello world! The quick brown fox jumps over the lazy dog.",
      "I'm, you're, we've, they'll, he'd, it's, can't. I'M SHOUTING, DON'T, WE'LL, THEY'VE 'quoted'",
      "Crème brûlée, naïve café, résumé — “quotes” ‘single’ … ¿Qué? ¡Sí! Größe, Straße, Ærøskøbing",
      "Ελληνικά: Η γρήγορη καφέ αλεπού πηδάει πάνω από τον τεμπέλη σκύλο.",
      "Привет, мир! Съешь же ещё этих мягких французских булок, да выпей чаю.",
      "اللغة العربية جميلة جداً، وهي لغة القرآن الكريم.",
      "עברית היא שפה שמית. שלום עולם!",
      "हिन्दी भारत की राजभाषा है। नमस्ते दुनिया।",
      "机器学习是人工智能的一个分支。我们今天去北京吃烤鸭。",
      "日本語のテキストです。カタカナとひらがな、漢字を含みます。東京は大きい。",
      "한국어 텍스트도 있습니다. 안녕하세요, 세계!",
      "ภาษาไทยเป็นภาษาที่สวยงาม สวัสดีชาวโลก",
      "def f(x):\n\tif x > 0:\n\t\treturn {'a': [1, 2.5e-3]}\n    else:\n        return None\n",
      "#include <vector>\nint main(int argc, char** argv) {\n  std::vector<int> v{1, 2, 3};\n"
      "  for (int i = 0; i < 10; ++i) printf(\"%d\\n\", i);\n\treturn x->y[3] >= 0 && a != b ? 1 : -1;\n}\n",
      "Numbers: 1234567 12 123 1234 3.14159 1,000,000 0.000001 2024-05-20 ٣٤٥ ½ ² Ⅻ",
      "many   spaces\t\ttabs\n\n\nnewlines   \n  trailing   ",
      "   leading spaces\r\nand CRLF\r\n\r\nline ends \n",
      "\n\n\n",
      " ",
      "Emoji: 😀👍🏽🇩🇪🇯🇵 👨‍👩‍👧‍👦 🏳️‍🌈 👩🏾‍💻 ❤️ ✔️ done",
      "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|> as plain text",
      "URL https://example.com/a?b=c&d=e#f and e-mail a.b@c.de, path C:\\dir\\file.txt",
      "",
  };
  return texts;
}

TEST(Llama3Tokenizer, EncodesKnownIds) {
  LOAD_LLAMA3_OR_SKIP(tok);
  EXPECT_EQ(tok->Encode("Hello world"), (std::vector<uint32_t>{9906, 1917}));
  EXPECT_EQ(tok->Encode("I'm 1234567 DON'T"),
            (std::vector<uint32_t>{40, 2846, 220, 4513, 10961, 22, 45373, 17773}));
  EXPECT_EQ(tok->vocab_size(), 128256);
  EXPECT_EQ(tok->name(), "llama3");
  EXPECT_EQ(tok->eot(), std::optional<uint32_t>(128001));
  EXPECT_EQ(tok->document_start(), std::optional<uint32_t>(128000));
  EXPECT_EQ(tok->document_end(), std::optional<uint32_t>(128001));
  EXPECT_EQ(tok->Decode({9906, 1917, 128009}), "Hello world<|eot_id|>");
  EXPECT_EQ(tok->Decode({128256, 4000000000u}), "\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(Llama3Tokenizer, PreTokenizesLikeTheRegex) {
  LOAD_LLAMA3_OR_SKIP(tok);
  EXPECT_EQ(tok->PreTokenize("I'm 1234567 DON'T\n\n  x!?\n"),
            (std::vector<std::string_view>{"I", "'m", " ", "123", "456", "7", " DON", "'T", "\n\n",
                                           " ", " x", "!?\n"}));
}

TEST(Llama3Tokenizer, MatchesTheJavaScriptReferenceEncoder) {
  LOAD_LLAMA3_OR_SKIP(tok);
  REQUIRE_NODE_REFERENCE_OR_SKIP();
  ScopedTempDir dir;
  std::vector<std::string> texts = SampleTexts();
  // A longer stretch of mixed text, so the merges meet many words.
  std::string long_text;
  for (int i = 0; i < 20; ++i) long_text += texts[static_cast<size_t>(i) % (texts.size() - 1)] + "\n";
  texts.push_back(long_text);
  std::vector<std::string> paths;
  for (size_t i = 0; i < texts.size(); ++i) {
    paths.push_back(dir.File("t" + std::to_string(i) + ".txt"));
    std::ofstream(paths.back(), std::ios::binary) << texts[i];
  }
  // Special tokens as ordinary text (a regex that never matches), no
  // <|begin_of_text|> or <|end_of_text|> added.
  const std::vector<std::string> lines = RunNode(
      dir,
      "const { llama3Tokenizer } = require(process.argv[2]);\n"
      "const fs = require('fs');\n"
      "const options = { bos: false, eos: false, specialTokenRegex: /(?!)/g };\n"
      "for (const f of process.argv.slice(3))\n"
      "  console.log(llama3Tokenizer.encode(fs.readFileSync(f, 'utf8'), options).join(' '));\n",
      paths);
  ASSERT_EQ(lines.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::vector<uint32_t> ids = tok->Encode(texts[i]);
    EXPECT_EQ(ids, ParseIds(lines[i])) << "text " << i << ": " << texts[i].substr(0, 60);
    EXPECT_EQ(tok->Decode(ids), texts[i]) << "text " << i;
  }
}

TEST(Llama3Tokenizer, SpecialTokensMatchThePackage) {
  LOAD_LLAMA3_OR_SKIP(tok);
  REQUIRE_NODE_REFERENCE_OR_SKIP();
  ScopedTempDir dir;
  const std::vector<std::string> lines = RunNode(
      dir,
      "const { llama3Tokenizer } = require(process.argv[2]);\n"
      "const v = llama3Tokenizer.vocabById;\n"
      "for (let id = 128000; id < v.length; ++id) console.log(v[id] + ' ' + id);\n",
      {});
  ASSERT_EQ(lines.size(), 256u);
  for (uint32_t id = 128000; id < 128256; ++id) {
    EXPECT_EQ(Llama3Tokenizer::SpecialTokenName(id) + " " + std::to_string(id), lines[id - 128000]);
    EXPECT_EQ(tok->Decode({id}), Llama3Tokenizer::SpecialTokenName(id));
  }
  EXPECT_EQ(Llama3Tokenizer::SpecialTokenName(Llama3Tokenizer::kBeginOfText), "<|begin_of_text|>");
  EXPECT_EQ(Llama3Tokenizer::SpecialTokenName(Llama3Tokenizer::kEndOfText), "<|end_of_text|>");
  EXPECT_EQ(Llama3Tokenizer::SpecialTokenName(Llama3Tokenizer::kStartHeaderId), "<|start_header_id|>");
  EXPECT_EQ(Llama3Tokenizer::SpecialTokenName(Llama3Tokenizer::kEndHeaderId), "<|end_header_id|>");
  EXPECT_EQ(Llama3Tokenizer::SpecialTokenName(Llama3Tokenizer::kEotId), "<|eot_id|>");
  EXPECT_EQ(Llama3Tokenizer::SpecialTokenName(128255), "<|reserved_special_token_247|>");
}

TEST(Llama3Tokenizer, SpecialTokensInTextMatchThePackageWhenAllowed) {
  LOAD_LLAMA3_OR_SKIP(special, true);
  LOAD_LLAMA3_OR_SKIP(plain);
  REQUIRE_NODE_REFERENCE_OR_SKIP();
  ScopedTempDir dir;
  const std::string text =
      "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
      "<|start_header_id|>user<|end_header_id|>\n\n<|Hi|> <|<|eot_id|>|> "
      "<|reserved_special_token_247|><|reserved_special_token_248|><|end_of_text|>";
  const std::string path = dir.File("chat.txt");
  std::ofstream(path, std::ios::binary) << text;
  const std::vector<std::string> lines = RunNode(
      dir,
      "const { llama3Tokenizer } = require(process.argv[2]);\n"
      "const fs = require('fs');\n"
      "console.log(llama3Tokenizer.encode(fs.readFileSync(process.argv[3], 'utf8'),"
      " { bos: false, eos: false }).join(' '));\n",
      {path});
  ASSERT_EQ(lines.size(), 1u);
  const std::vector<uint32_t> ids = special->Encode(text);
  EXPECT_EQ(ids, ParseIds(lines[0]));
  EXPECT_EQ(ids.front(), Llama3Tokenizer::kBeginOfText);
  EXPECT_EQ(ids.back(), Llama3Tokenizer::kEndOfText);
  EXPECT_EQ(special->Decode(ids), text);
  // Without the option no special id appears, and the text still round-trips.
  const std::vector<uint32_t> as_text = plain->Encode(text);
  for (uint32_t id : as_text) EXPECT_LT(id, 128000u);
  EXPECT_EQ(plain->Decode(as_text), text);
}

std::string RandomUtf8(std::mt19937_64& rng, size_t chars) {
  // Code points from ASCII, Latin, Greek/Cyrillic, Arabic/Hebrew, Devanagari,
  // Thai, CJK, Hangul, emoji and whitespace ranges, and ZWJ.
  static const std::pair<uint32_t, uint32_t> kRanges[] = {
      {0x20, 0x7E},     {0x09, 0x0D},     {0xA0, 0x24F},   {0x370, 0x4FF},
      {0x590, 0x6FF},   {0x900, 0x97F},   {0xE00, 0xE7F},  {0x2000, 0x206F},
      {0x3040, 0x30FF}, {0x4E00, 0x9FFF}, {0xAC00, 0xD7A3}, {0x1F300, 0x1F6FF}};
  std::string s;
  for (size_t i = 0; i < chars; ++i) {
    const auto& r = kRanges[rng() % std::size(kRanges)];
    const uint32_t cp = r.first + static_cast<uint32_t>(rng() % (r.second - r.first + 1));
    if (cp < 0x80) {
      s += static_cast<char>(cp);
    } else if (cp < 0x800) {
      s += static_cast<char>(0xC0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      s += static_cast<char>(0xE0 | (cp >> 12));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      s += static_cast<char>(0xF0 | (cp >> 18));
      s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  return s;
}

TEST(Llama3Tokenizer, RoundTripsRandomUtf8AndRandomBytes) {
  LOAD_LLAMA3_OR_SKIP(tok);
  std::mt19937_64 rng(2024);
  for (int i = 0; i < 200; ++i) {
    const std::string text = RandomUtf8(rng, 1 + rng() % 200);
    const std::vector<uint32_t> ids = tok->Encode(text);
    for (uint32_t id : ids) ASSERT_LT(id, 128000u);
    ASSERT_EQ(tok->Decode(ids), text) << "utf-8 case " << i;
  }
  for (int i = 0; i < 200; ++i) {
    std::string text(1 + rng() % 300, '\0');
    for (char& c : text) c = static_cast<char>(rng());
    ASSERT_EQ(tok->Decode(tok->Encode(text)), text) << "bytes case " << i;
  }
}

TEST(Llama3Tokenizer, RandomTextMatchesTheJavaScriptReferenceEncoder) {
  LOAD_LLAMA3_OR_SKIP(tok);
  REQUIRE_NODE_REFERENCE_OR_SKIP();
  ScopedTempDir dir;
  std::mt19937_64 rng(7);
  std::vector<std::string> texts, paths;
  for (int i = 0; i < 30; ++i) {
    texts.push_back(RandomUtf8(rng, 1 + rng() % 300));
    paths.push_back(dir.File("r" + std::to_string(i) + ".txt"));
    std::ofstream(paths.back(), std::ios::binary) << texts.back();
  }
  const std::vector<std::string> lines = RunNode(
      dir,
      "const { llama3Tokenizer } = require(process.argv[2]);\n"
      "const fs = require('fs');\n"
      "const options = { bos: false, eos: false, specialTokenRegex: /(?!)/g };\n"
      "for (const f of process.argv.slice(3))\n"
      "  console.log(llama3Tokenizer.encode(fs.readFileSync(f, 'utf8'), options).join(' '));\n",
      paths);
  ASSERT_EQ(lines.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    EXPECT_EQ(tok->Encode(texts[i]), ParseIds(lines[i])) << "random text " << i;
  }
}

// The corpus reader cuts long documents at SafeSplitPoint, chosen for
// GPT-2's pre-tokenizer; Llama 3's cuts there too.
TEST(Llama3Tokenizer, PiecesCutAtSafeSplitPointsEncodeLikeTheWhole) {
  LOAD_LLAMA3_OR_SKIP(tok);
  std::mt19937_64 rng(7);
  std::string text;
  for (int i = 0; i < 400; ++i) {
    text += SampleTexts()[rng() % SampleTexts().size()];
    text += (rng() % 3 == 0) ? "\n" : " ";
  }
  const std::vector<uint32_t> whole = tok->Encode(text);
  std::vector<uint32_t> pieces;
  std::string_view rest = text;
  int cuts = 0;
  while (!rest.empty()) {
    size_t p = 0;
    for (size_t limit = 1 + rng() % 300; p == 0 && limit < 2 * rest.size(); limit *= 2) {
      p = SafeSplitPoint(rest, limit);
    }
    if (p == 0) p = rest.size();
    else ++cuts;
    tok->Encode(rest.substr(0, p), &pieces);
    rest.remove_prefix(p);
  }
  EXPECT_GT(cuts, 50);
  EXPECT_EQ(pieces, whole);
}

TEST(Llama3Tokenizer, MakeTokenizerBuildsItAndFindsTheCache) {
  ScopedTempDir empty;
  Result<std::unique_ptr<Tokenizer>> missing = MakeTokenizer("llama3", {.vocab_dir = empty.path()});
  EXPECT_EQ(missing.status().code(), Status::Code::kNotFound);
  EXPECT_NE(missing.status().message().find(empty.path() + "/tokenizer.model"), std::string::npos);
  EXPECT_NE(missing.status().message().find("scripts/fetch-llama3-vocab.sh"), std::string::npos);

  EXPECT_EQ(ResolveLlama3VocabDir("/x"), "/x");
  const char* old = std::getenv("MERIDIAN_LLAMA3_VOCAB_DIR");
  const std::string saved = old != nullptr ? old : "";
  ::setenv("MERIDIAN_LLAMA3_VOCAB_DIR", "/from/env", 1);
  EXPECT_EQ(ResolveLlama3VocabDir(), "/from/env");
  ::unsetenv("MERIDIAN_LLAMA3_VOCAB_DIR");
  EXPECT_NE(ResolveLlama3VocabDir().find("meridian/llama3"), std::string::npos);
  if (old != nullptr) ::setenv("MERIDIAN_LLAMA3_VOCAB_DIR", saved.c_str(), 1);

  LOAD_LLAMA3_OR_SKIP(direct);
  Result<std::unique_ptr<Tokenizer>> tok = MakeTokenizer("llama3");
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  EXPECT_EQ((*tok)->name(), "llama3");
  EXPECT_EQ((*tok)->Encode("Hello world"), direct->Encode("Hello world"));
}

TEST(Llama3Tokenizer, RefusesAVocabularyThatIsNotLlama3s) {
  ScopedTempDir dir;
  auto load_error = [&](const std::string& contents) {
    std::ofstream(dir.File("tokenizer.model"), std::ios::binary) << contents;
    Result<std::unique_ptr<Llama3Tokenizer>> tok = Llama3Tokenizer::Load(dir.path());
    EXPECT_EQ(tok.status().code(), Status::Code::kCorruption);
    return tok.status().message();
  };
  const std::string path = dir.File("tokenizer.model");
  EXPECT_EQ(load_error("IQ== 0\nnot-base64! 1\n"),
            path + ":2: expected \"base64 rank\", found \"not-base64! 1\"");
  EXPECT_EQ(load_error("IQ== 0\nIg== 5\n"),
            path + ":2: rank \"5\", expected 1 (ranks count up from 0)");
  EXPECT_EQ(load_error("IQ== 0\nIQ== 1\n"),
            path + ":2: token of rank 1 repeats the bytes of rank 0");
  EXPECT_EQ(load_error("IQ== 0\nIg== 1\n"), path + ": expected 128000 tokens, found 2");
}

}  // namespace
}  // namespace meridian
