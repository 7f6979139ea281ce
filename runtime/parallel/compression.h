// Pseudo-gradient compression for the slow links between data centers.
//   fp16: IEEE half precision, 2 bytes per value.
//   int8: per-chunk symmetric quantisation (scale = max|x| / 127 per chunk
//         of kInt8Chunk values), 1 byte per value plus 4 per chunk, with
//         error feedback: what a round trip loses is added to the next
//         round's input, so the error does not accumulate over rounds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace meridian {

enum class Compression { kNone, kFp16, kInt8 };

Result<Compression> ParseCompression(const std::string& name);
const char* CompressionName(Compression c);

constexpr size_t kInt8Chunk = 256;

// Bytes the payload of n values takes.
size_t CompressedBytes(Compression c, size_t n);

// Encodes x (n values) into out (CompressedBytes bytes). With int8 and a
// non-null error buffer (n values), error feedback is applied and updated.
void Compress(Compression c, const float* x, size_t n, float* error_feedback, uint8_t* out);

// Decodes a payload and adds it, times `weight`, into acc (n values).
void DecompressAdd(Compression c, const uint8_t* payload, size_t n, float weight, float* acc);

}  // namespace meridian
