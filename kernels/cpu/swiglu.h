// SwiGLU, Llama's MLP activation: out = silu(gate) * up, silu(x) = x sigmoid(x).
// gate and up come from one fused projection: row n of gate_up (N, 2F) holds
// gate in [0, F) and up in [F, 2F).
#pragma once

namespace meridian::cpu {

// out (N,F)
void SwigluForward(float* out, const float* gate_up, int N, int F);

// dgate_up (N,2F) = gradient of gate_up (overwritten).
void SwigluBackward(float* dgate_up, const float* gate_up, const float* dout, int N, int F);

}  // namespace meridian::cpu
