// One training process (one rank under mpirun): builds its stage of the
// model, its data slice, optimizer, gradient synchronisation and pipeline
// from TrainOptions and the world communicator, then runs the step loop.
// A single process is the layout dp 1 x pp 1 over a one-rank world.
#pragma once

#include <functional>
#include <memory>

#include "common/random.h"
#include "common/status.h"
#include "runtime/checkpoint/checkpoint.h"
#include "runtime/comm/communicator.h"
#include "runtime/data/data_loader.h"
#include "runtime/data/tokenizer.h"
#include "runtime/model/gpt_model.h"
#include "runtime/optim/adamw_optimizer.h"
#include "runtime/optim/lr_schedule.h"
#include "runtime/parallel/gradient_sync.h"
#include "runtime/parallel/parallel_layout.h"
#include "runtime/parallel/pipeline_runner.h"
#include "runtime/parallel/process_groups.h"
#include "runtime/train/checkpointer.h"
#include "runtime/train/distributed_state.h"
#include "runtime/train/fault_plan.h"
#include "runtime/train/metrics_writer.h"
#include "runtime/train/stage_backend.h"
#include "runtime/train/step_report.h"
#include "runtime/train/stage_update.h"
#include "runtime/train/train_options.h"

namespace meridian {

class Trainer {
 public:
  // Collective over `world` (not owned; must outlive the trainer).
  // `faults`: what to inject (the failure tests); none by default.
  static Result<std::unique_ptr<Trainer>> Create(const TrainOptions& options, Communicator* world,
                                                 FaultPlan faults = {});

  // Trains to options.steps (or only evaluates with --eval-only), writing
  // metrics, checkpoints, the llm.c export and the sample as asked.
  Status Run();

  // Global mean validation loss over eval_batches micro-batches from the
  // start of the validation data (every rank returns it).
  Result<float> Evaluate();

  const GPTModel& model() const { return *model_; }

  // Called on world rank 0 after every step and evaluation (the scheduler's
  // ReportProgress); eval_loss is 0 when there is none.
  using ProgressFn = std::function<void(const StepReport&)>;
  void set_progress_callback(ProgressFn fn) { progress_fn_ = std::move(fn); }
  long step() const { return step_; }

 private:
  Trainer(const TrainOptions& options, Communicator* world, FaultPlan faults)
      : options_(options), world_(world), faults_(std::move(faults)), rng_(options.seed) {}
  Status Initialize();
  Status InitializeParallelism();
  Status TrainStep(double* loss, double* grad_norm, float* lr);
  Status SynchronizeGradients();
  Result<double> GlobalGradNorm();
  Status OptimizerStep(float lr, float grad_scale);
  // The whole model (with_optimizer: and the optimizers' state) on world
  // rank 0, from the GPU's copy where there is one (DistributedState).
  Status GatherWholeModel(bool with_optimizer, TrainingCheckpoint* out);
  // The host copy of the weights (and moments) catches up with the GPU's.
  Status SyncHostCopy(bool with_optimizer);
  // The checkpoint's header (rank 0's counts).
  CheckpointHeader Header() const;
  Status SaveCheckpoint();
  // Loads this rank's part of a checkpoint of any layout.
  Status RestoreCheckpoint(CheckpointReader& reader);
  Status PrintSample();
  // The run's text tokenizer once the model and any checkpoint are known;
  // loaded on rank 0 when it samples or when --tokenizer names it.
  Status ChooseTextTokenizer();
  // Each data center its own world: this stage leader's exchange with the
  // other worlds, and joining them from a live world's state.
  Status OpenWanExchange(GradientSyncOptions* sync);
  Status JoinLiveWorld();
  bool is_root() const { return world_->rank() == 0; }
  PipelineRunner::FetchFn Fetcher(DataLoader* loader);

  TrainOptions options_;
  Communicator* world_;
  GPTConfig config_;
  ParallelLayout layout_;
  ProcessGroups groups_;
  std::vector<StageSpec> stages_;
  int microbatches_ = 1;
  FaultPlan faults_;
  // The stage's compute on its device. Under cuda model_ holds only the
  // host copy of the weights (for checkpoints and sampling).
  std::unique_ptr<StageBackend> backend_;
  GPTModel* model_ = nullptr;  // backend_'s
  std::unique_ptr<AdamWOptimizer> optimizer_;  // for this rank's shard of the stage (sync_)
  std::unique_ptr<GradientSync> sync_;
  std::unique_ptr<StageUpdate> update_;  // sync_ and optimizer_ over backend_'s buffers
  TrafficCounter traffic_;
  std::unique_ptr<DistributedState> state_;
  std::unique_ptr<Checkpointer> checkpointer_;  // with --checkpoint-dir
  bool sync_in_backward_ = false;
  // Per-step loss and traffic summed inside the data center, not the world
  // (DiLoCo across data centers): rank 0 reports data center 0's loss.
  bool metrics_in_dc_ = false;
  std::unique_ptr<PipelineRunner> pipeline_;
  std::unique_ptr<DataLoader> train_data_, val_data_;
  LrSchedule schedule_;
  MetricsWriter metrics_;
  Rng rng_;
  long step_ = 0;  // optimizer steps completed
  int wan_worlds_ = 1;  // the job's worlds (each data center its own)
  std::string tokenizer_name_;           // ChooseTokenizer's pick ("" none); a restored checkpoint's first
  std::unique_ptr<Tokenizer> tokenizer_;  // rank 0, when loaded
  double last_exposed_comm_s_ = 0.0, last_compute_s_ = 0.0;
  ProgressFn progress_fn_;
  StepReport last_report_;  // the latest step's, repeated with an evaluation
};

}  // namespace meridian
