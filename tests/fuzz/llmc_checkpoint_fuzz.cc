// Hostile llm.c checkpoints (--init-from): ReadLlmcCheckpoint must return
// the model or an error naming the file, never crash or allocate what the
// file does not hold.
#include <cstddef>
#include <cstdint>

#include "runtime/checkpoint/llmc_format.h"
#include "tests/fuzz/fuzz_scratch.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = meridian::fuzz::ScratchDir() / "model.bin";
  meridian::fuzz::WriteBytes(path, meridian::fuzz::AsText(data, size));
  (void)meridian::ReadLlmcCheckpoint(path.string());
  return 0;
}
