// The safetensors format (Hugging Face's tensor files), reader and writer.
//
// Layout (see docs/formats.md "Hugging Face GPT-2"):
//   uint64 N (little-endian), then N bytes of JSON:
//     {"<name>": {"dtype": "F32", "shape": [d0, ...], "data_offsets": [begin, end]}, ...,
//      "__metadata__": {"<key>": "<string>", ...}}   (metadata optional)
//   padded with trailing spaces, then the data section: every tensor's raw
//   little-endian row-major bytes at [begin, end) relative to its start.
//
// The reader trusts nothing in the file: the header length is bounded by
// the file and a cap before anything is allocated, every size is computed
// with overflow checks, and, as the reference implementation requires, the
// tensors must tile the data section exactly (sorted by offset, no gaps, no
// overlaps, nothing after the last one). Tensors are read one at a time, on
// demand, so a caller that needs a few tensors of a big file pays for those.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "runtime/checkpoint/file_io.h"

namespace meridian {

// The reference implementation's limit; a GPT-2 header is tens of KB.
inline constexpr uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;

// One tensor as the header describes it (already validated).
struct SafetensorsTensorInfo {
  std::string name;
  std::string dtype;            // as written: "F32", "F16", "BF16", "I64", ...
  size_t element_size = 0;      // bytes per element of `dtype`
  std::vector<uint64_t> shape;  // [] is a scalar (one element)
  uint64_t num_elements = 0;    // product of `shape`
  uint64_t begin = 0;           // byte offsets into the data section
  uint64_t end = 0;
};

// "F32", "F16" and "BF16" convert to float32; other dtypes are recognised
// (so that files holding them open) but not converted.
bool IsFloatSafetensorsDtype(const std::string& dtype);

// "[2, 3]": shapes in error messages.
std::string FormatShape(const std::vector<uint64_t>& shape);

// An open safetensors file with a validated header. Move-only.
class SafetensorsFile {
 public:
  // Errors name the file and, where there is one, the tensor:
  //   NotFound/IOError  the file cannot be opened or read;
  //   Corruption        shorter than 8 bytes, a header length past the file
  //                     or the cap, JSON that does not parse or is not an
  //                     object of tensors, an unknown dtype, a shape or
  //                     data_offsets that is not a list of non-negative
  //                     integers, a size that overflows or differs from
  //                     product(shape) * dtype size, offsets outside the data
  //                     section, tensors that overlap, leave gaps or leave
  //                     bytes after the last one, or "__metadata__" that is
  //                     not an object of strings.
  static Result<SafetensorsFile> Open(const std::string& path);

  const std::string& path() const { return file_.path(); }
  // Sorted by data offset.
  const std::vector<SafetensorsTensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // nullptr when the file has no tensor of that name.
  const SafetensorsTensorInfo* Find(const std::string& name) const;

  // Reads `tensor` (one of tensors()) into dst[tensor.num_elements] as
  // float32, converting F16 and BF16 exactly. InvalidArgument naming the
  // file and tensor for a dtype that is not F32/F16/BF16; IOError when the
  // read fails.
  Status ReadFloat32(const SafetensorsTensorInfo& tensor, float* dst) const;
  Result<std::vector<float>> ReadFloat32(const std::string& name) const;

 private:
  SafetensorsFile(checkpoint_io::InputFile file, uint64_t data_start)
      : file_(std::move(file)), data_start_(data_start) {}
  checkpoint_io::InputFile file_;
  uint64_t data_start_ = 0;  // absolute offset of the data section
  std::vector<SafetensorsTensorInfo> tensors_;
  std::map<std::string, size_t> index_;  // name -> position in tensors_
  std::map<std::string, std::string> metadata_;
};

// A float32 tensor to write; `data` holds product(shape) floats (may be
// null only when that product is 0).
struct SafetensorsTensorView {
  std::string name;
  std::vector<uint64_t> shape;
  const float* data = nullptr;
};

// Writes float32 tensors, in the given order, with the header padded with
// spaces so that the data section starts 8-byte aligned (as the reference
// writer does), atomically (WriteFileAtomically). InvalidArgument naming the
// file for an empty, duplicate or reserved ("__metadata__") name, a null
// `data`, a shape whose size overflows, or names/metadata that are not
// valid UTF-8; IOError when writing fails.
Status WriteSafetensors(const std::string& path, const std::vector<SafetensorsTensorView>& tensors,
                        const std::map<std::string, std::string>& metadata = {});

// IEEE half and bfloat16 bit patterns to float32 (exact; NaN stays NaN).
float HalfToFloat(uint16_t bits);
float Bfloat16ToFloat(uint16_t bits);

}  // namespace meridian
