#include "runtime/checkpoint/safetensors.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <set>

#include <nlohmann/json.hpp>

namespace meridian {

// Tensor bytes are little-endian; we copy them as they are.
static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; add byte swapping for this host");

namespace {

using json = nlohmann::json;

// The reference implementation's dtypes of whole bytes. Recognising them
// all lets a file that also holds, say, an int64 buffer open; only the
// float ones convert.
size_t DtypeSize(const std::string& dtype) {
  static const std::map<std::string, size_t> sizes = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"I16", 2},
      {"U16", 2},  {"F16", 2}, {"BF16", 2}, {"I32", 4},    {"U32", 4},     {"F32", 4},
      {"F64", 8},  {"I64", 8}, {"U64", 8}};
  auto it = sizes.find(dtype);
  return it == sizes.end() ? 0 : it->second;
}

// A name from the file as it goes into a message: bounded, and with control
// characters replaced so that a hostile name cannot forge log lines.
std::string Printable(const std::string& name) {
  constexpr size_t kMax = 120;
  std::string out = name.substr(0, kMax);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  if (name.size() > kMax) out += "...";
  return out;
}

std::string Range(uint64_t begin, uint64_t end) {
  // Appended piece by piece: GCC 12 warns (-Wrestrict, falsely) on "[" + std::to_string(...).
  std::string s = "[";
  s += std::to_string(begin);
  s += ", ";
  s += std::to_string(end);
  s += ")";
  return s;
}

// A safetensors header is three levels deep; refusing deeper nesting before
// parsing keeps a hostile header from costing more than its size suggests.
bool NestingWithin(const std::string& text, int max_depth) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max_depth) return false;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return true;
}

class HeaderParser {
 public:
  explicit HeaderParser(const std::string& path) : path_(path) {}

  Status Bad(const std::string& why) const { return Status::Corruption(path_ + ": " + why); }
  Status BadTensor(const std::string& name, const std::string& why) const {
    return Bad("tensor '" + Printable(name) + "': " + why);
  }

  // Non-negative integers, as a list.
  Result<std::vector<uint64_t>> UnsignedList(const std::string& name, const json& tensor, const char* key) const {
    auto it = tensor.find(key);
    if (it == tensor.end()) return BadTensor(name, std::string("has no '") + key + "'");
    if (!it->is_array()) return BadTensor(name, std::string("'") + key + "' must be a list of integers");
    std::vector<uint64_t> values;
    values.reserve(it->size());
    for (const json& v : *it) {
      if (!v.is_number_unsigned()) {
        return BadTensor(name, std::string("'") + key + "' must hold non-negative integers below 2^64, found " +
                                   Printable(v.dump()));
      }
      values.push_back(v.get<uint64_t>());
    }
    return values;
  }

  Result<SafetensorsTensorInfo> Tensor(const std::string& name, const json& entry, uint64_t data_bytes) const {
    if (!entry.is_object()) return BadTensor(name, "entry must be an object");
    SafetensorsTensorInfo t;
    t.name = name;
    auto dtype = entry.find("dtype");
    if (dtype == entry.end() || !dtype->is_string()) return BadTensor(name, "'dtype' must be a string");
    t.dtype = dtype->get<std::string>();
    t.element_size = DtypeSize(t.dtype);
    if (t.element_size == 0) {
      return BadTensor(name, "unknown dtype '" + Printable(t.dtype) + "' (expected F32, F16, BF16, or another "
                                                                   "safetensors dtype)");
    }
    MERIDIAN_ASSIGN_OR_RETURN(t.shape, UnsignedList(name, entry, "shape"));
    MERIDIAN_ASSIGN_OR_RETURN(std::vector<uint64_t> offsets, UnsignedList(name, entry, "data_offsets"));
    if (offsets.size() != 2) {
      return BadTensor(name, "'data_offsets' must be [begin, end], found " + std::to_string(offsets.size()) +
                                 " values");
    }
    t.begin = offsets[0];
    t.end = offsets[1];
    t.num_elements = 1;
    for (uint64_t dim : t.shape) {
      if (__builtin_mul_overflow(t.num_elements, dim, &t.num_elements)) {
        return BadTensor(name, "shape " + FormatShape(t.shape) + " has more elements than fit in 64 bits");
      }
    }
    uint64_t bytes = 0;
    if (__builtin_mul_overflow(t.num_elements, uint64_t{t.element_size}, &bytes)) {
      return BadTensor(name,
                       "shape " + FormatShape(t.shape) + " of " + t.dtype + " has more bytes than fit in 64 bits");
    }
    if (t.end < t.begin) return BadTensor(name, "data_offsets " + Range(t.begin, t.end) + " end before they begin");
    if (t.end > data_bytes) {
      return BadTensor(name, "data_offsets " + Range(t.begin, t.end) + " run past the end of the data section (" +
                                 std::to_string(data_bytes) + " bytes)");
    }
    if (t.end - t.begin != bytes) {
      return BadTensor(name, "data_offsets " + Range(t.begin, t.end) + " span " + std::to_string(t.end - t.begin) +
                                 " bytes, but shape " + FormatShape(t.shape) + " of " + t.dtype + " needs " +
                                 std::to_string(bytes));
    }
    return t;
  }

