// Hostile checkpoint directories, either format: LoadCheckpoint must load
// and verify, or return an error naming the file, never crash, hang or
// allocate what the files do not hold. An input packs a step directory's
// files: pieces separated by "\n#--file--\n", each its plain file name, a
// newline, then its contents (manifest.json, the array or rank files).
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include "runtime/checkpoint/checkpoint.h"
#include "runtime/checkpoint/json_fields.h"
#include "tests/fuzz/fuzz_scratch.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fs = std::filesystem;
  const fs::path step_dir = meridian::fuzz::ScratchDir() / "ckpt" / "step_00000002";
  std::error_code ec;
  fs::remove_all(step_dir, ec);
  fs::create_directories(step_dir);
  for (std::string_view piece : meridian::fuzz::SplitInput(meridian::fuzz::AsText(data, size), "\n#--file--\n")) {
    const size_t newline = piece.find('\n');
    if (newline == std::string_view::npos) continue;
    const std::string name(piece.substr(0, newline));
    // Stays inside the step directory.
    if (!meridian::checkpoint_manifest::IsPlainFileName(name) || name.find('\0') != std::string::npos) continue;
    meridian::fuzz::WriteBytes(step_dir / name, piece.substr(newline + 1));
  }
  (void)meridian::LoadCheckpoint(step_dir.string());
  return 0;
}
