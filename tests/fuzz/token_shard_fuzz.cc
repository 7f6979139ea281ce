// Hostile token shards (llm.c's .bin format): the header and the whole
// shard readers must return tokens or an error naming the file, never
// crash or allocate what the file does not hold.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "runtime/data/token_shard.h"
#include "tests/fuzz/fuzz_scratch.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = meridian::fuzz::ScratchDir() / "shard.bin";
  meridian::fuzz::WriteBytes(path, meridian::fuzz::AsText(data, size));
  auto header = meridian::ReadTokenShardHeader(path.string());
  auto tokens = meridian::ReadTokenShard(path.string());
  if (tokens.ok() && !header.ok()) std::abort();  // a shard that reads has a header that reads
  return 0;
}
