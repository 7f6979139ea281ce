// Everything meridian-train can be told, from the command line and/or a
// YAML file (--config), the command line winning.
#pragma once

#include <string>
#include <vector>

#include "common/device.h"
#include "common/link_schedule.h"
#include "common/status.h"
#include "runtime/checkpoint/checkpoint_format.h"
#include "runtime/model/gpt_config.h"
#include "runtime/parallel/compression.h"
#include "runtime/parallel/dp_sync.h"
#include "runtime/parallel/pipeline_schedule.h"

namespace meridian {

struct TrainOptions {
  // Model. --init-from takes the config from the imported model instead.
  std::string model = "d4";
  int n_layer = 0, n_head = 0, n_embd = 0;  // 0: from the preset
  std::string arch;                         // empty: the preset's; else ModelOverrides' arch
  int n_kv_head = 0, ffn_hidden = 0;        // Llama; 0: from the preset
  double rope_theta = 0;                    // Llama; 0: from the preset
  std::string tie_embeddings;               // "true"/"false"; empty: from the preset
  int vocab = 0;  // 0: the preset's (GPT-2's 50257, Llama 3's 128256)
  int max_seq = 1024;

  // Batch and schedule.
  int batch = 4;       // sequences per micro-batch
  int seq = 64;        // tokens per sequence
  int grad_accum = 1;  // micro-batches per optimizer step
  // The step's size over all replicas instead, in sequences or in tokens
  // (0: not given); the micro-batches per replica follow from the layout.
  long global_batch = 0, global_batch_tokens = 0;
  long steps = 100;
  float lr = 3e-4f, min_lr = 0.0f;
  long warmup = 0;
  float weight_decay = 0.1f, beta1 = 0.9f, beta2 = 0.95f, adam_eps = 1e-8f;
  float grad_clip = 1.0f;  // 0 disables
  unsigned long long seed = 1337;

  // Data.
  std::string data = "data/synth/train_*.bin";
  std::string val_data;  // empty: no evaluation
  long eval_every = 0;   // 0: only at the end (when val_data is set)
  int eval_batches = 8;
  bool eval_only = false;

  // Files.
  std::string init_from;    // llm.c checkpoint or Hugging Face GPT-2 model (directory / .safetensors) to start from
  std::string export_llmc;  // llm.c checkpoint to write at the end
  std::string export_hf;    // Hugging Face GPT-2 model directory to write at the end
  std::string checkpoint_dir;
  long checkpoint_every = 0;  // 0: only at the end (when checkpoint_dir is set)
  bool resume = false;        // continue from the newest checkpoint in checkpoint_dir
  int keep_last = 0;          // prune all but the newest N checkpoints after each save; 0: keep all
  // sharded: every rank writes its part in the background; whole: rank 0
  // gathers and writes the whole model (a directory not every host sees).
  CheckpointFormat checkpoint_format = CheckpointFormat::kSharded;
  std::string metrics_out;

  // Parallelism (under mpirun). dp 0: world size / pp.
  int dp = 0;
  int pp = 1;
  int microbatches = 0;               // 0: --grad-accum; micro-batches per step per replica
  PipelineScheduleKind pp_schedule = PipelineScheduleKind::k1F1B;
  int zero = 0;                       // 1: shard AdamW state over the DP group (ZeRO-1)
  double bucket_mb = 25.0;            // gradient all-reduce bucket size
  bool no_overlap = false;            // all-reduce after backward instead of during it
  double comm_timeout = 300.0;
  std::string pools;                  // "dcA:2,dcB:2": data center of each world rank
  // How DP replicas in different data centers synchronise.
  DpSync dp_sync = DpSync::kSync;
  int diloco_h = 50;                  // inner steps per outer step
  float outer_lr = 0.7f;
  float outer_momentum = 0.9f;
  Compression outer_compress = Compression::kNone;
  // Streaming DiLoCo: fragments of layers on staggered rounds, each
  // exchange overlapping `diloco_overlap` inner steps, then mixed in.
  int diloco_fragments = 1;
  int diloco_overlap = 0;
  float diloco_mix = 0.5f;
  bool diloco_elastic = false;  // a late exchange lets inner steps go on (links in contact windows)
  // The link's contact windows, "PERIOD:UP[:PHASE]" or "@OPEN-CLOSE,...";
  // exchanges wait for one.
  std::string wan_window;

