#include "tests/kernels/reference_kernels.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace meridian::ref {

namespace {
constexpr double kLayerNormEps = 1e-5;
constexpr double kPi = 3.14159265358979323846;
}  // namespace

// ---- encoder --------------------------------------------------------------

void EncoderForward(double* out, const int* inp, const double* wte, const double* wpe, int B, int T, int C) {
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t)
      for (int c = 0; c < C; ++c)
        out[((size_t)b * T + t) * C + c] = wte[(size_t)inp[b * T + t] * C + c] + wpe[(size_t)t * C + c];
}

void EncoderBackward(double* dwte, double* dwpe, const double* dout, const int* inp, int B, int T, int C) {
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t)
      for (int c = 0; c < C; ++c) {
        const double d = dout[((size_t)b * T + t) * C + c];
        dwte[(size_t)inp[b * T + t] * C + c] += d;
        dwpe[(size_t)t * C + c] += d;
      }
}

// ---- layernorm ------------------------------------------------------------

namespace {
void RowMoments(const double* x, int C, double* mean, double* rstd) {
  double m = 0.0;
  for (int c = 0; c < C; ++c) m += x[c];
  m /= C;
  double var = 0.0;
  for (int c = 0; c < C; ++c) var += (x[c] - m) * (x[c] - m);
  var /= C;
  *mean = m;
  *rstd = 1.0 / std::sqrt(var + kLayerNormEps);
}
}  // namespace

void LayerNormForward(double* out, double* mean, double* rstd, const double* inp, const double* weight,
                      const double* bias, int N, int C) {
  for (int n = 0; n < N; ++n) {
    const double* x = inp + (size_t)n * C;
    double m, s;
    RowMoments(x, C, &m, &s);
    for (int c = 0; c < C; ++c) out[(size_t)n * C + c] = (x[c] - m) * s * weight[c] + bias[c];
    mean[n] = m;
    rstd[n] = s;
  }
}

// With xhat = (x - mean) * rstd and y = xhat * w + b:
//   dL/dxhat_c = w_c dy_c
//   dL/dx_c = rstd * (dxhat_c - mean_j(dxhat_j) - xhat_c * mean_j(dxhat_j xhat_j))
void LayerNormBackward(double* dinp, double* dweight, double* dbias, const double* dout, const double* inp,
                       const double* weight, int N, int C) {
  for (int n = 0; n < N; ++n) {
    const double* x = inp + (size_t)n * C;
    const double* dy = dout + (size_t)n * C;
    double m, s;
    RowMoments(x, C, &m, &s);
    double mean_dxhat = 0.0, mean_dxhat_xhat = 0.0;
    for (int c = 0; c < C; ++c) {
      const double xhat = (x[c] - m) * s;
      mean_dxhat += weight[c] * dy[c];
      mean_dxhat_xhat += weight[c] * dy[c] * xhat;
    }
    mean_dxhat /= C;
    mean_dxhat_xhat /= C;
    for (int c = 0; c < C; ++c) {
      const double xhat = (x[c] - m) * s;
      dinp[(size_t)n * C + c] += s * (weight[c] * dy[c] - mean_dxhat - xhat * mean_dxhat_xhat);
      dweight[c] += xhat * dy[c];
      dbias[c] += dy[c];
    }
  }
}

// ---- matmul ---------------------------------------------------------------

void MatmulForward(double* out, const double* inp, const double* weight, const double* bias, int N, int C,
                   int OC) {
  for (int n = 0; n < N; ++n)
    for (int o = 0; o < OC; ++o) {
      double acc = bias != nullptr ? bias[o] : 0.0;
      for (int c = 0; c < C; ++c) acc += inp[(size_t)n * C + c] * weight[(size_t)o * C + c];
      out[(size_t)n * OC + o] = acc;
    }
}

void MatmulBackward(double* dinp, double* dweight, double* dbias, const double* dout, const double* inp,
                    const double* weight, int N, int C, int OC) {
  for (int n = 0; n < N; ++n)
    for (int o = 0; o < OC; ++o) {
      const double d = dout[(size_t)n * OC + o];
      for (int c = 0; c < C; ++c) {
        if (dinp != nullptr) dinp[(size_t)n * C + c] += d * weight[(size_t)o * C + c];
        if (dweight != nullptr) dweight[(size_t)o * C + c] += d * inp[(size_t)n * C + c];
      }
      if (dbias != nullptr) dbias[o] += d;
    }
}

// ---- attention ------------------------------------------------------------

