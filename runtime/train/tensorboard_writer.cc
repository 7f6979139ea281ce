#include "runtime/train/tensorboard_writer.h"

#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "tensorboard/event.pb.h"

namespace meridian {

namespace {

// Reflected CRC-32C polynomial. Table-driven, one byte at a time: event
// files are a few hundred bytes a step, and Debian ships no CRC-32C library
// for C++ (Google's crc32c is not packaged).
constexpr uint32_t kCastagnoli = 0x82f63b78u;

constexpr std::array<uint32_t, 256> MakeTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kCastagnoli : c >> 1;
    table[i] = c;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kTable = MakeTable();

// TensorFlow masks the CRCs it stores, so that a CRC of data that itself
// holds CRCs stays well distributed.
constexpr uint32_t kMaskDelta = 0xa282ead8u;

}  // namespace

uint32_t Crc32c(const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; ++i) c = kTable[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

uint32_t MaskedCrc32c(const void* data, size_t n) {
  const uint32_t c = Crc32c(data, n);
  return ((c >> 15) | (c << 17)) + kMaskDelta;
}

TensorBoardWriter::~TensorBoardWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

Status TensorBoardWriter::Open(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IOError(dir + ": cannot create directory: " + ec.message());
  char host[256] = "localhost";
  (void)gethostname(host, sizeof(host) - 1);
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  path_ = dir + "/events.out.tfevents." + std::to_string(static_cast<long long>(now)) + "." + host + "." +
          std::to_string(getpid());
  file_ = std::fopen(path_.c_str(), "wb");
  if (file_ == nullptr) return Status::IOError(path_ + ": cannot create: " + std::strerror(errno));
  tensorboard::Event version;
  version.set_wall_time(now);
  version.set_file_version("brain.Event:2");
  return WriteRecord(version.SerializeAsString());
}

Status TensorBoardWriter::WriteScalars(int64_t step, double wall_time,
                                       const std::vector<std::pair<std::string, float>>& scalars) {
  if (file_ == nullptr) return Status::OK();
  tensorboard::Event event;
  event.set_wall_time(wall_time);
  event.set_step(step);
  tensorboard::Summary* summary = event.mutable_summary();
  for (const auto& [tag, value] : scalars) {
    tensorboard::SummaryValue* v = summary->add_value();
    v->set_tag(tag);
    v->set_simple_value(value);
  }
  return WriteRecord(event.SerializeAsString());
}

Status TensorBoardWriter::WriteRecord(std::string_view payload) {
  unsigned char header[12];
  const uint64_t length = payload.size();
  for (int i = 0; i < 8; ++i) header[i] = static_cast<unsigned char>(length >> (8 * i));
  const uint32_t length_crc = MaskedCrc32c(header, 8);
  const uint32_t payload_crc = MaskedCrc32c(payload.data(), payload.size());
  unsigned char footer[4];
  for (int i = 0; i < 4; ++i) {
    header[8 + i] = static_cast<unsigned char>(length_crc >> (8 * i));
    footer[i] = static_cast<unsigned char>(payload_crc >> (8 * i));
  }
  if (std::fwrite(header, 1, sizeof(header), file_) != sizeof(header) ||
      std::fwrite(payload.data(), 1, payload.size(), file_) != payload.size() ||
      std::fwrite(footer, 1, sizeof(footer), file_) != sizeof(footer) || std::fflush(file_) != 0)
    return Status::IOError(path_ + ": write failed: " + std::strerror(errno));
  return Status::OK();
}

}  // namespace meridian