  // Each data center its own world: this world's index among the job's,
  // every world's leader address (host:port of its first stage; stage s
  // serves on port + s), where this world serves, whether it joins from a
  // live world's state at start, and how long training waits for a round.
  int wan_world = -1;           // -1: one world spans the data centers
  std::string wan_peers;        // "hostA:7100,hostB:7100"
  std::string wan_listen = "0.0.0.0";
  bool wan_join = false;
  double wan_timeout = 60.0;
  // Strict rounds: every --diloco-h steps exactly, each applied once every
  // world's part is in (or --wan-timeout passed): deterministic rounds.
  bool wan_strict = false;
  // Each link's own contact window, one entry per world in --wan-peers
  // order, separated by ';' (an explicit list has commas of its own):
  // "PERIOD:UP[:PHASE]" or "@OPEN-CLOSE,...", empty for a link always up
  // and for this world's own entry. Exchanges with a world wait for its
  // link's window. Empty: no per-link windows.
  std::string wan_peer_windows;
  // Set from a scheduled job's placement: this rank's stage's leader in
  // every world (host:port, world order), which --wan-peers cannot say when
  // a world's stages sit on different hosts; and the slice of the data this
  // world's replicas read (its first replica's index among all worlds'
  // replicas, of how many; 0: as many worlds of equal size would).
  std::vector<std::string> wan_stage_peers;
  int data_slice_first = 0, data_slices = 0;

  // Scheduled runs: where the daemon is and which job this is.
  std::string scheduler;
  std::string job;
  // What the scheduler's assignment says this rank owns (checked against
  // what the rank finds; -1: not scheduled).
  int assigned_layer_begin = -1, assigned_layer_end = -1;
  int attempt = 0;  // the job's launch this rank belongs to (0: not scheduled)

  // Where the math runs: cpu, or cuda (one GPU per rank, NCCL between them).
  Device device = Device::kCpu;
  DType dtype = DType::kFp32;  // bf16: cuda only; float master weights
  int gpu = -1;                // CUDA device index; -1: the local rank's (modulo the device count)

  // Run.
  int threads = 0;  // 0: all cores
  int sample = 0;   // tokens to generate at the end
  std::string sample_prompt = "\n";
  // The text tokenizer (sampling, and recorded in checkpoints): auto, bytes
  // or gpt2; auto takes the checkpoint's, else goes by the vocabulary.
  std::string tokenizer = "auto";
  std::string vocab_dir;  // GPT-2's encoder.json and vocab.bpe; empty: the default cache
  float sample_temperature = 0.8f;
  long log_every = 10;
  std::string log_format, log_level;  // InitLogging's; empty: $MERIDIAN_LOG_FORMAT/_LEVEL, else text, info
  // Dense peak of one rank's device in TFLOP/s, for the MFU in the metrics
  // (0: not known, no MFU).
  double peak_tflops = 0;
  std::string tensorboard;  // directory for TensorBoard event files; empty: none
  bool print_config = false;  // print the effective options as YAML (a --config file) and stop

  // The model config the options name (preset plus overrides). Not used
  // with --init-from.
  Result<GPTConfig> ModelConfig() const;
  // Micro-batches per optimizer step per replica with `dp` replicas: from
  // --global-batch(-tokens) when given, else --microbatches, else
  // --grad-accum. InvalidArgument naming the numbers when the global batch
  // is not a whole number of micro-batches per replica.
  Result<int> MicroBatches(int dp) const;
  // --wan-peers with each world's port moved to `stage`'s (port + stage).
  Result<std::vector<std::string>> WanPeerAddresses(int stage) const;
  // --wan-peer-windows, one schedule per world (always up for an empty
  // entry); none when it is not given. InvalidArgument naming the option
  // and the entry that is not a window spec.
  Result<std::vector<LinkSchedule>> WanPeerWindows() const;
};

// Parses argv (and the --config YAML file it may name). Returns
// InvalidArgument with CLI11's or our message on a bad option; exit_code is
// set when the program should stop without error (--help).
Result<TrainOptions> ParseTrainOptions(int argc, char** argv, int* exit_code);

// Checks ranges and combinations; the message names the option.
Status ValidateTrainOptions(const TrainOptions& options);

}  // namespace meridian
