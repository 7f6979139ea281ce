#include "runtime/train/trainer.h"

#include <omp.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>

#include "kernels/cpu/blas.h"
#include "kernels/cpu/reduce.h"
#include "runtime/checkpoint/checkpoint.h"
#include "runtime/checkpoint/llmc_format.h"
#include "runtime/data/byte_tokenizer.h"
#include "runtime/model/flops.h"
#include "runtime/train/progress_line.h"
#include "runtime/train/sampler.h"

namespace meridian {

namespace {

Result<std::unique_ptr<DataLoader>> OpenData(const std::string& pattern, const TrainOptions& o, int vocab) {
  DataLoaderOptions d;
  d.pattern = pattern;
  d.batch = o.batch;
  d.seq = o.seq;
  d.vocab_size = vocab;
  return DataLoader::Open(d);
}

}  // namespace

Result<std::unique_ptr<Trainer>> Trainer::Create(const TrainOptions& options) {
  std::unique_ptr<Trainer> trainer(new Trainer(options));
  MERIDIAN_RETURN_IF_ERROR(trainer->Initialize());
  return trainer;
}

Status Trainer::Initialize() {
  const TrainOptions& o = options_;
  if (o.threads > 0) omp_set_num_threads(o.threads);
  cpu::SetBlasThreads(omp_get_max_threads());

  std::vector<float> initial_params;
  if (!o.init_from.empty()) {
    MERIDIAN_ASSIGN_OR_RETURN(LlmcModel imported, ReadLlmcCheckpoint(o.init_from));
    config_ = imported.config;
    initial_params = std::move(imported.params);
    if (o.seq > config_.max_seq_len)
      return Status::InvalidArgument("--seq " + std::to_string(o.seq) + " exceeds max_seq_len " +
                                     std::to_string(config_.max_seq_len) + " of " + o.init_from);
  } else {
    MERIDIAN_ASSIGN_OR_RETURN(config_, o.ModelConfig());
  }

  model_ = std::make_unique<GPTModel>(config_, WholeModel(config_), o.batch, o.seq);
  if (!initial_params.empty()) {
    std::copy(initial_params.begin(), initial_params.end(), model_->params());
  } else {
    model_->InitializeWeights(o.seed);
  }
  AdamWConfig adam;
  adam.beta1 = o.beta1;
  adam.beta2 = o.beta2;
  adam.eps = o.adam_eps;
  adam.weight_decay = o.weight_decay;
  optimizer_ = std::make_unique<AdamWOptimizer>(model_->layout(), adam);
  schedule_ = LrSchedule{o.lr, o.min_lr, o.warmup, o.steps};

  if (!o.eval_only) {
    MERIDIAN_ASSIGN_OR_RETURN(train_data_, OpenData(o.data, o, config_.vocab_size));
  }
  if (!o.val_data.empty()) {
    MERIDIAN_ASSIGN_OR_RETURN(val_data_, OpenData(o.val_data, o, config_.vocab_size));
  }
  inputs_.resize((size_t)o.batch * o.seq);
  targets_.resize((size_t)o.batch * o.seq);

  if (o.resume) {
    Result<std::string> latest = LatestCheckpoint(o.checkpoint_dir);
    if (latest.ok()) {
      MERIDIAN_RETURN_IF_ERROR(RestoreCheckpoint(*latest));
    } else if (latest.status().code() != Status::Code::kNotFound) {
      return latest.status();
    } else {
      std::fprintf(stderr, "resume: no checkpoint in %s yet; starting fresh\n", o.checkpoint_dir.c_str());
    }
  }
  MERIDIAN_RETURN_IF_ERROR(metrics_.Open(o.metrics_out));
  std::fprintf(stderr, "model %s: %zu parameters | batch %d x seq %d x accum %d | %d threads\n",
               DescribeConfig(config_).c_str(), model_->num_params(), o.batch, o.seq, o.grad_accum,
               omp_get_max_threads());
  return Status::OK();
}

Status Trainer::RestoreCheckpoint(const std::string& path) {
  MERIDIAN_ASSIGN_OR_RETURN(TrainingCheckpoint ckpt, LoadCheckpoint(path));
  const GPTConfig& c = ckpt.config;
  if (c.n_layer != config_.n_layer || c.n_head != config_.n_head || c.n_embd != config_.n_embd ||
      c.vocab_size != config_.vocab_size || c.padded_vocab_size != config_.padded_vocab_size ||
      c.max_seq_len != config_.max_seq_len) {
    return Status::InvalidArgument(path + ": checkpoint model " + DescribeConfig(c) +
                                   " differs from the requested " + DescribeConfig(config_));
  }
  if (ckpt.params.size() != model_->num_params() || ckpt.adam_m.size() != model_->num_params() ||
      ckpt.adam_v.size() != model_->num_params()) {
    return Status::Corruption(path + ": parameter or optimizer state size does not match the model");
  }
  std::copy(ckpt.params.begin(), ckpt.params.end(), model_->params());
  optimizer_->m() = std::move(ckpt.adam_m);
  optimizer_->v() = std::move(ckpt.adam_v);
  optimizer_->set_step(ckpt.step);
  step_ = ckpt.step;
  rng_.set_state(ckpt.rng_state);
  DataPosition pos;
  pos.epoch = ckpt.train_data.epoch;
  pos.shard_index = ckpt.train_data.shard_index;
  pos.token_offset = ckpt.train_data.token_offset;
  if (train_data_) MERIDIAN_RETURN_IF_ERROR(train_data_->Seek(pos));
  std::fprintf(stderr, "resumed from %s at step %ld\n", path.c_str(), step_);
  return Status::OK();
}

Status Trainer::SaveCheckpoint() {
  TrainingCheckpoint ckpt;
  ckpt.config = config_;
  ckpt.step = step_;
  ckpt.params.assign(model_->params(), model_->params() + model_->num_params());
  ckpt.adam_m = optimizer_->m();
  ckpt.adam_v = optimizer_->v();
  const DataPosition pos = train_data_->position();
  ckpt.train_data = DataCursor{pos.epoch, pos.shard_index, pos.token_offset};
  ckpt.rng_state = rng_.state();
  ckpt.extra = {{"data", options_.data}, {"batch", options_.batch}, {"seq", options_.seq},
                {"grad_accum", options_.grad_accum}, {"seed", options_.seed}};
  return meridian::SaveCheckpoint(options_.checkpoint_dir, ckpt);
}

Status Trainer::TrainStep(double* loss, double* grad_norm, float* lr) {
  const TrainOptions& o = options_;
  model_->ZeroGrads();
  model_->set_loss_scale(1.0f / o.grad_accum);
  double loss_sum = 0.0;
  for (int micro = 0; micro < o.grad_accum; ++micro) {
    MERIDIAN_RETURN_IF_ERROR(train_data_->NextBatch(inputs_.data(), targets_.data()));
    model_->Forward(inputs_.data(), nullptr, targets_.data(), o.batch, o.seq, true);
    model_->Backward(nullptr);
    loss_sum += model_->mean_loss();
  }
  *loss = loss_sum / o.grad_accum;
  if (!std::isfinite(*loss)) {
    return Status::Internal("step " + std::to_string(step_ + 1) + ": loss is " + std::to_string(*loss) +
                            " (diverged; lower --lr or raise --warmup)");
  }
  *grad_norm = std::sqrt(cpu::SumOfSquares(model_->grads(), model_->num_params()));
  const float scale =
      (o.grad_clip > 0 && *grad_norm > o.grad_clip) ? (float)(o.grad_clip / *grad_norm) : 1.0f;
  *lr = schedule_.At(step_);
  optimizer_->Step(model_->params(), model_->grads(), *lr, scale);
  ++step_;
  return Status::OK();
}

Result<float> Trainer::Evaluate() {
  if (!val_data_) return Status::FailedPrecondition("evaluation needs --val-data");
  val_data_->Reset();
  double sum = 0.0;
  for (int i = 0; i < options_.eval_batches; ++i) {
    MERIDIAN_RETURN_IF_ERROR(val_data_->NextBatch(inputs_.data(), targets_.data()));
    model_->Forward(inputs_.data(), nullptr, targets_.data(), options_.batch, options_.seq, false);
    sum += model_->mean_loss();
  }
  return (float)(sum / options_.eval_batches);
}

Status Trainer::Run() {
  const TrainOptions& o = options_;
  auto evaluate = [&]() -> Status {
    MERIDIAN_ASSIGN_OR_RETURN(float eval_loss, Evaluate());
    std::fprintf(stderr, "step %ld | eval loss %.4f\n", step_, eval_loss);
    return metrics_.Write({{"step", step_}, {"eval_loss", eval_loss}});
  };
  if (o.eval_only) return evaluate();

  const double tokens_per_step = (double)o.batch * o.seq * o.grad_accum;
  const double flops_per_step = TrainingFlopsPerToken(config_, o.seq) * tokens_per_step;
  ProgressLine progress(isatty(STDERR_FILENO) != 0, o.log_every);
  const long first_step = step_;
  while (step_ < o.steps) {
    const auto t0 = std::chrono::steady_clock::now();
    double loss = 0, grad_norm = 0;
    float lr = 0;
    MERIDIAN_RETURN_IF_ERROR(TrainStep(&loss, &grad_norm, &lr));
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    const double tokens_per_s = tokens_per_step / (ms / 1e3);
    MERIDIAN_RETURN_IF_ERROR(metrics_.Write({{"step", step_},
                                             {"loss", loss},
                                             {"lr", lr},
                                             {"grad_norm", grad_norm},
                                             {"tokens_per_s", tokens_per_s},
                                             {"ms_per_step", ms},
                                             {"gflops", flops_per_step / (ms / 1e3) / 1e9}}));
    progress.Update(step_, o.steps, step_ - first_step, loss, grad_norm, lr, ms, tokens_per_s,
                    flops_per_step / (ms / 1e3) / 1e9);
    const bool last = step_ == o.steps;
    if (val_data_ && ((o.eval_every > 0 && step_ % o.eval_every == 0) || last)) {
      progress.Break();
      MERIDIAN_RETURN_IF_ERROR(evaluate());
    }
    if (!o.checkpoint_dir.empty() && ((o.checkpoint_every > 0 && step_ % o.checkpoint_every == 0) || last)) {
      progress.Break();
      MERIDIAN_RETURN_IF_ERROR(SaveCheckpoint());
    }
  }
  progress.Break();
  if (!o.export_llmc.empty()) {
    MERIDIAN_RETURN_IF_ERROR(WriteLlmcCheckpoint(o.export_llmc, config_, model_->params()));
    std::fprintf(stderr, "exported llm.c checkpoint %s\n", o.export_llmc.c_str());
  }
  if (o.sample > 0) PrintSample();
  return Status::OK();
}

void Trainer::PrintSample() {
  const bool bytes = config_.vocab_size <= 256;
  std::vector<int> tokens;
  if (bytes) {
    for (uint16_t t : ByteTokenizer::Encode(options_.sample_prompt)) tokens.push_back(t);
  }
  if (tokens.empty()) tokens.push_back(0);
  const size_t prompt_len = tokens.size();
  SampleTokens(*model_, tokens, options_.sample, options_.sample_temperature, rng_);
  std::printf("---- sample (%d tokens, temperature %.2f) ----\n", options_.sample, options_.sample_temperature);
  if (bytes) {
    std::vector<uint16_t> out(tokens.begin(), tokens.end());
    std::printf("%s\n", ByteTokenizer::Decode(out).c_str());
  } else {
    for (size_t i = prompt_len; i < tokens.size(); ++i) std::printf("%d ", tokens[i]);
    std::printf("\n");
  }
  std::printf("---- end of sample ----\n");
  std::fflush(stdout);
}

}  // namespace meridian
