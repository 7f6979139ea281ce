// Naive double-precision references for Llama's kernels (RMSNorm, rotary
// embeddings, SwiGLU, grouped-query attention), written from the Hugging
// Face definitions rather than from the kernels: plain loops, no fusion.
#pragma once

#include <cstddef>
#include <vector>

namespace meridian::ref {

// out (N,C) = inp / sqrt(mean(inp^2) + eps) * weight
void RmsNormForward(double* out, const double* inp, const double* weight, int N, int C, double eps);
// dinp (N,C) +=, dweight (C) +=; recomputes the norm from inp.
void RmsNormBackward(double* dinp, double* dweight, const double* dout, const double* inp, const double* weight,
                     int N, int C, double eps);

// Hugging Face's apply_rotary_pos_emb on the first `heads` heads of each
// (B,T) row: x * cos + rotate_half(x) * sin, with cos/sin of
// cat(freqs, freqs), freqs[i] = t * inv_freq[i]. x is rotated in place.
void RopeForward(double* x, const std::vector<double>& inv_freq, int B, int T, int heads, int hs, int row_stride);

// Grouped-query attention by Hugging Face's repeat_kv: key/value head g is
// copied to query heads g*rep .. g*rep+rep-1, and multi-head attention runs
// on the result. qkv rows: NH q heads, KVH k heads, KVH v heads.
void GqaAttentionForward(double* out, const double* qkv, int B, int T, int NH, int KVH, int hs);
// dqkv (B,T,(NH+2KVH)hs) overwritten: the repeated heads' dK and dV summed.
void GqaAttentionBackward(double* dqkv, const double* dout, const double* qkv, int B, int T, int NH, int KVH,
                          int hs);

// out (N,F) = silu(gate) * up with gate_up (N,2F) = [gate | up].
void SwigluForward(double* out, const double* gate_up, int N, int F);
void SwigluBackward(double* dgate_up, const double* gate_up, const double* dout, int N, int F);  // overwritten

}  // namespace meridian::ref
