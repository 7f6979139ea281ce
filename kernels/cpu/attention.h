// Causal multi-head self-attention, scale 1/sqrt(head size).
//
// qkv (B,T,3C) holds q, k, v side by side; head h owns channels
// [h*hs, (h+1)*hs) of each. Each (batch, head) pair is three small GEMMs on
// strided views of qkv, run in parallel across pairs.
#pragma once

namespace meridian::cpu {

// out (B,T,C): attention output; att (B,NH,T,T): softmax probabilities,
// kept for the backward pass (zero above the diagonal).
void AttentionForward(float* out, float* att, const float* qkv, int B, int T, int C, int NH);

// dqkv (B,T,3C) = gradient of qkv (overwritten);
// scratch: B*NH*T*T floats of workspace.
void AttentionBackward(float* dqkv, float* scratch, const float* dout, const float* qkv, const float* att,
                       int B, int T, int C, int NH);

}  // namespace meridian::cpu