  Result<std::map<std::string, std::string>> Metadata(const json& entry) const {
    if (!entry.is_object()) return Bad("'__metadata__' must be an object of strings");
    std::map<std::string, std::string> metadata;
    for (auto it = entry.begin(); it != entry.end(); ++it) {
      if (!it.value().is_string()) {
        return Bad("'__metadata__' entry '" + Printable(it.key()) + "' must be a string");
      }
      metadata[it.key()] = it.value().get<std::string>();
    }
    return metadata;
  }

  // The tensors, sorted by offset, must cover the data section exactly.
  Status CheckTiling(std::vector<SafetensorsTensorInfo>& tensors, uint64_t data_bytes) const {
    std::sort(tensors.begin(), tensors.end(), [](const auto& a, const auto& b) {
      return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    uint64_t covered = 0;
    const SafetensorsTensorInfo* previous = nullptr;
    for (const SafetensorsTensorInfo& t : tensors) {
      if (t.begin < covered) {
        return BadTensor(t.name, "data_offsets " + Range(t.begin, t.end) + " overlap tensor '" +
                                     Printable(previous->name) + "' at " + Range(previous->begin, previous->end));
      }
      if (t.begin > covered) {
        return BadTensor(t.name, "data_offsets " + Range(t.begin, t.end) + " leave bytes " +
                                     Range(covered, t.begin) + " of the data section to no tensor");
      }
      covered = t.end;
      previous = &t;
    }
    if (covered != data_bytes) {
      return Bad("bytes " + Range(covered, data_bytes) + " of the data section belong to no tensor");
    }
    return Status::OK();
  }

 private:
  const std::string& path_;
};

}  // namespace

bool IsFloatSafetensorsDtype(const std::string& dtype) {
  return dtype == "F32" || dtype == "F16" || dtype == "BF16";
}

std::string FormatShape(const std::vector<uint64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  const uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exact in float32.
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));  // Inf, NaN
  return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

float Bfloat16ToFloat(uint16_t bits) { return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16); }

Result<SafetensorsFile> SafetensorsFile::Open(const std::string& path) {
  MERIDIAN_ASSIGN_OR_RETURN(checkpoint_io::InputFile file, checkpoint_io::InputFile::Open(path));
  const uint64_t size = file.size();
  if (size < 8) {
    return Status::Corruption(path + ": not a safetensors file: " + std::to_string(size) +
                              " bytes, shorter than the 8-byte header length");
  }
  unsigned char length_bytes[8];
  MERIDIAN_RETURN_IF_ERROR(file.ReadAt(0, length_bytes, sizeof(length_bytes)));
  uint64_t header_bytes = 0;
  for (int i = 7; i >= 0; --i) header_bytes = header_bytes << 8 | length_bytes[i];
  if (header_bytes > size - 8) {
    return Status::Corruption(path + ": safetensors header length " + std::to_string(header_bytes) +
                              " runs past the end of the file (" + std::to_string(size - 8) +
                              " bytes follow the length field)");
  }
  if (header_bytes > kSafetensorsMaxHeaderBytes) {
    return Status::Corruption(path + ": safetensors header length " + std::to_string(header_bytes) +
                              " exceeds the limit of " + std::to_string(kSafetensorsMaxHeaderBytes) + " bytes");
  }
  std::string text(header_bytes, '\0');
  MERIDIAN_RETURN_IF_ERROR(file.ReadAt(8, text.data(), text.size()));
  HeaderParser parser(path);
  if (text.empty() || text[0] != '{') return parser.Bad("safetensors header does not start with '{'");
  if (!NestingWithin(text, 8)) return parser.Bad("safetensors header nests deeper than 8 levels");
  json root;
  try {
    root = json::parse(text);
  } catch (const json::exception& e) {
    return parser.Bad(std::string("safetensors header is not valid JSON: ") + e.what());
  }
  if (!root.is_object()) return parser.Bad("safetensors header must be a JSON object");

  const uint64_t data_start = 8 + header_bytes;
  const uint64_t data_bytes = size - data_start;
  SafetensorsFile result(std::move(file), data_start);
  for (auto it = root.begin(); it != root.end(); ++it) {
    if (it.key() == "__metadata__") {
      MERIDIAN_ASSIGN_OR_RETURN(result.metadata_, parser.Metadata(it.value()));
      continue;
    }
    MERIDIAN_ASSIGN_OR_RETURN(SafetensorsTensorInfo t, parser.Tensor(it.key(), it.value(), data_bytes));
    result.tensors_.push_back(std::move(t));
  }
  MERIDIAN_RETURN_IF_ERROR(parser.CheckTiling(result.tensors_, data_bytes));
  for (size_t i = 0; i < result.tensors_.size(); ++i) result.index_[result.tensors_[i].name] = i;
  return result;
}

