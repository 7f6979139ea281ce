// Causal self-attention, scale 1/sqrt(head size), multi-head or
// grouped-query.
//
// A qkv row holds NH query heads, then KVH key heads, then KVH value heads,
// each hs wide; query head h reads key/value head h / (NH / KVH) (Hugging
// Face's repeat_kv). GPT-2 is the case KVH = NH, hs = C / NH. Each (batch,
// head) pair is three small GEMMs on strided views of qkv, run in parallel
// across pairs.
#pragma once

namespace meridian::cpu {

// out (B,T,NH*hs): attention output; att (B,NH,T,T): softmax probabilities,
// kept for the backward pass (zero above the diagonal).
void AttentionForward(float* out, float* att, const float* qkv, int B, int T, int NH, int KVH, int hs);

// dqkv (B,T,(NH+2KVH)*hs) = gradient of qkv (overwritten);
// scratch: B*NH*T*T floats of workspace.
void AttentionBackward(float* dqkv, float* scratch, const float* dout, const float* qkv, const float* att, int B,
                       int T, int NH, int KVH, int hs);

// Multi-head attention with qkv (B,T,3C).
inline void AttentionForward(float* out, float* att, const float* qkv, int B, int T, int C, int NH) {
  AttentionForward(out, att, qkv, B, T, NH, NH, C / NH);
}
inline void AttentionBackward(float* dqkv, float* scratch, const float* dout, const float* qkv, const float* att,
                              int B, int T, int C, int NH) {
  AttentionBackward(dqkv, scratch, dout, qkv, att, B, T, NH, NH, C / NH);
}

}  // namespace meridian::cpu
