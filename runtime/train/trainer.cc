#include "runtime/train/trainer.h"

#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "kernels/cpu/blas.h"
#include "kernels/cpu/reduce.h"
#include "runtime/checkpoint/checkpoint.h"
#include "runtime/checkpoint/hf_gpt2.h"
#include "runtime/checkpoint/llmc_format.h"
#include "runtime/checkpoint/model_import.h"
#include "runtime/comm/watchdog.h"
#include "runtime/model/flops.h"
#include "runtime/parallel/stage_params.h"
#include "runtime/train/device_stage_executor.h"
#include "runtime/train/progress_line.h"
#include "runtime/train/sampler.h"

namespace meridian {

Result<std::unique_ptr<Trainer>> Trainer::Create(const TrainOptions& options, Communicator* world) {
  std::unique_ptr<Trainer> trainer(new Trainer(options, world));
  MERIDIAN_RETURN_IF_ERROR(trainer->Initialize());
  return trainer;
}

Status Trainer::Initialize() {
  const TrainOptions& o = options_;
  if (o.threads > 0) omp_set_num_threads(o.threads);
  cpu::SetBlasThreads(omp_get_max_threads());
  SetCommTimeout(o.comm_timeout);

  std::vector<float> initial_params;
  if (!o.init_from.empty()) {
    MERIDIAN_ASSIGN_OR_RETURN(LlmcModel imported, ReadModelWeights(o.init_from));
    config_ = imported.config;
    initial_params = std::move(imported.params);
    if (o.seq > config_.max_seq_len)
      return Status::InvalidArgument("--seq " + std::to_string(o.seq) + " exceeds max_seq_len " +
                                     std::to_string(config_.max_seq_len) + " of " + o.init_from);
  } else {
    MERIDIAN_ASSIGN_OR_RETURN(config_, o.ModelConfig());
  }
  MERIDIAN_RETURN_IF_ERROR(InitializeParallelism());

  if (!initial_params.empty()) {
    CopyWholeToStage(ParameterLayout(config_, WholeModel(config_)), initial_params.data(), model_->layout(),
                     model_->params());
  } else {
    model_->InitializeWeights(o.seed);  // every stage draws its layers' own streams
  }
  schedule_ = LrSchedule{o.lr, o.min_lr, o.warmup, o.steps};

  // The first stage needs inputs and the last targets; both read the same
  // micro-batches of their replica's slice.
  const StageSpec& stage = model_->layout().stage();
  auto open = [&](const std::string& pattern) {
    DataLoaderOptions d;
    d.pattern = pattern;
    d.batch = o.batch;
    d.seq = o.seq;
    d.vocab_size = config_.vocab_size;
    d.process_rank = groups_.dp_index;
    d.num_processes = layout_.dp;
    return DataLoader::Open(d);
  };
  if (stage.first || stage.last) {
    if (!o.eval_only) {
      MERIDIAN_ASSIGN_OR_RETURN(train_data_, open(o.data));
    }
    if (!o.val_data.empty()) {
      MERIDIAN_ASSIGN_OR_RETURN(val_data_, open(o.val_data));
    }
  }

  if (!o.checkpoint_dir.empty()) {
    CheckpointerOptions c;
    c.dir = o.checkpoint_dir;
    c.sharded = o.checkpoint_format == "sharded";
    c.keep_last = o.keep_last;
    c.publish_timeout_s = o.comm_timeout;
    MERIDIAN_ASSIGN_OR_RETURN(checkpointer_,
                              Checkpointer::Create(c, ParameterLayout(config_, WholeModel(config_)), model_->layout(),
                                                   world_));
  }
  if (o.resume) {
    Result<std::string> restored =
        checkpointer_->RestoreNewest([this](CheckpointReader& reader) { return RestoreCheckpoint(reader); });
    if (restored.ok()) {
      if (is_root()) std::fprintf(stderr, "resumed from %s at step %ld\n", restored->c_str(), step_);
    } else if (restored.status().code() != Status::Code::kNotFound) {
      return restored.status();
    } else if (is_root()) {
      std::fprintf(stderr, "resume: no checkpoint in %s yet; starting fresh\n", o.checkpoint_dir.c_str());
    }
  }
  MERIDIAN_RETURN_IF_ERROR(ChooseTextTokenizer());
  if (device_) {
    MERIDIAN_RETURN_IF_ERROR(device_->Upload(model_->params(), optimizer_->m().data(), optimizer_->v().data()));
    device_->set_backward_hook([this](int layer) {
      if (sync_in_backward_) sync_->OnGradientsReady(grads(), layer);
    });
  }
  // A DiLoCo round starts from the weights training starts from.
  if (DilocoOuterOptimizer* outer = sync_->diloco()) outer->StartRound(model_->params());
  if (is_root()) {
    MERIDIAN_RETURN_IF_ERROR(metrics_.Open(o.metrics_out));
    metrics_.SetAttempt(o.attempt);
    MERIDIAN_RETURN_IF_ERROR(metrics_.OpenTensorBoard(o.tensorboard));
    std::fprintf(stderr, "model %s: %zu parameters | batch %d x seq %d x %d micro-batches x dp %d | %d threads\n",
                 DescribeConfig(config_).c_str(), NumParameters(config_), o.batch, o.seq, microbatches_, layout_.dp,
                 omp_get_max_threads());
    if (device_) {
      std::fprintf(stderr, "this rank: %s | weights, gradients and AdamW state %.1f MiB, activations %.1f MiB\n",
                   device_->Describe().c_str(), device_->state_bytes() / 1048576.0,
                   device_->activation_bytes() / 1048576.0);
    } else {
      std::fprintf(stderr, "this rank: stage %d, %zu parameters, AdamW state %.1f MiB%s, activations %.1f MiB\n",
                   groups_.stage, model_->num_params(), optimizer_->state_bytes() / 1048576.0,
                   o.zero == 1 ? " (ZeRO-1 shard)" : "", model_->activation_bytes() / 1048576.0);
    }
    if (layout_.world() > 1) {
      std::fprintf(stderr, "layout %s | %s schedule | ZeRO-%d | stages:", layout_.ToString().c_str(),
                   o.pp_schedule.c_str(), o.zero);
      for (const StageSpec& s : stages_) std::fprintf(stderr, " [%d,%d)", s.layer_begin, s.layer_end);
      std::fprintf(stderr, "\n");
    }
  }
  return Status::OK();
}

Status Trainer::InitializeParallelism() {
  const TrainOptions& o = options_;
  layout_.pp = o.pp;
  layout_.dp = o.dp > 0 ? o.dp : std::max(1, world_->size() / o.pp);
  MERIDIAN_RETURN_IF_ERROR(ValidateLayout(layout_, world_->size(), config_.n_layer));
  MERIDIAN_ASSIGN_OR_RETURN(DataCenterMap data_centers, ParsePools(o.pools, world_->size()));
  MERIDIAN_ASSIGN_OR_RETURN(groups_, BuildProcessGroups(world_, layout_, data_centers));
  traffic_ = TrafficCounter(data_centers.rank_to_dc);
  stages_ = PartitionLayers(config_, layout_.pp, o.seq);
  const StageSpec& mine = stages_[groups_.stage];
  if (o.assigned_layer_begin >= 0 &&
      (mine.layer_begin != o.assigned_layer_begin || mine.layer_end != o.assigned_layer_end)) {
    return Status::FailedPrecondition(
        "rank " + std::to_string(world_->rank()) + ": the scheduler assigned layers [" +
        std::to_string(o.assigned_layer_begin) + "," + std::to_string(o.assigned_layer_end) + ") but stage " +
        std::to_string(groups_.stage) + " of this layout holds [" + std::to_string(mine.layer_begin) + "," +
        std::to_string(mine.layer_end) + ")");
  }
  MERIDIAN_ASSIGN_OR_RETURN(microbatches_, o.MicroBatches(layout_.dp));
  MERIDIAN_ASSIGN_OR_RETURN(PipelineScheduleKind kind, ParsePipelineSchedule(o.pp_schedule));
  const bool gpu = o.device == "cuda";
  // With one stage 1F1B and GPipe give the same gradients, and 1F1B keeps
  // one micro-batch's activations instead of all of them: on a GPU that
  // memory is the scarce part.
  if (gpu && layout_.pp == 1) kind = PipelineScheduleKind::k1F1B;
  const int slots = PipelineSlots(kind, groups_.stage, layout_.pp, std::max(microbatches_, o.eval_batches));
  // On a GPU the host model is a parameter-only mirror (no activations).
  model_ = std::make_unique<GPTModel>(config_, stages_[groups_.stage], gpu ? 0 : o.batch, gpu ? 0 : o.seq,
                                      gpu ? 0 : slots);
  if (gpu) {
    DeviceStepOptions d;
    d.dtype = o.dtype;
    d.max_batch = o.batch;
    d.max_seq = o.seq;
    d.stage = stages_[groups_.stage];  // the CPU stage's layout, so sync and checkpoints address it alike
    d.slots = slots;
    d.adam = AdamWConfig{o.beta1, o.beta2, o.adam_eps, o.weight_decay};
    MERIDIAN_ASSIGN_OR_RETURN(device_, CreateCudaStep(config_, d));
    executor_ = DeviceStageExecutor(device_.get(), o.batch, o.seq);
  } else {
    executor_ = CpuStageExecutor(model_.get(), o.batch, o.seq);
  }
  pipeline_ = std::make_unique<PipelineRunner>(executor_.get(), groups_.pp.get(), kind, microbatches_, o.batch, o.seq);

  AdamWConfig adam;
  adam.beta1 = o.beta1;
  adam.beta2 = o.beta2;
  adam.eps = o.adam_eps;
  adam.weight_decay = o.weight_decay;
  GradientSyncOptions sync;
  MERIDIAN_ASSIGN_OR_RETURN(sync.mode, ParseDpSync(o.dp_sync));
  sync.zero1 = o.zero == 1;
  sync.bucket_bytes = (size_t)(o.bucket_mb * 1024 * 1024);
  sync.overlap = !o.no_overlap;
  MERIDIAN_ASSIGN_OR_RETURN(Compression compress, ParseCompression(o.outer_compress));
  sync.diloco = DilocoConfig{o.diloco_h, o.outer_lr, o.outer_momentum, compress};
  MERIDIAN_ASSIGN_OR_RETURN(sync_, GradientSync::Create(sync, &groups_, model_->layout(), layout_.dp, &traffic_));
  model_->set_backward_hook([this](int layer) {
    if (sync_in_backward_) sync_->OnGradientsReady(grads(), layer);
  });
  optimizer_ = std::make_unique<AdamWOptimizer>(model_->layout(), adam, sync_->shard_begin(), sync_->shard_end());
  state_ = std::make_unique<DistributedState>(config_, layout_, stages_, groups_, data_centers, model_.get(),
                                              optimizer_.get(), sync_.get());
  if (device_) {
    // The world carries device buffers (NCCL); the gathered host copies of
    // the stages cross it through the GPU.
    state_->set_host_transfer(
        [this](const float* host, size_t n, int peer, int tag) {
          return device_->SendHost(groups_.world, host, n, peer, tag);
        },
        [this](float* host, size_t n, int peer, int tag) {
          return device_->RecvHost(groups_.world, host, n, peer, tag);
        });
  }
  return Status::OK();
}

PipelineRunner::FetchFn Trainer::Fetcher(DataLoader* loader) {
  return [loader](int, int* inputs, int* targets) { return loader->NextBatch(inputs, targets); };
}

Status Trainer::SynchronizeGradients() {
  MERIDIAN_RETURN_IF_ERROR(sync_->Finish(grads()));
  last_exposed_comm_s_ = sync_->exposed_wait_s();
  return Status::OK();
}

Result<double> Trainer::GlobalGradNorm() {
  // Sum of squares over the gradients this rank is the owner of: its ZeRO
  // shard, or (without ZeRO, where replicas hold equal gradients) its stage
  // on replica 0 only. The last stage skips the tied embedding when the
  // first stage also holds it, so it counts once.
  // The GPU stage's gradients stay on the device; only the sums come back.
  double local = 0.0;
  const size_t shard_begin = sync_->shard_begin(), shard_end = sync_->shard_end();
  {
    size_t skip_begin = 0, skip_end = 0;
    const StageSpec& s = model_->layout().stage();
    if (s.last && !s.first) {
      skip_begin = model_->layout().tensor(kWte).offset;
      skip_end = skip_begin + model_->layout().tensor(kWte).count;
    }
    auto add = [&](size_t lo, size_t hi) -> Status {
      if (lo >= hi) return Status::OK();
      if (!device_) {
        local += cpu::SumOfSquares(model_->grads() + lo, hi - lo);
        return Status::OK();
      }
      MERIDIAN_ASSIGN_OR_RETURN(double sum, device_->GradSumOfSquares(lo, hi));
      local += sum;
      return Status::OK();
    };
    MERIDIAN_RETURN_IF_ERROR(add(shard_begin, std::min(shard_end, std::max(shard_begin, skip_begin))));
    MERIDIAN_RETURN_IF_ERROR(add(std::max(shard_begin, skip_end), shard_end));
  }
  MERIDIAN_RETURN_IF_ERROR(sync_->norm_group()->AllReduceDouble(&local, 1, ReduceOp::kSum));
  return std::sqrt(local);
}

Status Trainer::OptimizerStep(float lr, float grad_scale) {
  if (device_) {
    optimizer_->set_step(optimizer_->step() + 1);
    return device_->OptimizerStep(lr, grad_scale, optimizer_->step());
  }
  optimizer_->Step(model_->params(), model_->grads(), lr, grad_scale);
  return sync_->AfterOptimizerStep(model_->params());
}

// Fault injection for the failure tests: MERIDIAN_FAULT_STALL="RANK:STEP"
// makes world rank RANK hang at the start of step STEP (the watchdog must
// end the job); MERIDIAN_FAULT_FAIL="RANK:STEP" makes it fail there with an
// error (the job must end at once, not when the watchdog fires). A third
// field, ":ATTEMPT", limits the fault to that launch of a scheduled job, so
// the restarted job gets past the step.
struct Fault {
  int rank = -1;
  long step = -1;
  int attempt = 0;  // 0: every attempt
};

// Read once: the check runs at every step.
Fault FaultFromEnvironment(const char* variable) {
  Fault f;
  const char* spec = std::getenv(variable);
  if (spec == nullptr || std::sscanf(spec, "%d:%ld:%d", &f.rank, &f.step, &f.attempt) < 2) return Fault{};
  return f;
}

bool FaultAt(const Fault& fault, int rank, long step, int attempt) {
  return fault.rank == rank && fault.step == step && (fault.attempt == 0 || fault.attempt == attempt);
}

Status MaybeInjectFault(int rank, long step, int attempt) {
  static const Fault fail = FaultFromEnvironment("MERIDIAN_FAULT_FAIL");
  static const Fault stall = FaultFromEnvironment("MERIDIAN_FAULT_STALL");
  if (FaultAt(fail, rank, step, attempt))
    return Status::Internal("MERIDIAN_FAULT_FAIL: rank " + std::to_string(rank) + " fails at step " + std::to_string(step));
  if (!FaultAt(stall, rank, step, attempt)) return Status::OK();
  std::fprintf(stderr, "[rank %d] MERIDIAN_FAULT_STALL: stalling at step %ld\n", rank, step);
  for (;;) sleep(60);
}

Status Trainer::TrainStep(double* loss, double* grad_norm, float* lr) {
  SetCommContext("step " + std::to_string(step_ + 1));
  MERIDIAN_RETURN_IF_ERROR(MaybeInjectFault(world_->rank(), step_ + 1, options_.attempt));
  double loss_sum = 0.0;
  MERIDIAN_RETURN_IF_ERROR(executor_->ZeroGrads());
  executor_->set_loss_scale(1.0f / microbatches_);
  MERIDIAN_RETURN_IF_ERROR(pipeline_->RunStep(
      Fetcher(train_data_.get()),
      // Gradients are final only in the last micro-batch's backward: start
      // the overlapped all-reduce there (like DDP's no_sync before it).
      [this](int microbatch) { sync_in_backward_ = microbatch == microbatches_ - 1; }, &loss_sum));
  last_compute_s_ = pipeline_->compute_s();
  sync_in_backward_ = false;
  MERIDIAN_RETURN_IF_ERROR(SynchronizeGradients());

  // Global mean loss: each replica's last stage contributes its mean.
  double contribution = model_->layout().stage().last ? loss_sum / microbatches_ / layout_.dp : 0.0;
  MERIDIAN_RETURN_IF_ERROR(world_->AllReduceDouble(&contribution, 1, ReduceOp::kSum));
  *loss = contribution;
  if (!std::isfinite(*loss)) {
    return Status::Internal("step " + std::to_string(step_ + 1) + ": loss is " + std::to_string(*loss) +
                            " (diverged; lower --lr or raise --warmup)");
  }
  MERIDIAN_ASSIGN_OR_RETURN(*grad_norm, GlobalGradNorm());
  const float scale =
      (options_.grad_clip > 0 && *grad_norm > options_.grad_clip) ? (float)(options_.grad_clip / *grad_norm) : 1.0f;
  *lr = schedule_.At(step_);
  MERIDIAN_RETURN_IF_ERROR(OptimizerStep(*lr, scale));
  ++step_;
  return sync_->AfterStep(step_, model_->params());
}

Result<float> Trainer::Evaluate() {
  if (options_.val_data.empty()) return Status::FailedPrecondition("evaluation needs --val-data");
  SetCommContext("evaluation after step " + std::to_string(step_));
  if (val_data_) val_data_->Reset();
  double loss_sum = 0.0;
  MERIDIAN_RETURN_IF_ERROR(pipeline_->RunForwardOnly(Fetcher(val_data_.get()), options_.eval_batches, &loss_sum));
  double contribution =
      model_->layout().stage().last ? loss_sum / options_.eval_batches / layout_.dp : 0.0;
  MERIDIAN_RETURN_IF_ERROR(world_->AllReduceDouble(&contribution, 1, ReduceOp::kSum));
  return (float)contribution;
}

Status Trainer::GatherWholeModel(bool with_optimizer, TrainingCheckpoint* out) {
  MERIDIAN_RETURN_IF_ERROR(SyncHostCopy(with_optimizer));
  return state_->GatherWhole(with_optimizer, out);
}

Status Trainer::SyncHostCopy(bool with_optimizer) {
  if (!device_) return Status::OK();
  // The host mirror catches up with the GPU's weights (and moments).
  return device_->Download(model_->params(), with_optimizer ? optimizer_->m().data() : nullptr,
                           with_optimizer ? optimizer_->v().data() : nullptr);
}

CheckpointHeader Trainer::Header() const {
  CheckpointHeader h;
  h.config = config_;
  h.step = step_;
  if (train_data_) {
    const DataPosition pos = train_data_->position();
    h.train_data = DataCursor{pos.epoch, pos.shard_index, pos.token_offset};
  }
  h.rng_state = rng_.state();
  h.extra = {{"data", options_.data}, {"batch", options_.batch}, {"seq", options_.seq},
             {"microbatches", microbatches_}, {"seed", options_.seed}, {"dp", layout_.dp},
             {"pp", layout_.pp}, {"zero", options_.zero}};
  if (!tokenizer_name_.empty()) h.extra["tokenizer"] = tokenizer_name_;
  h.arrays = state_->ArrayNames();
  return h;
}

Status Trainer::SaveCheckpoint() {
  SetCommContext("checkpoint at step " + std::to_string(step_));
  MERIDIAN_RETURN_IF_ERROR(SyncHostCopy(true));
  return checkpointer_->Save(Header(), state_->HeldArrays(),
                             [this](TrainingCheckpoint* whole) { return state_->GatherWhole(true, whole); });
}

Status Trainer::RestoreCheckpoint(CheckpointReader& reader) {
  MERIDIAN_RETURN_IF_ERROR(state_->Restore(reader, *checkpointer_));
  const CheckpointHeader& h = reader.header();
  step_ = h.step;
  rng_.set_state(h.rng_state);
  if (h.extra.is_object() && h.extra.value("tokenizer", nlohmann::json()).is_string())
    tokenizer_name_ = h.extra["tokenizer"].get<std::string>();
  DataPosition pos;
  pos.epoch = h.train_data.epoch;
  pos.shard_index = h.train_data.shard_index;
  pos.token_offset = h.train_data.token_offset;
  if (train_data_) MERIDIAN_RETURN_IF_ERROR(train_data_->Seek(pos));
  return Status::OK();
}

Status Trainer::Run() {
  const TrainOptions& o = options_;
  auto evaluate = [&]() -> Status {
    MERIDIAN_ASSIGN_OR_RETURN(float eval_loss, Evaluate());
    if (is_root()) std::fprintf(stderr, "step %ld | eval loss %.4f\n", step_, eval_loss);
    if (is_root() && progress_fn_) progress_fn_(step_, last_loss_, last_tokens_per_s_, eval_loss);
    return metrics_.Write({{"step", step_}, {"eval_loss", eval_loss}});
  };
  if (o.eval_only) return evaluate();

  const double tokens_per_step = (double)o.batch * o.seq * microbatches_ * layout_.dp;
  const double flops_per_step = TrainingFlopsPerToken(config_, o.seq) * tokens_per_step;
  ProgressLine progress(is_root() && isatty(STDERR_FILENO) != 0, is_root() ? o.log_every : 0, is_root());
  const long first_step = step_;
  while (step_ < o.steps) {
    const auto t0 = std::chrono::steady_clock::now();
    double loss = 0, grad_norm = 0;
    float lr = 0;
    MERIDIAN_RETURN_IF_ERROR(TrainStep(&loss, &grad_norm, &lr));
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    const double tokens_per_s = tokens_per_step / (ms / 1e3);
    nlohmann::json record = {{"step", step_},
                             {"loss", loss},
                             {"lr", lr},
                             {"grad_norm", grad_norm},
                             {"tokens_per_s", tokens_per_s},
                             {"ms_per_step", ms},
                             {"gflops", flops_per_step / (ms / 1e3) / 1e9}};
    // MFU as PaLM counts it: the model's FLOPs per second over the peak of
    // every rank's device.
    if (o.peak_tflops > 0) record["mfu"] = flops_per_step / (ms / 1e3) / (o.peak_tflops * 1e12 * layout_.world());
    if (layout_.world() > 1) {
      double bytes[2] = {traffic_.intra_dc(), traffic_.inter_dc()};
      MERIDIAN_RETURN_IF_ERROR(world_->AllReduceDouble(bytes, 2, ReduceOp::kSum));
      traffic_.Reset();
      record["bytes_intra_dc"] = bytes[0];
      record["bytes_inter_dc"] = bytes[1];
      record["compute_ms"] = last_compute_s_ * 1e3;
      record["exposed_allreduce_ms"] = last_exposed_comm_s_ * 1e3;
    }
    MERIDIAN_RETURN_IF_ERROR(metrics_.Write(std::move(record)));
    last_loss_ = loss;
    last_tokens_per_s_ = tokens_per_s;
    if (is_root() && progress_fn_) progress_fn_(step_, loss, tokens_per_s, 0.0);
    progress.Update(step_, o.steps, step_ - first_step, loss, grad_norm, lr, ms, tokens_per_s,
                    flops_per_step / (ms / 1e3) / 1e9);
    const bool last = step_ == o.steps;
    if (!o.val_data.empty() && ((o.eval_every > 0 && step_ % o.eval_every == 0) || last)) {
      progress.Break();
      MERIDIAN_RETURN_IF_ERROR(evaluate());
    }
    // Under diloco the data centers agree on the weights only at the end of
    // a round, so checkpoints are taken there.
    const bool consistent = sync_->WeightsAgreeAfter(step_);
    if (!o.checkpoint_dir.empty() && consistent &&
        ((o.checkpoint_every > 0 && step_ % o.checkpoint_every == 0) || last)) {
      progress.Break();
      MERIDIAN_RETURN_IF_ERROR(SaveCheckpoint());
    }
  }
  progress.Break();
  // The last checkpoint is published before the run counts as done.
  if (checkpointer_) MERIDIAN_RETURN_IF_ERROR(checkpointer_->Wait());
  if (!o.export_llmc.empty() || !o.export_hf.empty()) {
    TrainingCheckpoint whole;
    MERIDIAN_RETURN_IF_ERROR(GatherWholeModel(false, &whole));
    if (is_root() && !o.export_llmc.empty()) {
      MERIDIAN_RETURN_IF_ERROR(WriteLlmcCheckpoint(o.export_llmc, config_, whole.params.data()));
      std::fprintf(stderr, "exported llm.c checkpoint %s\n", o.export_llmc.c_str());
    }
    if (is_root() && !o.export_hf.empty()) {
      MERIDIAN_RETURN_IF_ERROR(WriteHfGpt2(o.export_hf, config_, whole.params.data()));
      std::fprintf(stderr, "exported Hugging Face GPT-2 model %s\n", o.export_hf.c_str());
    }
  }
  if (o.sample > 0) MERIDIAN_RETURN_IF_ERROR(PrintSample());
  return Status::OK();
}

Status Trainer::PrintSample() {
  // Sampling runs on rank 0 with the whole model gathered there.
  TrainingCheckpoint gathered;
  MERIDIAN_RETURN_IF_ERROR(GatherWholeModel(false, &gathered));
  if (!is_root()) return Status::OK();
  const std::vector<float>& params = gathered.params;
  GPTModel whole(config_, WholeModel(config_), 1, std::min(config_.max_seq_len, std::max(options_.seq, 1)));
  std::copy(params.begin(), params.end(), whole.params());
  WriteSample(whole, tokenizer_.get(),
              SampleRequest{options_.sample_prompt, options_.sample, options_.sample_temperature}, rng_, stdout);
  return Status::OK();
}

Status Trainer::ChooseTextTokenizer() {
  const TrainOptions& o = options_;
  tokenizer_name_ = ChooseTokenizer(o.tokenizer, tokenizer_name_, config_.vocab_size);
  if (!is_root() || tokenizer_name_.empty() || (o.sample == 0 && o.tokenizer == "auto")) return Status::OK();
  MERIDIAN_ASSIGN_OR_RETURN(tokenizer_, MakeTokenizer(tokenizer_name_, TokenizerOptions{.vocab_dir = o.vocab_dir}));
  if (tokenizer_->vocab_size() > config_.vocab_size)
    return Status::InvalidArgument("--tokenizer " + tokenizer_name_ + ": its " +
                                   std::to_string(tokenizer_->vocab_size()) + " tokens do not fit the model's vocabulary of " +
                                   std::to_string(config_.vocab_size));
  return Status::OK();
}

}  // namespace meridian