namespace {
// Probabilities (T,T) of one (batch, head), with the causal mask applied to
// the full score matrix as -inf before a full-row softmax.
void HeadProbabilities(double* p, const double* qkv, int b, int h, int T, int C, int NH) {
  const int hs = C / NH;
  const double scale = 1.0 / std::sqrt((double)hs);
  const double kNegInf = -std::numeric_limits<double>::infinity();
  for (int t = 0; t < T; ++t) {
    const double* q = qkv + ((size_t)b * T + t) * 3 * C + h * hs;
    for (int j = 0; j < T; ++j) {
      const double* k = qkv + ((size_t)b * T + j) * 3 * C + C + h * hs;
      double dot = 0.0;
      for (int i = 0; i < hs; ++i) dot += q[i] * k[i];
      p[(size_t)t * T + j] = j <= t ? dot * scale : kNegInf;
    }
  }
  for (int t = 0; t < T; ++t) {
    double* row = p + (size_t)t * T;
    double maxv = kNegInf;
    for (int j = 0; j < T; ++j) maxv = std::max(maxv, row[j]);
    double sum = 0.0;
    for (int j = 0; j < T; ++j) {
      row[j] = std::exp(row[j] - maxv);  // exp(-inf) = 0
      sum += row[j];
    }
    for (int j = 0; j < T; ++j) row[j] /= sum;
  }
}
}  // namespace

void AttentionForward(double* out, double* att, const double* qkv, int B, int T, int C, int NH) {
  const int hs = C / NH;
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < NH; ++h) {
      double* p = att + ((size_t)b * NH + h) * T * T;
      HeadProbabilities(p, qkv, b, h, T, C, NH);
      for (int t = 0; t < T; ++t)
        for (int i = 0; i < hs; ++i) {
          double acc = 0.0;
          for (int j = 0; j < T; ++j)
            acc += p[(size_t)t * T + j] * qkv[((size_t)b * T + j) * 3 * C + 2 * C + h * hs + i];
          out[((size_t)b * T + t) * C + h * hs + i] = acc;
        }
    }
}

// S = scale Q K^T (masked), P = softmax(S), O = P V:
//   dV = P^T dO;  dP = dO V^T;  dS_tj = P_tj (dP_tj - sum_k P_tk dP_tk)
//   dQ = scale dS K;  dK = scale dS^T Q
void AttentionBackward(double* dqkv, const double* dout, const double* qkv, int B, int T, int C, int NH) {
  const int hs = C / NH;
  const double scale = 1.0 / std::sqrt((double)hs);
  for (size_t i = 0; i < (size_t)B * T * 3 * C; ++i) dqkv[i] = 0.0;
  std::vector<double> p((size_t)T * T), dp((size_t)T * T);
  auto at = [&](auto* base, int b, int t, int part, int h) {
    return base + ((size_t)b * T + t) * 3 * C + part * C + h * hs;
  };
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < NH; ++h) {
      HeadProbabilities(p.data(), qkv, b, h, T, C, NH);
      for (int t = 0; t < T; ++t) {
        const double* d = dout + ((size_t)b * T + t) * C + h * hs;
        for (int j = 0; j < T; ++j) {
          const double* v = at(qkv, b, j, 2, h);
          double acc = 0.0;
          for (int i = 0; i < hs; ++i) acc += d[i] * v[i];
          dp[(size_t)t * T + j] = acc;
          double* dv = at(dqkv, b, j, 2, h);
          for (int i = 0; i < hs; ++i) dv[i] += p[(size_t)t * T + j] * d[i];
        }
        double dot = 0.0;
        for (int j = 0; j < T; ++j) dot += p[(size_t)t * T + j] * dp[(size_t)t * T + j];
        for (int j = 0; j < T; ++j) {
          const double ds = p[(size_t)t * T + j] * (dp[(size_t)t * T + j] - dot);
          const double* q = at(qkv, b, t, 0, h);
          const double* k = at(qkv, b, j, 1, h);
          double* dq = at(dqkv, b, t, 0, h);
          double* dk = at(dqkv, b, j, 1, h);
          for (int i = 0; i < hs; ++i) {
            dq[i] += scale * ds * k[i];
            dk[i] += scale * ds * q[i];
          }
        }
      }
    }
}

// ---- gelu -----------------------------------------------------------------

namespace {
const double kSqrt2OverPi = std::sqrt(2.0 / kPi);
constexpr double kCubic = 0.044715;
}  // namespace

