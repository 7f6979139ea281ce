#include "runtime/data/data_loader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "runtime/data/byte_tokenizer.h"
#include "runtime/data/synth_corpus.h"
#include "runtime/data/token_shard.h"
#include "tests/runtime/data/temp_dir.h"

namespace meridian {

// Readable failure messages for positions.
void PrintTo(const DataPosition& p, std::ostream* os) {
  *os << "{epoch " << p.epoch << ", shard " << p.shard_index << ", offset " << p.token_offset << "}";
}

namespace {

// Shard k holds tokens 10000*k + i, so every token names its shard and
// position and any batch can be checked against a hand-computed one.
std::string WriteNumberedShards(const ScopedTempDir& dir, const std::vector<size_t>& sizes) {
  for (size_t k = 0; k < sizes.size(); ++k) {
    std::vector<uint16_t> tokens(sizes[k]);
    for (size_t i = 0; i < sizes[k]; ++i) tokens[i] = static_cast<uint16_t>(10000 * k + i);
    char name[32];
    std::snprintf(name, sizeof(name), "train_%03zu.bin", k);
    EXPECT_TRUE(WriteTokenShard(dir.File(name), tokens).ok());
  }
  return dir.File("train_*.bin");
}

struct Batch {
  std::vector<int32_t> inputs, targets;
  bool operator==(const Batch&) const = default;
};

Batch Next(DataLoader& loader, int batch, int seq) {
  Batch b{std::vector<int32_t>(batch * seq), std::vector<int32_t>(batch * seq)};
  Status s = loader.NextBatch(b.inputs.data(), b.targets.data());
  EXPECT_TRUE(s.ok()) << s.ToString();
  return b;
}

std::unique_ptr<DataLoader> OpenOrDie(const DataLoaderOptions& o) {
  Result<std::unique_ptr<DataLoader>> r = DataLoader::Open(o);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : nullptr;
}

// The documented order, written independently of the loader: the start
// (shard, offset) of each group window, epoch after epoch.
std::vector<std::pair<size_t, size_t>> ReferenceWindows(const std::vector<size_t>& sizes,
                                                        size_t group, int epochs) {
  std::vector<std::pair<size_t, size_t>> starts;
  for (int e = 0; e < epochs; ++e) {
    for (size_t k = 0; k < sizes.size(); ++k) {
      for (size_t off = 0; off + group + 1 <= sizes[k]; off += group) starts.push_back({k, off});
    }
  }
  return starts;
}

TEST(DataLoader, TargetsAreInputsShiftedByOne) {
  ScopedTempDir dir;
  DataLoaderOptions o{.pattern = WriteNumberedShards(dir, {100}), .batch = 2, .seq = 8};
  auto loader = OpenOrDie(o);
  ASSERT_NE(loader, nullptr);
  for (int step = 0; step < 3; ++step) {
    Batch b = Next(*loader, 2, 8);
    for (int i = 0; i < 16; ++i) {
      EXPECT_EQ(b.inputs[i], 16 * step + i);
      EXPECT_EQ(b.targets[i], 16 * step + i + 1);
    }
  }
}

TEST(DataLoader, ReadsASynthCorpusWithTheByteVocabulary) {
  ScopedTempDir dir;
  const std::string text = GenerateSynthText(1, 20'000);
  ASSERT_TRUE(WriteTokenShard(dir.File("train_000.bin"), ByteTokenizer::Encode(text),
                              kTokenShardVersionU16).ok());
  auto loader = OpenOrDie({.pattern = dir.File("train_*.bin"), .batch = 4, .seq = 64,
                           .vocab_size = ByteTokenizer::kVocabSize});
  ASSERT_NE(loader, nullptr);
  std::string seen;
  for (int step = 0; step < 10; ++step) {
    Batch b = Next(*loader, 4, 64);
    for (int32_t t : b.inputs) seen += static_cast<char>(t);
  }
  EXPECT_EQ(seen, text.substr(0, seen.size()));
}

TEST(DataLoader, ReadsVersion2ShardsWithIdsPast16BitsAndMixedVersions) {
  ScopedTempDir dir;
  // train_000 is version 1, train_001 version 2 with Llama 3-sized ids.
  std::vector<uint32_t> wide(40);
  for (size_t i = 0; i < wide.size(); ++i) wide[i] = static_cast<uint32_t>(128000 + i);
  std::vector<uint16_t> narrow(40);
  for (size_t i = 0; i < narrow.size(); ++i) narrow[i] = static_cast<uint16_t>(i);
  ASSERT_TRUE(WriteTokenShard(dir.File("train_000.bin"), narrow).ok());
  ASSERT_TRUE(WriteTokenShard(dir.File("train_001.bin"), wide, kTokenShardVersionU32).ok());
  auto loader = OpenOrDie({.pattern = dir.File("train_*.bin"), .batch = 1, .seq = 16,
                           .vocab_size = 128256});
  ASSERT_NE(loader, nullptr);
  EXPECT_EQ(loader->total_tokens(), 80u);
  std::vector<int32_t> got;
  for (int step = 0; step < 4; ++step) {  // two windows per shard
    Batch b = Next(*loader, 1, 16);
    got.insert(got.end(), b.inputs.begin(), b.inputs.end());
    EXPECT_EQ(b.targets.back(), b.inputs.back() + 1);
  }
  for (int i = 0; i < 32; ++i) {
    EXPECT_EQ(got[i], i);
    EXPECT_EQ(got[32 + i], 128000 + i);
  }

  // The same wide shard with a vocabulary too small for it.
  auto small = OpenOrDie({.pattern = dir.File("train_001.bin"), .batch = 1, .seq = 16,
                          .vocab_size = 128010});
  ASSERT_NE(small, nullptr);
  std::vector<int32_t> in(16), tgt(16);
  Status s = small->NextBatch(in.data(), tgt.data());
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(s.message(), dir.File("train_001.bin") +
                             ": token 128010 at position 10 is outside the vocabulary (vocab_size 128010)");
}

TEST(DataLoader, WalksShardsInOrderAndWrapsIntoTheNextEpoch) {
  ScopedTempDir dir;
  const std::vector<size_t> sizes = {50, 40, 70};
  DataLoaderOptions o{.pattern = WriteNumberedShards(dir, sizes), .batch = 2, .seq = 4};
  auto loader = OpenOrDie(o);
  ASSERT_NE(loader, nullptr);
  EXPECT_EQ(loader->num_shards(), 3u);
  EXPECT_EQ(loader->total_tokens(), 160u);

  const auto windows = ReferenceWindows(sizes, 8, 3);
  ASSERT_EQ(windows.size(), 3u * (6 + 4 + 8));
  for (size_t step = 0; step < windows.size(); ++step) {
    const auto [shard, offset] = windows[step];
    const DataPosition p = loader->position();
    EXPECT_EQ(p.epoch, step / 18) << "step " << step;
    EXPECT_EQ(p.shard_index, shard) << "step " << step;
    EXPECT_EQ(p.token_offset, offset) << "step " << step;
    Batch b = Next(*loader, 2, 4);
    for (int i = 0; i < 8; ++i) {
      ASSERT_EQ(b.inputs[i], static_cast<int32_t>(10000 * shard + offset + i)) << "step " << step;
      ASSERT_EQ(b.targets[i], b.inputs[i] + 1);
    }
  }
  EXPECT_EQ(loader->position(), (DataPosition{3, 0, 0}));
}

TEST(DataLoader, ProcessSlicesAreDisjointAndCoverWhatOneProcessReads) {
  ScopedTempDir dir;
  const std::string pattern = WriteNumberedShards(dir, {300, 125, 200});
  constexpr int kProcs = 3, kB = 2, kT = 4;
  std::vector<std::unique_ptr<DataLoader>> ranks;
  for (int r = 0; r < kProcs; ++r) {
    ranks.push_back(OpenOrDie({.pattern = pattern, .batch = kB, .seq = kT,
                               .process_rank = r, .num_processes = kProcs}));
    ASSERT_NE(ranks.back(), nullptr);
  }
  auto single = OpenOrDie({.pattern = pattern, .batch = kProcs * kB, .seq = kT});
  ASSERT_NE(single, nullptr);

  for (int step = 0; step < 60; ++step) {  // ~3 epochs
    for (int r = 0; r < kProcs; ++r) EXPECT_EQ(ranks[r]->position(), single->position());
    Batch whole = Next(*single, kProcs * kB, kT);
    Batch joined;
    std::set<int32_t> seen;
    for (int r = 0; r < kProcs; ++r) {
      Batch part = Next(*ranks[r], kB, kT);
      for (int32_t t : part.inputs) EXPECT_TRUE(seen.insert(t).second) << "step " << step;
      joined.inputs.insert(joined.inputs.end(), part.inputs.begin(), part.inputs.end());
      joined.targets.insert(joined.targets.end(), part.targets.begin(), part.targets.end());
    }
    ASSERT_EQ(joined, whole) << "step " << step;
  }
}

TEST(DataLoader, SeekReproducesTheStream) {
  ScopedTempDir dir;
  DataLoaderOptions o{.pattern = WriteNumberedShards(dir, {90, 61, 130}), .batch = 3, .seq = 5,
                      .process_rank = 1, .num_processes = 2};
  auto loader = OpenOrDie(o);
  ASSERT_NE(loader, nullptr);
  std::vector<DataPosition> positions;
  std::vector<Batch> batches;
  for (int step = 0; step < 40; ++step) {
    positions.push_back(loader->position());
    batches.push_back(Next(*loader, 3, 5));
  }
  ASSERT_GE(positions.back().epoch, 2u);

  // A fresh loader, as after a restart, and the same loader jumping back.
  auto resumed = OpenOrDie(o);
  ASSERT_NE(resumed, nullptr);
  for (size_t from : {size_t{33}, size_t{7}, size_t{0}, size_t{19}}) {
    for (DataLoader* l : {resumed.get(), loader.get()}) {
      ASSERT_TRUE(l->Seek(positions[from]).ok());
      for (size_t step = from; step < batches.size(); ++step) {
        ASSERT_EQ(l->position(), positions[step]);
        ASSERT_EQ(Next(*l, 3, 5), batches[step]) << "resumed at " << from << ", step " << step;
      }
    }
  }
}

TEST(DataLoader, ResetStartsOverFromTheFirstShard) {
  ScopedTempDir dir;
  DataLoaderOptions o{.pattern = WriteNumberedShards(dir, {40, 40}), .batch = 1, .seq = 8};
  auto loader = OpenOrDie(o);
  ASSERT_NE(loader, nullptr);
  const Batch first = Next(*loader, 1, 8);
  for (int i = 0; i < 7; ++i) Next(*loader, 1, 8);
  EXPECT_NE(loader->position(), DataPosition());
  loader->Reset();
  EXPECT_EQ(loader->position(), DataPosition());
  EXPECT_EQ(Next(*loader, 1, 8), first);
}

TEST(DataLoader, RefusesOutOfVocabTokenNamingShardPositionAndValue) {
  ScopedTempDir dir;
  std::vector<uint16_t> tokens(100, 65);
  tokens[37] = 300;
  const std::string path = dir.File("train_000.bin");
  ASSERT_TRUE(WriteTokenShard(path, tokens).ok());
  auto loader = OpenOrDie({.pattern = path, .batch = 1, .seq = 16, .vocab_size = 256});
  ASSERT_NE(loader, nullptr);
  std::vector<int32_t> in(16), tgt(16);
  ASSERT_TRUE(loader->NextBatch(in.data(), tgt.data()).ok());  // tokens 0..16
  ASSERT_TRUE(loader->NextBatch(in.data(), tgt.data()).ok());  // tokens 16..32
  const DataPosition before = loader->position();
  Status s = loader->NextBatch(in.data(), tgt.data());         // tokens 32..48
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(s.message(), path + ": token 300 at position 37 is outside the vocabulary (vocab_size 256)");
  EXPECT_EQ(loader->position(), before);
}

TEST(DataLoader, ChecksTheLastTargetTokenToo) {
  ScopedTempDir dir;
  std::vector<uint16_t> tokens(40, 1);
  tokens[16] = 999;  // only the first batch's final target
  const std::string path = dir.File("a.bin");
  ASSERT_TRUE(WriteTokenShard(path, tokens).ok());
  auto loader = OpenOrDie({.pattern = path, .batch = 2, .seq = 8, .vocab_size = 500});
  ASSERT_NE(loader, nullptr);
  std::vector<int32_t> in(16), tgt(16);
  EXPECT_EQ(loader->NextBatch(in.data(), tgt.data()).code(), Status::Code::kInvalidArgument);
}

TEST(DataLoader, RefusesShardTooSmallForTheProcessCount) {
  ScopedTempDir dir;
  const std::string pattern = WriteNumberedShards(dir, {100, 20});
  // One process needs 17 tokens per shard: fine.
  EXPECT_TRUE(DataLoader::Open({.pattern = pattern, .batch = 1, .seq = 16}).ok());
  // Two need 33: the second shard is too small.
  Result<std::unique_ptr<DataLoader>> r = DataLoader::Open(
      {.pattern = pattern, .batch = 1, .seq = 16, .process_rank = 0, .num_processes = 2});
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            dir.File("train_001.bin") + ": holds 20 tokens, fewer than the 33 one step needs "
            "(num_processes 2 * batch 1 * seq 16 + 1)");
}

TEST(DataLoader, RefusesInvalidOptionsNamingTheField) {
  ScopedTempDir dir;
  const std::string pattern = WriteNumberedShards(dir, {100});
  auto expect_refused = [](const DataLoaderOptions& o, const std::string& field) {
    Result<std::unique_ptr<DataLoader>> r = DataLoader::Open(o);
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument) << field;
    EXPECT_EQ(r.status().message().rfind(field + ":", 0), 0u) << r.status().message();
  };
  expect_refused({.pattern = pattern, .batch = 0}, "batch");
  expect_refused({.pattern = pattern, .seq = -1}, "seq");
  expect_refused({.pattern = pattern, .num_processes = 0}, "num_processes");
  expect_refused({.pattern = pattern, .process_rank = 2, .num_processes = 2}, "process_rank");
  expect_refused({.pattern = pattern, .process_rank = -1}, "process_rank");
  expect_refused({.pattern = pattern, .vocab_size = 0}, "vocab_size");
}

TEST(DataLoader, OpenReportsMissingAndCorruptShards) {
  ScopedTempDir dir;
  Result<std::unique_ptr<DataLoader>> none = DataLoader::Open({.pattern = dir.File("x_*.bin")});
  EXPECT_EQ(none.status().code(), Status::Code::kNotFound);

  WriteNumberedShards(dir, {100});
  const std::string bad = dir.File("train_001.bin");
  std::ofstream(bad, std::ios::binary) << "not a shard";
  Result<std::unique_ptr<DataLoader>> r =
      DataLoader::Open({.pattern = dir.File("train_*.bin"), .batch = 1, .seq = 8});
  EXPECT_EQ(r.status().code(), Status::Code::kCorruption);
  EXPECT_EQ(r.status().message().rfind(bad + ":", 0), 0u) << r.status().message();
}

TEST(DataLoader, RefusesSeekOutsideTheData) {
  ScopedTempDir dir;
  auto loader = OpenOrDie({.pattern = WriteNumberedShards(dir, {50, 40}), .batch = 2, .seq = 4});
  ASSERT_NE(loader, nullptr);
  EXPECT_EQ(loader->Seek({0, 2, 0}).code(), Status::Code::kInvalidArgument);
  Status s = loader->Seek({0, 1, 32});  // 32 + 9 > 40
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(s.message().rfind(dir.File("train_001.bin") + ":", 0), 0u) << s.message();
  EXPECT_EQ(loader->position(), DataPosition());
  EXPECT_TRUE(loader->Seek({5, 1, 31}).ok());  // the last window that fits
  Batch b = Next(*loader, 2, 4);
  EXPECT_EQ(b.targets.back(), 10000 + 39);
  EXPECT_EQ(loader->position(), (DataPosition{6, 0, 0}));
}

TEST(DataLoader, NoticesAShardThatChangedSinceOpen) {
  ScopedTempDir dir;
  auto loader = OpenOrDie({.pattern = WriteNumberedShards(dir, {20, 20}), .batch = 1, .seq = 8});
  ASSERT_NE(loader, nullptr);
  ASSERT_TRUE(WriteTokenShard(dir.File("train_001.bin"), std::vector<uint16_t>(10, 1)).ok());
  Next(*loader, 1, 8);
  Next(*loader, 1, 8);
  EXPECT_EQ(loader->position().shard_index, 1u);
  std::vector<int32_t> in(8), tgt(8);
  Status s = loader->NextBatch(in.data(), tgt.data());
  EXPECT_EQ(s.code(), Status::Code::kFailedPrecondition);
  EXPECT_EQ(s.message().rfind(dir.File("train_001.bin") + ":", 0), 0u) << s.message();
}

}  // namespace
}  // namespace meridian
