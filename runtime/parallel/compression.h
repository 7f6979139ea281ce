// Pseudo-gradient compression for the slow links between data centers.
//   fp16:   IEEE half precision, 2 bytes per value.
//   int8:   per-chunk symmetric quantisation (scale = max|x| / 127 per chunk
//           of kInt8Chunk values), 1 byte per value plus 4 per chunk.
//   int4:   the same with 15 levels (scale = max|x| / 7) per block of
//           kInt4Block values, two values a byte plus 4 bytes per block.
//   sparse: chunked top-k as in SparseLoCo (Sarfi et al., 2025): in each
//           chunk of kSparseChunk values only the kSparseTopK largest in
//           magnitude are sent, each as a 1-byte index in its chunk and a
//           2-bit code (levels +-s, +-s/3 with s the chunk's largest kept
//           magnitude), plus 4 bytes of scale per chunk: ~0.035 bytes a
//           value. What is not sent stays in the error feedback.
// The lossy modes take an error feedback buffer: what a round trip loses is
// added to the next round's input, so the error does not accumulate over
// rounds (and a value too small to be sent now is sent once it has grown).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/closed_set.h"
#include "common/status.h"

namespace meridian {

enum class Compression { kNone, kFp16, kInt8, kInt4, kSparse };
inline constexpr ClosedSet<Compression, 5> kCompressions{"outer-compress",
                                                         {{{Compression::kNone, "none"},
                                                           {Compression::kFp16, "fp16"},
                                                           {Compression::kInt8, "int8"},
                                                           {Compression::kInt4, "int4"},
                                                           {Compression::kSparse, "sparse"}}}};

inline Result<Compression> ParseCompression(const std::string& name) { return kCompressions.Parse(name); }
inline const char* CompressionName(Compression c) { return kCompressions.Name(c); }
// Whether the mode loses information, and so keeps an error feedback buffer.
inline bool UsesErrorFeedback(Compression c) {
  return c == Compression::kInt8 || c == Compression::kInt4 || c == Compression::kSparse;
}

constexpr size_t kInt8Chunk = 256;
constexpr size_t kInt4Block = 64;
constexpr size_t kSparseChunk = 256;
constexpr size_t kSparseTopK = 4;  // 1.6% of the values

// Bytes the payload of n values takes.
size_t CompressedBytes(Compression c, size_t n);

// Encodes x (n values) into out (CompressedBytes bytes). For a lossy mode
// with a non-null error buffer (n values), error feedback is applied and
// updated.
void Compress(Compression c, const float* x, size_t n, float* error_feedback, uint8_t* out);

// Decodes a payload and adds it, times `weight`, into acc (n values).
void DecompressAdd(Compression c, const uint8_t* payload, size_t n, float weight, float* acc);

}  // namespace meridian
