// What the fuzz targets share: a scratch directory of their own (on tmpfs
// where there is one, so that writing each input to a file stays cheap),
// and writing an input to a file there, for readers that take a path.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace meridian::fuzz {

// Created on first use, removed when the process exits normally (a crash
// leaves it for inspection).
inline const std::filesystem::path& ScratchDir() {
  static const std::filesystem::path dir = [] {
    std::filesystem::path base = std::filesystem::is_directory("/dev/shm") ? std::filesystem::path("/dev/shm")
                                                                          : std::filesystem::temp_directory_path();
    std::filesystem::path d = base / ("meridian-fuzz-" + std::to_string(getpid()));
    std::filesystem::create_directories(d);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(ScratchDir(), ec);
    });
    return d;
  }();
  return dir;
}

inline void WriteBytes(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), (std::streamsize)bytes.size());
}

// Splits an input into pieces at every `separator` (the seed corpus packs
// several files into one input this way; mutations may add or drop one).
inline std::vector<std::string_view> SplitInput(std::string_view input, std::string_view separator) {
  std::vector<std::string_view> pieces;
  size_t start = 0;
  while (true) {
    size_t at = input.find(separator, start);
    if (at == std::string_view::npos) {
      pieces.push_back(input.substr(start));
      return pieces;
    }
    pieces.push_back(input.substr(start, at - start));
    start = at + separator.size();
  }
}

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return std::string_view(reinterpret_cast<const char*>(data), size);
}

}  // namespace meridian::fuzz
