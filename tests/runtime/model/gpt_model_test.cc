#include "runtime/model/gpt_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common/random.h"

namespace meridian {
namespace {

GPTConfig Gpt2Tiny() {
  GPTConfig c;
  c.max_seq_len = 16;
  c.vocab_size = 37;         // not a multiple of anything
  c.padded_vocab_size = 48;  // padded rows must stay out of the loss
  c.n_layer = 2;
  c.n_head = 3;
  c.n_embd = 12;
  return c;
}

// Llama with grouped-query attention (4 query heads on 2 key/value heads),
// an MLP width that is no multiple of C, a small rotary base so the angles
// turn fast over a short sequence, and llama3 frequency scaling.
GPTConfig LlamaTiny(bool tied) {
  GPTConfig c = Gpt2Tiny();
  c.arch = ModelArch::kLlama;
  c.n_head = 4;
  c.n_kv_head = 2;
  c.n_embd = 16;
  c.ffn_hidden = 20;
  c.rope_theta = 100.0;
  c.rope_scaling = RopeScaling{4.0, 1.0, 4.0, 8};
  c.tie_embeddings = tied;
  return c;
}

// The model tests run on each architecture.
class ModelByArch : public testing::TestWithParam<const char*> {
 protected:
  GPTConfig TinyConfig() const {
    const std::string arch = GetParam();
    return arch == "gpt2" ? Gpt2Tiny() : LlamaTiny(arch == "llama_tied");
  }
};

INSTANTIATE_TEST_SUITE_P(Archs, ModelByArch, testing::Values("gpt2", "llama_tied", "llama_untied"),
                         [](const testing::TestParamInfo<const char*>& info) { return std::string(info.param); });

GPTConfig TinyConfig() { return Gpt2Tiny(); }

struct Batch {
  std::vector<int> inputs, targets;
};

Batch RandomBatch(const GPTConfig& c, int B, int T, uint64_t seed) {
  Rng rng(seed);
  Batch b;
  for (int i = 0; i < B * T; ++i) {
    b.inputs.push_back((int)(rng.NextU64() % c.vocab_size));
    b.targets.push_back((int)(rng.NextU64() % c.vocab_size));
  }
  return b;
}

// Perturbs every parameter a little so biases and LayerNorm affine terms
// are not at their special initial values (where some gradients vanish).
void Jitter(GPTModel& m, uint64_t seed) {
  Rng rng(seed);
  for (size_t i = 0; i < m.num_params(); ++i) m.params()[i] += (float)(0.05 * rng.Normal());
}

float Loss(GPTModel& m, const Batch& b, int B, int T) {
  m.Forward(b.inputs.data(), nullptr, b.targets.data(), B, T, false);
  return m.mean_loss();
}

TEST_P(ModelByArch, InitialLossIsNearLogVocab) {
  GPTConfig c = TinyConfig();
  GPTModel m(c, WholeModel(c), 2, 8);
  m.InitializeWeights(7);
  Batch b = RandomBatch(c, 2, 8, 3);
  EXPECT_NEAR(Loss(m, b, 2, 8), std::log((float)c.vocab_size), 0.1);
}

TEST(GPTModel, InitializationIsDeterministicAndFollowsGpt2) {
  GPTConfig c = TinyConfig();
  GPTModel a(c, WholeModel(c), 1, 4), b(c, WholeModel(c), 1, 4);
  a.InitializeWeights(11);
  b.InitializeWeights(11);
  ASSERT_EQ(std::vector<float>(a.params(), a.params() + a.num_params()),
            std::vector<float>(b.params(), b.params() + b.num_params()));
  const ParameterLayout& L = a.layout();
  EXPECT_EQ(a.params()[L.tensor(kLn1w).offset], 1.0f);
  EXPECT_EQ(a.params()[L.tensor(kQkvb).offset], 0.0f);
  // Padded vocabulary rows are zero.
  EXPECT_EQ(a.params()[L.tensor(kWte).offset + (size_t)c.vocab_size * c.n_embd], 0.0f);
}

// Directional finite differences: for a random unit direction d inside one
// tensor, (L(p + h d) - L(p - h d)) / 2h must equal grad . d. Projecting on a
// direction keeps the signal far above float32 rounding of the loss.
TEST_P(ModelByArch, GradientsMatchFiniteDifferencesForEveryTensor) {
  GPTConfig c = TinyConfig();
  const int B = 2, T = 5;
  GPTModel m(c, WholeModel(c), B, T);
  m.InitializeWeights(5);
  Jitter(m, 99);
  Batch b = RandomBatch(c, B, T, 17);
  m.ZeroGrads();
  m.Forward(b.inputs.data(), nullptr, b.targets.data(), B, T, true);
  m.Backward(nullptr);
  std::vector<float> grads(m.grads(), m.grads() + m.num_params());

  Rng rng(123);
  for (int index = 0; index < kNumParamTensors; ++index) {
    const ParamTensorInfo& t = m.layout().tensor(index);
    // Padded rows of wte are not part of the function: leave them out of d.
    size_t count = t.count;
    if (count == 0) continue;  // absent in this architecture or stage
    if (index == kWte || index == kLmHead) count = (size_t)c.vocab_size * c.n_embd;
    if (index == kWpe) count = (size_t)T * c.n_embd;  // rows beyond T are unused
    std::vector<double> d(count);
    double norm = 0;
    for (double& x : d) {
      x = rng.Normal();
      norm += x * x;
    }
    // Bias the direction towards the gradient so the derivative is large.
    double gnorm = 0;
    for (size_t i = 0; i < count; ++i) gnorm += (double)grads[t.offset + i] * grads[t.offset + i];
    gnorm = std::sqrt(gnorm) + 1e-30;
    for (size_t i = 0; i < count; ++i) d[i] = d[i] / std::sqrt(norm) + grads[t.offset + i] / gnorm;
    double analytic = 0;
    for (size_t i = 0; i < count; ++i) analytic += grads[t.offset + i] * d[i];

    const double h = 1e-2;
    std::vector<float> saved(m.params() + t.offset, m.params() + t.offset + count);
    for (size_t i = 0; i < count; ++i) m.params()[t.offset + i] = (float)(saved[i] + h * d[i]);
    const double plus = Loss(m, b, B, T);
    for (size_t i = 0; i < count; ++i) m.params()[t.offset + i] = (float)(saved[i] - h * d[i]);
    const double minus = Loss(m, b, B, T);
    std::copy(saved.begin(), saved.end(), m.params() + t.offset);
    const double numeric = (plus - minus) / (2 * h);
    EXPECT_NEAR(numeric, analytic, 2e-2 * std::fabs(analytic) + 2e-4) << "tensor " << t.name;
  }
}

TEST_P(ModelByArch, PaddedVocabularyRowsGetNoGradient) {
  GPTConfig c = TinyConfig();
  GPTModel m(c, WholeModel(c), 2, 4);
  m.InitializeWeights(1);
  Jitter(m, 2);
  Batch b = RandomBatch(c, 2, 4, 3);
  m.ZeroGrads();
  m.Forward(b.inputs.data(), nullptr, b.targets.data(), 2, 4, true);
  m.Backward(nullptr);
  for (int index : {kWte, kLmHead}) {
    const ParamTensorInfo& t = m.layout().tensor(index);
    for (size_t i = (size_t)c.vocab_size * c.n_embd; i < t.count; ++i)
      ASSERT_EQ(m.grads()[t.offset + i], 0.0f) << t.name << " padded element " << i;
  }
}

TEST_P(ModelByArch, GradientsAccumulateAcrossBackwardCalls) {
  GPTConfig c = TinyConfig();
  GPTModel m(c, WholeModel(c), 2, 4);
  m.InitializeWeights(1);
  Batch b = RandomBatch(c, 2, 4, 3);
  m.ZeroGrads();
  m.Forward(b.inputs.data(), nullptr, b.targets.data(), 2, 4, true);
  m.Backward(nullptr);
  std::vector<float> once(m.grads(), m.grads() + m.num_params());
  m.Forward(b.inputs.data(), nullptr, b.targets.data(), 2, 4, true);
  m.Backward(nullptr);
  for (size_t i = 0; i < once.size(); i += 97) ASSERT_NEAR(m.grads()[i], 2 * once[i], 1e-6 + 1e-5 * std::fabs(once[i]));
}

// A two-stage split computes what the whole model computes: the first
// stage's output fed to the last stage gives the same loss and gradients.
TEST_P(ModelByArch, TwoStagesComposeToTheWholeModel) {
  GPTConfig c = TinyConfig();
  const int B = 2, T = 6;
  Batch b = RandomBatch(c, B, T, 8);
  GPTModel whole(c, WholeModel(c), B, T);
  whole.InitializeWeights(21);
  GPTModel s0(c, StageSpec{0, 1, true, false}, B, T), s1(c, StageSpec{1, 2, false, true}, B, T);
  s0.InitializeWeights(21);
  s1.InitializeWeights(21);

  whole.ZeroGrads();
  whole.Forward(b.inputs.data(), nullptr, b.targets.data(), B, T, true);
  whole.Backward(nullptr);
  s0.ZeroGrads();
  s1.ZeroGrads();
  s0.Forward(b.inputs.data(), nullptr, nullptr, B, T, true);
  s1.Forward(nullptr, s0.output_acts(), b.targets.data(), B, T, true);
  s1.Backward(nullptr);
  s0.Backward(s1.dinput());
  EXPECT_FLOAT_EQ(s1.mean_loss(), whole.mean_loss());

  // Layer 1's qkvw: stage 1's local layer 0 is the whole model's layer 1.
  const size_t n = whole.layout().LayerCount(kQkvw);
  for (size_t i = 0; i < n; ++i) {
    ASSERT_EQ(s1.params()[s1.layout().LayerOffset(kQkvw, 0) + i], whole.params()[whole.layout().LayerOffset(kQkvw, 1) + i]);
    ASSERT_NEAR(s1.grads()[s1.layout().LayerOffset(kQkvw, 0) + i], whole.grads()[whole.layout().LayerOffset(kQkvw, 1) + i], 1e-6);
    ASSERT_NEAR(s0.grads()[s0.layout().LayerOffset(kQkvw, 0) + i], whole.grads()[whole.layout().LayerOffset(kQkvw, 0) + i], 1e-6);
  }
  // A tied embedding's gradient is the sum of both stages' parts; an untied
  // head lives on the last stage alone.
  const size_t wte = whole.layout().tensor(kWte).offset;
  const bool tied = c.tie_embeddings;
  for (size_t i = 0; i < whole.layout().tensor(kWte).count; i += 7)
    ASSERT_NEAR(s0.grads()[s0.layout().tensor(kWte).offset + i] +
                    (tied ? s1.grads()[s1.layout().tensor(kWte).offset + i] : 0.0f),
                whole.grads()[wte + i], 1e-6);
  EXPECT_EQ(s1.layout().tensor(kWte).count == 0, !tied);
  EXPECT_EQ(s1.layout().tensor(kLmHead).count, whole.layout().tensor(kLmHead).count);
  for (size_t i = 0; i < whole.layout().tensor(kLmHead).count; i += 7)
    ASSERT_NEAR(s1.grads()[s1.layout().tensor(kLmHead).offset + i],
                whole.grads()[whole.layout().tensor(kLmHead).offset + i], 1e-6);
}

// A pipeline runs several forwards before their backwards; each slot must
// keep its own activations so the result equals running them one by one.
TEST_P(ModelByArch, ActivationSlotsKeepMicroBatchesApart) {
  GPTConfig c = TinyConfig();
  const int B = 2, T = 4;
  Batch a = RandomBatch(c, B, T, 1), b = RandomBatch(c, B, T, 2);
  GPTModel one(c, WholeModel(c), B, T), two(c, WholeModel(c), B, T, 2);
  one.InitializeWeights(9);
  two.InitializeWeights(9);
  one.ZeroGrads();
  two.ZeroGrads();
  for (const Batch* x : {&a, &b}) {
    one.Forward(x->inputs.data(), nullptr, x->targets.data(), B, T, true);
    one.Backward(nullptr);
  }
  two.Forward(a.inputs.data(), nullptr, a.targets.data(), B, T, true, 0);
  two.Forward(b.inputs.data(), nullptr, b.targets.data(), B, T, true, 1);
  two.Backward(nullptr, 0);
  two.Backward(nullptr, 1);
  EXPECT_EQ(std::vector<float>(one.grads(), one.grads() + one.num_params()),
            std::vector<float>(two.grads(), two.grads() + two.num_params()));
}

TEST_P(ModelByArch, BackwardHookSeesEveryLayerThenTheEnd) {
  GPTConfig c = TinyConfig();
  GPTModel m(c, WholeModel(c), 1, 4);
  m.InitializeWeights(1);
  Batch b = RandomBatch(c, 1, 4, 3);
  std::vector<int> seen;
  m.set_backward_hook([&](int layer) { seen.push_back(layer); });
  m.Forward(b.inputs.data(), nullptr, b.targets.data(), 1, 4, true);
  m.Backward(nullptr);
  EXPECT_EQ(seen, (std::vector<int>{1, 0, -1}));
}

TEST_P(ModelByArch, ForwardIsDeterministicForAFixedThreadCount) {
  GPTConfig c = TinyConfig();
  GPTModel m(c, WholeModel(c), 2, 8);
  m.InitializeWeights(3);
  Batch b = RandomBatch(c, 2, 8, 4);
  m.ZeroGrads();
  m.Forward(b.inputs.data(), nullptr, b.targets.data(), 2, 8, true);
  m.Backward(nullptr);
  std::vector<float> g1(m.grads(), m.grads() + m.num_params());
  const float l1 = m.mean_loss();
  m.ZeroGrads();
  m.Forward(b.inputs.data(), nullptr, b.targets.data(), 2, 8, true);
  m.Backward(nullptr);
  EXPECT_EQ(l1, m.mean_loss());
  EXPECT_EQ(g1, std::vector<float>(m.grads(), m.grads() + m.num_params()));
}

}  // namespace
}  // namespace meridian
