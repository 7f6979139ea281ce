// Naive double-precision references for the kernels in kernels/cpu, written
// for clarity, not speed: plain loops, the textbook formula, no fusion, no
// blocking. Each mirrors its kernel's argument order and shapes, with double
// in place of float. The backward functions are derived analytically; their
// own tests check them against central finite differences of the forward.
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

namespace meridian::ref {

// ---- encoder --------------------------------------------------------------

// out (B,T,C) = wte[inp[b,t], :] + wpe[t, :]
void EncoderForward(double* out, const int* inp, const double* wte, const double* wpe, int B, int T, int C);

// dwte (V,C) += scatter of dout by token; dwpe (T,C) += sum over b.
void EncoderBackward(double* dwte, double* dwpe, const double* dout, const int* inp, int B, int T, int C);

// ---- layernorm ------------------------------------------------------------

// out (N,C), mean (N), rstd (N); eps as the kernel's (1e-5).
void LayerNormForward(double* out, double* mean, double* rstd, const double* inp, const double* weight,
                      const double* bias, int N, int C);

// dinp (N,C) +=, dweight (C) +=, dbias (C) +=. Recomputes mean and rstd from
// inp in double rather than taking them from the forward.
void LayerNormBackward(double* dinp, double* dweight, double* dbias, const double* dout, const double* inp,
                       const double* weight, int N, int C);

// ---- matmul ---------------------------------------------------------------

// out (N,OC) = inp (N,C) @ weight (OC,C)^T + bias (OC); bias may be null.
void MatmulForward(double* out, const double* inp, const double* weight, const double* bias, int N, int C,
                   int OC);

// dinp (N,C) +=, dweight (OC,C) +=, dbias (OC) +=; any of the three may be null.
void MatmulBackward(double* dinp, double* dweight, double* dbias, const double* dout, const double* inp,
                    const double* weight, int N, int C, int OC);

// ---- attention ------------------------------------------------------------

// Materialises the (T,T) score matrix of every (batch, head), sets entries
// above the diagonal to -inf (explicit causal mask) and takes a full-row
// softmax. out (B,T,C); att (B,NH,T,T) probabilities (0 above the diagonal).
void AttentionForward(double* out, double* att, const double* qkv, int B, int T, int C, int NH);

// dqkv (B,T,3C) = gradient of qkv (overwritten). Recomputes the
// probabilities from qkv.
void AttentionBackward(double* dqkv, const double* dout, const double* qkv, int B, int T, int C, int NH);

// ---- gelu -----------------------------------------------------------------

void GeluForward(double* out, const double* inp, size_t n);
void GeluBackward(double* dinp, const double* inp, const double* dout, size_t n);  // overwritten

// ---- residual -------------------------------------------------------------

void ResidualForward(double* out, const double* a, const double* b, size_t n);

// ---- classifier -----------------------------------------------------------

// losses (N) = -log softmax(logits[n, 0:V])[target]; when dlogits is non-null,
// dlogits (N,Vp) = (softmax - onehot) * dloss for columns < V and 0 beyond.
// Columns >= V of logits are never read.
void SoftmaxCrossEntropy(double* losses, double* dlogits, const double* logits, const int* targets, int N,
                         int V, int Vp, double dloss);

// probs (V) = softmax(logits / temperature)
void SoftmaxRow(double* probs, const double* logits, int V, double temperature);

// ---- adamw ----------------------------------------------------------------

// One step of torch.optim.AdamW (decoupled weight decay applied first, then
// the bias-corrected Adam step with eps added to sqrt(v_hat)), with the
// gradient multiplied by grad_scale first.
struct AdamWParams {
  double lr, beta1, beta2, eps, weight_decay, grad_scale;
  long step;  // from 1
};
void AdamWUpdate(double* params, const double* grads, double* m, double* v, size_t n, const AdamWParams& hp);

// ---- reductions -----------------------------------------------------------

void ColumnSumAccumulate(double* out, const double* in, int N, int C);  // out (C) +=
double SumOfSquares(const double* x, size_t n);

// ---- finite differences ---------------------------------------------------

// grad[i] = (f(x + h e_i) - f(x - h e_i)) / 2h, everything in double.
std::vector<double> FiniteDifferenceGradient(const std::function<double(const std::vector<double>&)>& f,
                                             std::vector<double> x, double h = 1e-6);

}  // namespace meridian::ref