const SafetensorsTensorInfo* SafetensorsFile::Find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

Status SafetensorsFile::ReadFloat32(const SafetensorsTensorInfo& t, float* dst) const {
  if (!IsFloatSafetensorsDtype(t.dtype)) {
    return Status::InvalidArgument(path() + ": tensor '" + Printable(t.name) + "' has dtype " + t.dtype +
                                   "; only F32, F16 and BF16 convert to float32");
  }
  const uint64_t offset = data_start_ + t.begin;
  if (t.dtype == "F32") return file_.ReadAt(offset, dst, static_cast<size_t>(t.end - t.begin));
  // Half-width dtypes go through a bounded buffer, converted slice by slice.
  constexpr uint64_t kSlice = uint64_t{1} << 20;
  std::vector<uint16_t> buffer(static_cast<size_t>(std::min(kSlice, t.num_elements)));
  const bool half = t.dtype == "F16";
  for (uint64_t done = 0; done < t.num_elements;) {
    const size_t n = static_cast<size_t>(std::min(kSlice, t.num_elements - done));
    MERIDIAN_RETURN_IF_ERROR(file_.ReadAt(offset + done * 2, buffer.data(), n * 2));
    for (size_t i = 0; i < n; ++i) dst[done + i] = half ? HalfToFloat(buffer[i]) : Bfloat16ToFloat(buffer[i]);
    done += n;
  }
  return Status::OK();
}

Result<std::vector<float>> SafetensorsFile::ReadFloat32(const std::string& name) const {
  const SafetensorsTensorInfo* t = Find(name);
  if (t == nullptr) return Status::NotFound(path() + ": no tensor '" + Printable(name) + "'");
  std::vector<float> values(static_cast<size_t>(t->num_elements));
  MERIDIAN_RETURN_IF_ERROR(ReadFloat32(*t, values.data()));
  return values;
}

Status WriteSafetensors(const std::string& path, const std::vector<SafetensorsTensorView>& tensors,
                        const std::map<std::string, std::string>& metadata) {
  // ordered_json keeps the tensors in the order their bytes are written.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<checkpoint_io::ByteSpan> pieces(2);  // length and header, filled below
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const SafetensorsTensorView& t : tensors) {
    if (t.name.empty() || t.name == "__metadata__") {
      return Status::InvalidArgument(path + ": tensor name '" + t.name + "' is reserved or empty");
    }
    if (!names.insert(t.name).second) {
      return Status::InvalidArgument(path + ": tensor '" + Printable(t.name) + "' appears twice");
    }
    uint64_t count = 1, bytes = 0, end = 0;
    bool overflow = false;
    for (uint64_t dim : t.shape) overflow = overflow || __builtin_mul_overflow(count, dim, &count);
    overflow = overflow || __builtin_mul_overflow(count, uint64_t{sizeof(float)}, &bytes) ||
               __builtin_add_overflow(offset, bytes, &end);
    if (overflow) {
      return Status::InvalidArgument(path + ": tensor '" + Printable(t.name) + "' shape " + FormatShape(t.shape) +
                                     " is too large");
    }
    if (t.data == nullptr && bytes > 0) {
      return Status::InvalidArgument(path + ": tensor '" + Printable(t.name) + "' has no data");
    }
    header[t.name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, end}}};
    pieces.push_back({t.data, static_cast<size_t>(bytes)});
    offset = end;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::ordered_json::exception& e) {
    return Status::InvalidArgument(path + ": tensor names and metadata must be valid UTF-8: " + e.what());
  }
  // Padding the header aligns the data section to 8 bytes, so a reader that
  // maps the file can view every tensor in place.
  text.append((8 - text.size() % 8) % 8, ' ');
  unsigned char length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(uint64_t{text.size()} >> (8 * i));
  pieces[0] = {length, sizeof(length)};
  pieces[1] = {text.data(), text.size()};
  return checkpoint_io::WriteFileAtomically(path, pieces);
}

}  // namespace meridian
