// Rotary position embeddings as Hugging Face's Llama applies them
// ("rotate half"): within each head of size hs, channel i < hs/2 pairs with
// channel i + hs/2, and the pair at position t turns by angle t * inv_freq[i]:
//   out[i]        = x[i] cos - x[i + hs/2] sin
//   out[i + hs/2] = x[i + hs/2] cos + x[i] sin
// The angles' cos/sin come in as tables (T, hs/2), so the kernel knows
// nothing of rope_theta or its scaling.
#pragma once

namespace meridian::cpu {

// Rotates the first `heads` heads of each (B,T) row of x in place; a row is
// `row_stride` floats (the q and k heads of a fused qkv row come first).
void RopeForward(float* x, const float* cos, const float* sin, int B, int T, int heads, int hs, int row_stride);

// The inverse rotation, applied in place to the gradient of the rotated
// heads: the gradient of the heads before rotation.
void RopeBackward(float* dx, const float* cos, const float* sin, int B, int T, int heads, int hs, int row_stride);

}  // namespace meridian::cpu
