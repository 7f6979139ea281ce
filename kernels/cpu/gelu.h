// GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
#pragma once

#include <cstddef>

namespace meridian::cpu {

void GeluForward(float* out, const float* inp, size_t n);

// dinp = gelu'(inp) * dout (overwritten)
void GeluBackward(float* dinp, const float* inp, const float* dout, size_t n);

}  // namespace meridian::cpu