void GeluForward(double* out, const double* inp, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const double x = inp[i];
    out[i] = 0.5 * x * (1.0 + std::tanh(kSqrt2OverPi * (x + kCubic * x * x * x)));
  }
}

// d/dx [0.5 x (1 + tanh u)] = 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) du/dx,
// du/dx = sqrt(2/pi) (1 + 3 * 0.044715 x^2).
void GeluBackward(double* dinp, const double* inp, const double* dout, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const double x = inp[i];
    const double th = std::tanh(kSqrt2OverPi * (x + kCubic * x * x * x));
    const double du = kSqrt2OverPi * (1.0 + 3.0 * kCubic * x * x);
    dinp[i] = (0.5 * (1.0 + th) + 0.5 * x * (1.0 - th * th) * du) * dout[i];
  }
}

// ---- residual -------------------------------------------------------------

void ResidualForward(double* out, const double* a, const double* b, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

// ---- classifier -----------------------------------------------------------

void SoftmaxCrossEntropy(double* losses, double* dlogits, const double* logits, const int* targets, int N,
                         int V, int Vp, double dloss) {
  for (int n = 0; n < N; ++n) {
    const double* row = logits + (size_t)n * Vp;
    double maxv = row[0];
    for (int j = 1; j < V; ++j) maxv = std::max(maxv, row[j]);
    double sum = 0.0;
    for (int j = 0; j < V; ++j) sum += std::exp(row[j] - maxv);
    const double log_z = maxv + std::log(sum);
    losses[n] = log_z - row[targets[n]];
    if (dlogits == nullptr) continue;
    double* d = dlogits + (size_t)n * Vp;
    for (int j = 0; j < V; ++j) d[j] = (std::exp(row[j] - log_z) - (j == targets[n] ? 1.0 : 0.0)) * dloss;
    for (int j = V; j < Vp; ++j) d[j] = 0.0;
  }
}

void SoftmaxRow(double* probs, const double* logits, int V, double temperature) {
  double maxv = logits[0] / temperature;
  for (int j = 1; j < V; ++j) maxv = std::max(maxv, logits[j] / temperature);
  double sum = 0.0;
  for (int j = 0; j < V; ++j) sum += std::exp(logits[j] / temperature - maxv);
  for (int j = 0; j < V; ++j) probs[j] = std::exp(logits[j] / temperature - maxv) / sum;
}

// ---- adamw ----------------------------------------------------------------

// torch.optim.AdamW, single-tensor path:
//   param.mul_(1 - lr * weight_decay)
//   exp_avg.lerp_(grad, 1 - beta1); exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2)
//   denom = exp_avg_sq.sqrt() / sqrt(1 - beta2^t) + eps
//   param.addcdiv_(exp_avg, denom, value=-lr / (1 - beta1^t))
void AdamWUpdate(double* params, const double* grads, double* m, double* v, size_t n, const AdamWParams& hp) {
  const double bc1 = 1.0 - std::pow(hp.beta1, (double)hp.step);
  const double bc2 = 1.0 - std::pow(hp.beta2, (double)hp.step);
  for (size_t i = 0; i < n; ++i) {
    const double g = grads[i] * hp.grad_scale;
    params[i] *= 1.0 - hp.lr * hp.weight_decay;
    m[i] = hp.beta1 * m[i] + (1.0 - hp.beta1) * g;
    v[i] = hp.beta2 * v[i] + (1.0 - hp.beta2) * g * g;
    const double denom = std::sqrt(v[i]) / std::sqrt(bc2) + hp.eps;
    params[i] -= hp.lr / bc1 * m[i] / denom;
  }
}

// ---- reductions -----------------------------------------------------------

void ColumnSumAccumulate(double* out, const double* in, int N, int C) {
  for (int n = 0; n < N; ++n)
    for (int c = 0; c < C; ++c) out[c] += in[(size_t)n * C + c];
}

double SumOfSquares(const double* x, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; ++i) s += x[i] * x[i];
  return s;
}

// ---- finite differences ---------------------------------------------------

std::vector<double> FiniteDifferenceGradient(const std::function<double(const std::vector<double>&)>& f,
                                             std::vector<double> x, double h) {
  std::vector<double> grad(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double x0 = x[i];
    x[i] = x0 + h;
    const double up = f(x);
    x[i] = x0 - h;
    const double down = f(x);
    x[i] = x0;
    grad[i] = (up - down) / (2.0 * h);
  }
  return grad;
}

}  // namespace meridian::ref
