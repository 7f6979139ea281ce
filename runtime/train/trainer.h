// One training process: builds the model, data, optimizer and checkpoints
// from TrainOptions and runs the step loop.
#pragma once

#include <memory>

#include "common/random.h"
#include "common/status.h"
#include "runtime/data/data_loader.h"
#include "runtime/model/gpt_model.h"
#include "runtime/optim/adamw_optimizer.h"
#include "runtime/optim/lr_schedule.h"
#include "runtime/train/metrics_writer.h"
#include "runtime/train/train_options.h"

namespace meridian {

class Trainer {
 public:
  // Loads or initialises the model (--init-from, --resume), opens the data.
  static Result<std::unique_ptr<Trainer>> Create(const TrainOptions& options);

  // Trains to options.steps (or only evaluates with --eval-only), writing
  // metrics, checkpoints, the llm.c export and the sample as asked.
  Status Run();

  // Mean validation loss of the current model over eval_batches batches
  // taken from the start of the validation data.
  Result<float> Evaluate();

  const GPTModel& model() const { return *model_; }
  long step() const { return step_; }

 private:
  explicit Trainer(const TrainOptions& options) : options_(options), rng_(options.seed) {}
  Status Initialize();
  Status TrainStep(double* loss, double* grad_norm, float* lr);
  Status SaveCheckpoint();
  Status RestoreCheckpoint(const std::string& path);
  void PrintSample();

  TrainOptions options_;
  GPTConfig config_;
  std::unique_ptr<GPTModel> model_;
  std::unique_ptr<AdamWOptimizer> optimizer_;
  std::unique_ptr<DataLoader> train_data_, val_data_;
  LrSchedule schedule_;
  MetricsWriter metrics_;
  Rng rng_;
  long step_ = 0;  // optimizer steps completed
  std::vector<int> inputs_, targets_;
};

}  // namespace meridian
