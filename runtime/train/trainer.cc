#include "runtime/train/trainer.h"

#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "common/log.h"
#include "common/net_address.h"
#include "kernels/cpu/blas.h"
#include "runtime/checkpoint/checkpoint.h"
#include "runtime/checkpoint/hf_gpt2.h"
#include "runtime/checkpoint/llmc_format.h"
#include "runtime/checkpoint/model_import.h"
#include "runtime/comm/watchdog.h"
#include "runtime/model/flops.h"
#include "runtime/parallel/stage_params.h"
#include "rpc/client_channel.h"
#include "rpc/exchange_tls.h"
#include "runtime/train/progress_line.h"
#include "runtime/train/sampler.h"

namespace meridian {

Result<std::unique_ptr<Trainer>> Trainer::Create(const TrainOptions& options, Communicator* world, FaultPlan faults) {
  std::unique_ptr<Trainer> trainer(new Trainer(options, world, std::move(faults)));
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
    // Each data center its own world: the worlds' replicas read disjoint
    // slices, as the replicas of one world spanning them would.
    const int worlds = o.wan_world >= 0 ? wan_worlds_ : 1;
    d.process_rank = std::max(0, o.wan_world) * layout_.dp + groups_.dp_index;
    d.num_processes = worlds * layout_.dp;
    if (o.data_slices > 0) {
      d.process_rank = o.data_slice_first + groups_.dp_index;
      d.num_processes = o.data_slices;
    }
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
    c.sharded = o.checkpoint_format == CheckpointFormat::kSharded;
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
      if (is_root()) Logger("train")->info("resumed from {} at step {}", *restored, step_);
    } else if (restored.status().code() != Status::Code::kNotFound) {
      return restored.status();
    } else if (is_root()) {
      Logger("train")->info("resume: no checkpoint in {} yet; starting fresh", o.checkpoint_dir);
    }
  }
  MERIDIAN_RETURN_IF_ERROR(ChooseTextTokenizer());
  MERIDIAN_RETURN_IF_ERROR(backend_->UploadHostCopy(optimizer_.get()));
  if (o.wan_world >= 0 && o.wan_join) MERIDIAN_RETURN_IF_ERROR(JoinLiveWorld());
  // A DiLoCo round starts from the weights training starts from.
  if (DilocoOuterOptimizer* outer = sync_->diloco()) outer->StartRound(model_->params());
  if (is_root()) {
    MERIDIAN_RETURN_IF_ERROR(metrics_.Open(o.metrics_out));
    metrics_.SetAttempt(o.attempt);
    MERIDIAN_RETURN_IF_ERROR(metrics_.OpenTensorBoard(o.tensorboard));
    Logger("train")->info("model {}: {} parameters | batch {} x seq {} x {} micro-batches x dp {} | {} threads",
                          DescribeConfig(config_), NumParameters(config_), o.batch, o.seq, microbatches_, layout_.dp,
                          omp_get_max_threads());
    Logger("train")->info("this rank: {}", backend_->Describe(*optimizer_, o.zero == 1));
    if (layout_.world() > 1) {
      std::string ranges;
      for (const StageSpec& s : stages_) ranges += fmt::format(" [{},{})", s.layer_begin, s.layer_end);
      Logger("train")->info("layout {} | {} schedule | ZeRO-{} | stages:{}", layout_.ToString(), kPipelineSchedules.Name(o.pp_schedule), o.zero,
                            ranges);
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
  if (o.wan_world >= 0 && data_centers.num_data_centers() != 1)
    return Status::InvalidArgument("--wan-world: a world holds one data center, but --pools names " +
                                   std::to_string(data_centers.num_data_centers()));
  MERIDIAN_ASSIGN_OR_RETURN(groups_, BuildProcessGroups(world_, layout_, data_centers));
  // Under DiLoCo the data centers meet only at round ends; the per-step
  // loss and traffic then stay inside each data center too, where every
  // replica lies inside one (else a replica's loss would be split).
  bool replicas_within = true;
  for (int r = 0; r < layout_.dp; ++r)
    for (int s = 0; s < layout_.pp; ++s)
      replicas_within &= data_centers.rank_to_dc[layout_.RankOf(r, s)] == data_centers.rank_to_dc[layout_.RankOf(r, 0)];
  metrics_in_dc_ = o.dp_sync == DpSync::kDiloco && data_centers.num_data_centers() > 1 && replicas_within;
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
  const AdamWConfig adam{o.beta1, o.beta2, o.adam_eps, o.weight_decay};
  StageBackendOptions b;
  b.device = o.device;
  b.dtype = o.dtype;
  b.batch = o.batch;
  b.seq = o.seq;
  b.stage = mine;
  b.stage_index = groups_.stage;
  b.pp = layout_.pp;
  b.microbatches = std::max(microbatches_, o.eval_batches);
  b.schedule = o.pp_schedule;
  b.adam = adam;
  MERIDIAN_ASSIGN_OR_RETURN(backend_, StageBackend::Create(config_, b));
  model_ = backend_->model();
  pipeline_ = std::make_unique<PipelineRunner>(backend_->executor(), groups_.pp.get(), backend_->schedule(),
                                               microbatches_, o.batch, o.seq);

  GradientSyncOptions sync;
  sync.mode = o.dp_sync;
  sync.zero1 = o.zero == 1;
  sync.bucket_bytes = (size_t)(o.bucket_mb * 1024 * 1024);
  sync.overlap = !o.no_overlap;
  sync.diloco.inner_steps = o.diloco_h;
  sync.diloco.outer_lr = o.outer_lr;
  sync.diloco.outer_momentum = o.outer_momentum;
  sync.diloco.compress = o.outer_compress;
  sync.diloco.fragments = o.diloco_fragments;
  sync.diloco.overlap_steps = o.diloco_overlap;
  sync.diloco.mix = o.diloco_mix;
  sync.diloco.elastic = o.diloco_elastic;
  sync.diloco.strict = o.wan_strict;
  if (!o.wan_window.empty()) {
    MERIDIAN_ASSIGN_OR_RETURN(sync.diloco.wan_window, ParseWindowSpec(o.wan_window, "--wan-window"));
  }
  if (o.wan_world >= 0) MERIDIAN_RETURN_IF_ERROR(OpenWanExchange(&sync));
  MERIDIAN_ASSIGN_OR_RETURN(sync_, GradientSync::Create(sync, &groups_, model_->layout(), layout_.dp, &traffic_,
                                                        backend_->memory()));
  backend_->set_backward_hook([this](int layer) {
    if (sync_in_backward_) sync_->OnGradientsReady(update_->grads(), layer);
  });
  optimizer_ = std::make_unique<AdamWOptimizer>(model_->layout(), adam, sync_->shard_begin(), sync_->shard_end());
  MERIDIAN_ASSIGN_OR_RETURN(update_, backend_->CreateUpdate(optimizer_.get(), sync_.get()));
  state_ = std::make_unique<DistributedState>(config_, layout_, stages_, groups_, data_centers, model_,
                                              optimizer_.get(), sync_.get());
  backend_->ConnectHostTransfers(state_.get(), groups_.world);
  return Status::OK();
}

Status Trainer::OpenWanExchange(GradientSyncOptions* sync) {
  const TrainOptions& o = options_;
  std::vector<std::string> peers = o.wan_stage_peers;
  if (peers.empty()) {
    MERIDIAN_ASSIGN_OR_RETURN(peers, o.WanPeerAddresses(groups_.stage));
  }
  wan_worlds_ = (int)peers.size();
  sync->diloco.worlds = true;
  sync->diloco.tokens_per_step = (double)o.batch * o.seq * microbatches_ * layout_.dp;
  // One leader per stage speaks for the world's replicas of it.
  if (groups_.dp_intra_dc->rank() != 0) return Status::OK();
  std::string host, port;
  SplitHostPort(peers[o.wan_world], &host, &port);
  WanExchangeOptions w;
  w.world = o.wan_world;
  w.stage = groups_.stage;
  w.listen = o.wan_listen + ":" + port;
  // The others know this world by its entry in the peers: a world
  // relaunched on other nodes has a new one, and its calls tell them.
  w.advertise = peers[o.wan_world];
  w.peers = peers;
  // Each link's own contact window, by world (none: no per-link windows).
  MERIDIAN_ASSIGN_OR_RETURN(w.peer_windows, o.WanPeerWindows());
  // The daemon hands a job's ranks its token; the worlds check it.
  MERIDIAN_ASSIGN_OR_RETURN(rpc::ClientSecurity security, rpc::LoadClientSecurity());
  w.token = security.token;
  // A daemon that runs with TLS gives the job a certificate of its own
  // for the exchange; without one the worlds speak plaintext.
  if (const char* cert = std::getenv(rpc::kWanTlsCertEnv)) w.tls_cert_file = cert;
  if (const char* key = std::getenv(rpc::kWanTlsKeyEnv)) w.tls_key_file = key;
  w.wait_timeout_s = o.wan_timeout;
  w.strict = o.wan_strict;
  MERIDIAN_ASSIGN_OR_RETURN(std::unique_ptr<WanExchange> exchange, WanExchange::Start(w));
  Logger("train")->info("world {} of {}, stage {}: outer exchange on {}", o.wan_world, wan_worlds_, groups_.stage,
                        w.listen);
  // Strict rounds wait for every world's part, but a part pushed to a
  // world whose exchange is not serving yet is lost: the worlds start
  // together (each waits up to --wan-timeout for every other's exchange).
  if (o.wan_strict) {
    for (int world = 0; world < wan_worlds_; ++world) {
      if (world == o.wan_world || peers[world].empty()) continue;
      if (!WaitForListener(peers[world], o.wan_timeout))
        Logger("train")->warn("--wan-strict: world {}'s exchange at {} does not answer after {} s; starting without it",
                              world, peers[world], o.wan_timeout);
    }
  }
  sync->wan_exchange = std::move(exchange);
  return Status::OK();
}

Status Trainer::JoinLiveWorld() {
  DilocoOuterOptimizer* outer = sync_->diloco();
  long step = step_;
  MERIDIAN_RETURN_IF_ERROR(outer->JoinFromPeers(&step, update_->params(), groups_, backend_->memory()));
  // Each stage's leader asked its own peer: the world goes on at the step
  // its first rank heard.
  double agreed = world_->rank() == 0 ? (double)step : 0.0;
  MERIDIAN_RETURN_IF_ERROR(world_->AllReduceDouble(&agreed, 1, ReduceOp::kSum));
  if (is_root() && (long)agreed != step_)
    Logger("train")->info("joined the live worlds at step {} (from step {})", (long)agreed, step_);
  step_ = (long)agreed;
  return Status::OK();
}

PipelineRunner::FetchFn Trainer::Fetcher(DataLoader* loader) {
  return [loader](int, int* inputs, int* targets) { return loader->NextBatch(inputs, targets); };
}

Status Trainer::SynchronizeGradients() {
  MERIDIAN_RETURN_IF_ERROR(update_->Synchronize());
  last_exposed_comm_s_ = sync_->exposed_wait_s();
  return Status::OK();
}

Result<double> Trainer::GlobalGradNorm() { return update_->GlobalGradNorm(); }

Status Trainer::OptimizerStep(float lr, float grad_scale) { return update_->OptimizerStep(lr, grad_scale); }

Status Trainer::TrainStep(double* loss, double* grad_norm, float* lr) {
  SetCommContext("step " + std::to_string(step_ + 1));
  MERIDIAN_RETURN_IF_ERROR(faults_.AtStepStart(world_->rank(), step_ + 1, options_.attempt));
  double loss_sum = 0.0;
  MERIDIAN_RETURN_IF_ERROR(backend_->executor()->ZeroGrads());
  backend_->executor()->set_loss_scale(1.0f / microbatches_);
  MERIDIAN_RETURN_IF_ERROR(pipeline_->RunStep(
      Fetcher(train_data_.get()),
      // Gradients are final only in the last micro-batch's backward: start
      // the overlapped all-reduce there (like DDP's no_sync before it).
      [this](int microbatch) { sync_in_backward_ = microbatch == microbatches_ - 1; }, &loss_sum));
  last_compute_s_ = pipeline_->compute_s();
  sync_in_backward_ = false;
  MERIDIAN_RETURN_IF_ERROR(SynchronizeGradients());

  const bool last = model_->layout().stage().last;
  if (metrics_in_dc_) {
    // This data center's mean loss: the replicas here, without the WAN.
    double sums[2] = {last ? loss_sum / microbatches_ : 0.0, last ? 1.0 : 0.0};
    MERIDIAN_RETURN_IF_ERROR(groups_.dc->AllReduceDouble(sums, 2, ReduceOp::kSum));
    *loss = sums[0] / sums[1];
  } else {
    // Global mean loss: each replica's last stage contributes its mean.
    double contribution = last ? loss_sum / microbatches_ / layout_.dp : 0.0;
    MERIDIAN_RETURN_IF_ERROR(world_->AllReduceDouble(&contribution, 1, ReduceOp::kSum));
    *loss = contribution;
  }
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
  return update_->AfterStep(step_);
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
  return backend_->SyncHostCopy(with_optimizer ? optimizer_.get() : nullptr);
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
  MERIDIAN_RETURN_IF_ERROR(sync_->PrepareCheckpoint());
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
    if (is_root() && progress_fn_) {
      StepReport report = last_report_;
      report.step = step_;
      report.eval_loss = eval_loss;
      progress_fn_(report);
    }
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
    if (const DilocoOuterOptimizer* outer = sync_->diloco()) record["outer_steps"] = outer->outer_steps();
    if (o.wan_world >= 0) {
      const DilocoOuterOptimizer* outer = sync_->diloco();
      record["world"] = o.wan_world;
      record["round_worlds"] = outer->round_worlds();
      record["outer_digest"] = fmt::format("{:016x}", outer->outer_digest());
    }
    // MFU as PaLM counts it: the model's FLOPs per second over the peak of
    // every rank's device.
    StepReport report{step_, loss, tokens_per_s};
    if (o.peak_tflops > 0) {
      report.mfu = flops_per_step / (ms / 1e3) / (o.peak_tflops * 1e12 * layout_.world());
      record["mfu"] = report.mfu;
    }
    if (layout_.world() > 1) {
      double bytes[2] = {traffic_.intra_dc(), traffic_.inter_dc()};
      MERIDIAN_RETURN_IF_ERROR((metrics_in_dc_ ? groups_.dc.get() : world_)->AllReduceDouble(bytes, 2, ReduceOp::kSum));
      // Inside a data center, the counters of data center 0 hold every WAN
      // collective (their groups' first rank is there: TrafficCounter) but
      // only its own intra-DC traffic.
      if (metrics_in_dc_) record["metrics_scope"] = "data_center";
      traffic_.Reset();
      report.bytes_intra_dc = record["bytes_intra_dc"] = bytes[0];
      report.bytes_inter_dc = record["bytes_inter_dc"] = bytes[1];
      record["compute_ms"] = last_compute_s_ * 1e3;
      record["exposed_allreduce_ms"] = last_exposed_comm_s_ * 1e3;
    }
    MERIDIAN_RETURN_IF_ERROR(metrics_.Write(std::move(record)));
    last_report_ = report;
    if (is_root() && progress_fn_) progress_fn_(report);
    progress.Update(step_, o.steps, step_ - first_step, loss, grad_norm, lr, ms, tokens_per_s,
                    flops_per_step / (ms / 1e3) / 1e9);
    const bool last = step_ == o.steps;
    // One world per data center: the job's model is the worlds' outer
    // model; what is evaluated, checkpointed and exported at the end.
    if (last && o.wan_world >= 0) MERIDIAN_RETURN_IF_ERROR(sync_->diloco()->AdoptOuterWeights(update_->params(), backend_->memory()));
    if (!o.val_data.empty() && ((o.eval_every > 0 && step_ % o.eval_every == 0) || last)) {
      progress.Break();
      MERIDIAN_RETURN_IF_ERROR(evaluate());
    }
    // Under diloco checkpoints are taken where a round ends.
    const bool consistent = sync_->CheckpointableAfter(step_);
    if (!o.checkpoint_dir.empty() && consistent &&
        ((o.checkpoint_every > 0 && step_ % o.checkpoint_every == 0) || last)) {
      progress.Break();
      MERIDIAN_RETURN_IF_ERROR(SaveCheckpoint());
    }
  }
  progress.Break();
  // No exchange may still be in flight when the communicators close.
  MERIDIAN_RETURN_IF_ERROR(sync_->PrepareCheckpoint());
  // The last checkpoint is published before the run counts as done.
  if (checkpointer_) MERIDIAN_RETURN_IF_ERROR(checkpointer_->Wait());
  if (!o.export_llmc.empty() || !o.export_hf.empty()) {
    TrainingCheckpoint whole;
    MERIDIAN_RETURN_IF_ERROR(GatherWholeModel(false, &whole));
    if (is_root() && !o.export_llmc.empty()) {
      MERIDIAN_RETURN_IF_ERROR(WriteLlmcCheckpoint(o.export_llmc, config_, whole.params.data()));
      Logger("train")->info("exported llm.c checkpoint {}", o.export_llmc);
    }
    if (is_root() && !o.export_hf.empty()) {
      MERIDIAN_RETURN_IF_ERROR(WriteHfModel(o.export_hf, config_, whole.params.data()));
      Logger("train")->info("exported Hugging Face {} model {}", kModelArchs.Name(config_.arch), o.export_hf);
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
