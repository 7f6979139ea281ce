#include "runtime/train/sampler.h"

#include <algorithm>

#include "kernels/cpu/classifier.h"

namespace meridian {

void SampleTokens(GPTModel& model, std::vector<int>& tokens, int count, float temperature, Rng& rng) {
  const GPTConfig& c = model.config();
  std::vector<float> probs(c.vocab_size);
  for (int i = 0; i < count; ++i) {
    const int T = std::min<int>((int)tokens.size(), model.max_seq());
    const int* context = tokens.data() + tokens.size() - T;
    // Re-running the whole window per token is quadratic, but the sample is
    // a few hundred tokens of a small model: simpler than a KV cache here.
    model.Forward(context, nullptr, nullptr, 1, T, false);
    const float* last = model.logits() + (size_t)(T - 1) * c.padded_vocab_size;
    cpu::SoftmaxRow(probs.data(), last, c.vocab_size, temperature);
    const double u = rng.Uniform();
    double cdf = 0.0;
    int next = c.vocab_size - 1;
    for (int j = 0; j < c.vocab_size; ++j) {
      cdf += probs[j];
      if (u < cdf) {
        next = j;
        break;
      }
    }
    tokens.push_back(next);
  }
}

std::string ChooseTokenizer(const std::string& option, const std::string& recorded, int vocab_size) {
  if (option != "auto") return option;
  if (!recorded.empty()) return recorded;
  if (vocab_size == 50257) return "gpt2";
  if (vocab_size == 128256) return "llama3";
  if (vocab_size <= 256) return "bytes";
  return "";
}

void WriteSample(GPTModel& model, const Tokenizer* tokenizer, const SampleRequest& request, Rng& rng,
                 std::FILE* out) {
  std::vector<int> tokens;
  if (tokenizer != nullptr) {
    for (uint32_t t : tokenizer->Encode(request.prompt)) tokens.push_back(static_cast<int>(t));
  }
  // An empty prompt starts where a document starts: <|endoftext|> for gpt2,
  // <|begin_of_text|> for llama3.
  if (tokens.empty()) {
    tokens.push_back(tokenizer != nullptr && tokenizer->document_start()
                         ? static_cast<int>(*tokenizer->document_start())
                         : 0);
  }
  const size_t prompt_len = tokens.size();
  SampleTokens(model, tokens, request.count, request.temperature, rng);
  std::fprintf(out, "---- sample (%d tokens, temperature %.2f) ----\n", request.count, request.temperature);
  if (tokenizer != nullptr) {
    const std::vector<uint32_t> ids(tokens.begin(), tokens.end());
    std::fprintf(out, "%s\n", tokenizer->Decode(ids).c_str());
  } else {
    for (size_t i = prompt_len; i < tokens.size(); ++i) std::fprintf(out, "%d ", tokens[i]);
    std::fprintf(out, "\n");
  }
  std::fprintf(out, "---- end of sample ----\n");
  std::fflush(out);
}

}  // namespace meridian
