// Residual connection. Its backward is the identity on both inputs, which
// the model realises by accumulating into one running gradient buffer.
#pragma once

#include <cstddef>

namespace meridian::cpu {

// out = a + b
void ResidualForward(float* out, const float* a, const float* b, size_t n);

}  // namespace meridian::cpu
