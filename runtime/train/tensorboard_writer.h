// Writes scalars as a TensorBoard event file, so `tensorboard --logdir`
// draws a run's curves as it trains.
//
// The file (DIR/events.out.tfevents.<unix time>.<host>.<pid>, the name
// TensorBoard looks for) is a sequence of records: the payload's length as
// uint64 little-endian, a masked CRC-32C of those 8 bytes, the payload (a
// serialized Event), a masked CRC-32C of the payload. Each step's record is
// flushed, so a curve grows while the run trains and a killed run keeps
// every step it finished.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace meridian {

// CRC-32C (Castagnoli), and TensorFlow's masking of it.
uint32_t Crc32c(const void* data, size_t n);
uint32_t MaskedCrc32c(const void* data, size_t n);

class TensorBoardWriter {
 public:
  TensorBoardWriter() = default;
  ~TensorBoardWriter();
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;

  // Creates `dir` if needed and a new event file in it (a resumed run adds
  // a file; TensorBoard joins the files of a directory by step).
  Status Open(const std::string& dir);
  const std::string& path() const { return path_; }

  // One event of `step` at `wall_time` holding every (tag, value).
  Status WriteScalars(int64_t step, double wall_time, const std::vector<std::pair<std::string, float>>& scalars);

 private:
  Status WriteRecord(std::string_view payload);

  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace meridian
