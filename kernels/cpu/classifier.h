// The language-model head's loss: softmax + cross-entropy fused, over the
// real vocabulary V of a row padded to Vp. Padded columns get no
// probability mass and zero gradient.
#pragma once

namespace meridian::cpu {

// logits (N,Vp): on return, when compute_grad, holds dlogits =
// (softmax - onehot(target)) * dloss for columns < V and 0 beyond; otherwise
// its contents are unspecified. losses (N) = -log softmax[target].
// REQUIRES: 0 <= targets[n] < V.
void SoftmaxCrossEntropy(float* logits, float* losses, const int* targets, int N, int V, int Vp, float dloss,
                         bool compute_grad);

// probs (V) = softmax(logits[0:V] / temperature), for sampling.
void SoftmaxRow(float* probs, const float* logits, int V, float temperature);

}  // namespace meridian::cpu
