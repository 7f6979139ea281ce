#include "runtime/train/train_options.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>

#include <CLI/CLI.hpp>

#include "common/command_line.h"
#include "common/link_schedule.h"
#include "common/net_address.h"
#include "common/yaml_cli_config.h"

namespace meridian {

Result<GPTConfig> TrainOptions::ModelConfig() const {
  MERIDIAN_ASSIGN_OR_RETURN(GPTConfig preset, PresetConfig(model));
  if (vocab > 0) preset.vocab_size = vocab;
  preset.padded_vocab_size = PadVocab(preset.vocab_size);
  preset.max_seq_len = max_seq;
  const ModelOverrides overrides{arch, n_layer, n_head, n_embd, n_kv_head, ffn_hidden, rope_theta, tie_embeddings};
  return ApplyModelOverrides(preset, overrides);
}

namespace {

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// CLI11 says "INI was not able to parse KEY" for a config key that is no
// option: name the file and the key, and the option it most resembles.
Status UnknownConfigKey(const CLI::App& app, const std::string& what) {
  const std::string prefix = "INI was not able to parse ";
  const std::string file = app.get_config_ptr() != nullptr ? app.get_config_ptr()->as<std::string>() : "";
  if (what.rfind(prefix, 0) != 0) return Status::InvalidArgument("meridian-train: --config " + file + ": " + what);
  std::string key = what.substr(prefix.size());
  std::replace(key.begin(), key.end(), '_', '-');
  std::string closest;
  size_t best = std::string::npos;
  for (const CLI::Option* option : app.get_options()) {
    for (const std::string& name : option->get_lnames()) {
      const size_t d = EditDistance(key, name);
      if (d < best) best = d, closest = name;
    }
  }
  std::string message = "meridian-train: --config " + file + ": unknown key \"" + what.substr(prefix.size()) + "\"";
  if (!closest.empty() && best <= std::max<size_t>(2, key.size() / 3)) message += " (did you mean \"" + closest + "\"?)";
  return Status::InvalidArgument(message);
}

}  // namespace

Result<TrainOptions> ParseTrainOptions(int argc, char** argv, int* exit_code) {
  *exit_code = -1;
  TrainOptions o;
  // The closed sets are read as words and parsed once CLI11 is done: the
  // error then names the option and its choices, and --print-config
  // writes words that --config reads back.
  std::string checkpoint_format = kCheckpointFormats.Name(o.checkpoint_format),
              pp_schedule = kPipelineSchedules.Name(o.pp_schedule), dp_sync = kDpSyncModes.Name(o.dp_sync),
              device = kDevices.Name(o.device), dtype = kDTypes.Name(o.dtype),
              outer_compress = kCompressions.Name(o.outer_compress);
  CLI::App app{"meridian-train: trains a GPT-2 or Llama model (one process, or one rank under mpirun)"};
  app.option_defaults()->always_capture_default()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.config_formatter(std::make_shared<YamlCliConfig>());
  app.set_config("--config", "", "YAML file of options (keys are option names); the command line wins");
  // A misspelt key ("step: 3") must stop the run, not train with defaults.
  app.allow_config_extras(CLI::config_extras_mode::error);

  // Second names are the job file's (model.preset, vocab_size,
  // max_seq_len), so its model and training sections read as a --config.
  app.add_option("--model,--preset", o.model, std::string("Preset: ") + PresetChoices())->group("Model");
  app.add_option("--arch", o.arch, "Architecture, gpt2 or llama (default: the preset's)")->group("Model");
  app.add_option("--n-layer", o.n_layer, "Override the preset's layers")->group("Model");
  app.add_option("--n-head", o.n_head, "Override the preset's heads")->group("Model");
  app.add_option("--n-embd", o.n_embd, "Override the preset's width")->group("Model");
  app.add_option("--n-kv-head", o.n_kv_head, "Llama: key/value heads (grouped-query attention)")->group("Model");
  app.add_option("--ffn-hidden", o.ffn_hidden, "Llama: the MLP's hidden width")->group("Model");
  app.add_option("--rope-theta", o.rope_theta, "Llama: the rotary base")->group("Model");
  app.add_option("--tie-embeddings", o.tie_embeddings, "Llama: true or false, the head shares the token embedding")
      ->group("Model");
  app.add_option("--vocab,--vocab-size", o.vocab, "Vocabulary size (256 for byte-level data; default: the preset's)")->group("Model");
  app.add_option("--max-seq,--max-seq-len", o.max_seq, "Rows of the position embedding")->group("Model");

  app.add_option("--batch", o.batch, "Sequences per micro-batch")->group("Batch");
  app.add_option("--seq", o.seq, "Tokens per sequence")->group("Batch");
  app.add_option("--grad-accum", o.grad_accum, "Micro-batches per optimizer step")->group("Batch");
  app.add_option("--global-batch", o.global_batch,
                 "Sequences per optimizer step over all replicas (instead of --grad-accum / --microbatches)")
      ->group("Batch");
  app.add_option("--global-batch-tokens", o.global_batch_tokens,
                 "Tokens per optimizer step over all replicas (a multiple of --seq)")
      ->group("Batch");
  app.add_option("--steps", o.steps, "Optimizer steps")->group("Batch");

  app.add_option("--lr", o.lr, "Peak learning rate")->group("Optimizer");
  app.add_option("--min-lr", o.min_lr, "Floor of the cosine decay")->group("Optimizer");
  app.add_option("--warmup", o.warmup, "Linear warmup steps")->group("Optimizer");
  app.add_option("--weight-decay", o.weight_decay, "AdamW decay (matrices and embeddings)")->group("Optimizer");
  app.add_option("--beta1", o.beta1)->group("Optimizer");
  app.add_option("--beta2", o.beta2)->group("Optimizer");
  app.add_option("--adam-eps", o.adam_eps)->group("Optimizer");
  app.add_option("--grad-clip", o.grad_clip, "Global gradient-norm clip (0 disables)")->group("Optimizer");
  app.add_option("--seed", o.seed, "Seed of initialisation and sampling")->group("Optimizer");

  app.add_option("--data", o.data, "Training token shards (glob)")->group("Data");
  app.add_option("--val-data", o.val_data, "Validation token shards (glob)")->group("Data");
  app.add_option("--eval-every", o.eval_every, "Evaluate every N steps (0: at the end)")->group("Data");
  app.add_option("--eval-batches", o.eval_batches, "Validation micro-batches per evaluation")->group("Data");
  app.add_flag("--eval-only", o.eval_only, "Evaluate the initial model and stop")->group("Data");

  app.add_option("--init-from", o.init_from,
                 "Start from an llm.c checkpoint (v1 or v3) or a Hugging Face GPT-2 or Llama model (a directory "
                 "with config.json and model.safetensors or a sharded set with its index, or a .safetensors file "
                 "with config.json beside it)")
      ->group("Files");
  app.add_option("--export-llmc", o.export_llmc, "Write an llm.c v3 checkpoint at the end")->group("Files");
  app.add_option("--export-hf", o.export_hf,
                 "Write a Hugging Face model directory of the model's architecture (config.json, "
                 "model.safetensors, sharded with an index above 2 GiB) at the end")
      ->group("Files");
  app.add_option("--checkpoint-dir", o.checkpoint_dir, "Where training checkpoints go")->group("Files");
  app.add_option("--checkpoint-every", o.checkpoint_every, "Checkpoint every N steps (0: at the end)")
      ->group("Files");
  app.add_option("--keep-last", o.keep_last, "Keep only the newest N checkpoints (0: keep all)")->group("Files");
  app.add_option("--checkpoint-format", checkpoint_format,
                 "sharded: every rank writes its part, in the background (the directory must be shared by all "
                 "hosts); whole: rank 0 gathers and writes the whole model")
      ->group("Files");
  app.add_flag("--resume", o.resume,
               "Continue from the newest checkpoint in --checkpoint-dir that verifies (newer ones that do not are "
               "skipped with a warning)")
      ->group("Files");
  app.add_option("--metrics-out", o.metrics_out, "Append JSON lines of metrics here")->group("Files");

  app.add_option("--dp", o.dp, "Data-parallel replicas (0: world size / pp)")->group("Parallel");
  app.add_option("--pp", o.pp, "Pipeline stages")->group("Parallel");
  app.add_option("--microbatches", o.microbatches, "Micro-batches per step per replica (default: --grad-accum)")
      ->group("Parallel");
  app.add_option("--pp-schedule", pp_schedule, kPipelineSchedules.Choices())->group("Parallel");
  app.add_option("--zero", o.zero, "1: shard optimizer state over the DP group (ZeRO-1)")->group("Parallel");
  app.add_option("--bucket-mb", o.bucket_mb, "Gradient all-reduce bucket size in MiB")->group("Parallel");
  app.add_flag("--no-overlap", o.no_overlap, "All-reduce gradients after the backward pass, not during it")
      ->group("Parallel");
  app.add_option("--comm-timeout", o.comm_timeout, "Seconds before a stuck collective aborts the job (0: never)")
      ->group("Parallel");

  app.add_option("--pools", o.pools, "Data centers of the world ranks, e.g. dcA:2,dcB:2 (consecutive ranks)")
      ->envname("MERIDIAN_POOLS")
      ->group("Parallel");

  app.add_option("--scheduler", o.scheduler, "Scheduler daemon address; the job's spec and placement come from it")
      ->group("Scheduler");
  app.add_option("--job", o.job, "Job id (with --scheduler)")->group("Scheduler");
  app.add_option("--gpu", o.gpu,
                 "CUDA device of this rank (-1, the default: its local rank; scheduled ranks: the assignment's)")
      ->group("Run");

  app.add_option("--dp-sync", dp_sync, kDpSyncModes.Choices() + " (data-parallel sync across data centers)")
      ->group("Cross data center");
  app.add_option("--diloco-h", o.diloco_h, "DiLoCo inner steps per outer step")->group("Cross data center");
  app.add_option("--diloco-fragments", o.diloco_fragments,
                 "Streaming DiLoCo: fragments of the stage's layers (layer l in fragment l mod F), each on its own "
                 "round, staggered over the H steps")
      ->group("Cross data center");
  app.add_option("--diloco-overlap", o.diloco_overlap,
                 "Inner steps an outer exchange overlaps before it is mixed in (0: the WAN stops training)")
      ->group("Cross data center");
  app.add_option("--diloco-mix", o.diloco_mix,
                 "With --diloco-overlap: share of the weights trained meanwhile kept when the outer result arrives")
      ->group("Cross data center");
  app.add_flag("--diloco-elastic", o.diloco_elastic,
               "With --diloco-overlap and one fragment: an exchange not back when due lets inner steps go on (and "
               "the next round wait) instead of stopping training, as a link outside its contact window needs")
      ->group("Cross data center");
  app.add_option("--wan-window", o.wan_window,
                 "With --diloco-elastic: when the link between data centers is up, PERIOD:UP[:PHASE] seconds (UP of "
                 "every PERIOD, from PHASE after the Unix epoch) or @OPEN-CLOSE,OPEN-CLOSE,... (explicit windows in "
                 "Unix seconds, in order); outer exchanges start only inside a window, none after the last one")
      ->group("Cross data center");
  app.add_option("--wan-world", o.wan_world,
                 "Each data center its own world: this world's index in --wan-peers (with --diloco-elastic)")
      ->group("Cross data center");
  app.add_option("--wan-peers", o.wan_peers,
                 "Each data center its own world: HOST:PORT of every world's leader, in world order (stage s of a "
                 "world serves on PORT + s); the leaders exchange outer rounds over gRPC with the job's token")
      ->group("Cross data center");
  app.add_option("--wan-peer-windows", o.wan_peer_windows,
                 "Each data center its own world: the contact window of the link to every world, in --wan-peers "
                 "order, separated by ';' (PERIOD:UP[:PHASE] or @OPEN-CLOSE,..., as --wan-window; empty for a link "
                 "always up and for this world); an exchange with a world starts only inside its link's window")
      ->group("Cross data center");
  app.add_option("--wan-listen", o.wan_listen, "The host this world's leaders serve the exchange on")
      ->group("Cross data center");
  app.add_flag("--wan-join", o.wan_join,
               "Start from the outer weights, step and round of a live world (how a relaunched world rejoins)")
      ->group("Cross data center");
  app.add_option("--wan-timeout", o.wan_timeout,
                 "Seconds training waits for a round's other worlds where it must (a checkpoint, the end)")
      ->group("Cross data center");
  app.add_flag("--wan-strict", o.wan_strict,
               "With --wan-world: rounds end every --diloco-h steps exactly and each is applied only once every "
               "world's part has arrived (a world not heard from within --wan-timeout is left out): deterministic "
               "rounds and bit-exact resume of the whole job, at the cost of waiting for the slowest world")
      ->group("Cross data center");
  app.add_option("--outer-lr", o.outer_lr, "DiLoCo outer learning rate")->group("Cross data center");
  app.add_option("--outer-momentum", o.outer_momentum, "DiLoCo outer Nesterov momentum")->group("Cross data center");
  app.add_option("--outer-compress", outer_compress,
                 "Pseudo-gradient compression: " + kCompressions.Choices() +
                     " (sparse: top-k with 2-bit values; its error feedback replaces the outer momentum, "
                     "whose value becomes its decay)")
      ->group("Cross data center");

  app.add_option("--device", device, "cpu, or cuda (one GPU per rank; NCCL between ranks)")->group("Run");
  app.add_option("--dtype", dtype, "Compute precision: fp32, or bf16 (cuda; float master weights)")->group("Run");
  app.add_option("--threads", o.threads, "CPU threads (0: all cores)")->group("Run");
  app.add_option("--sample", o.sample, "Generate N tokens at the end")->group("Run");
  app.add_option("--sample-prompt", o.sample_prompt, "Prompt for --sample, encoded with the tokenizer")->group("Run");
  app.add_option("--tokenizer", o.tokenizer,
                 "Text tokenizer for samples, recorded in checkpoints: auto (the checkpoint's, else gpt2 for a "
                 "50257 vocabulary, bytes up to 256), bytes, gpt2, llama3")
      ->group("Run");
  app.add_option("--vocab-dir", o.vocab_dir,
                 "GPT-2's encoder.json and vocab.bpe (default: $MERIDIAN_GPT2_VOCAB_DIR, else "
                 "~/.cache/meridian/gpt2; scripts/fetch-gpt2-vocab.sh fills it), or Llama 3's "
                 "tokenizer.model (default: $MERIDIAN_LLAMA3_VOCAB_DIR, else ~/.cache/meridian/llama3; "
                 "scripts/fetch-llama3-vocab.sh)")
      ->group("Run");
  app.add_option("--sample-temperature", o.sample_temperature)->group("Run");
  app.add_option("--log-every", o.log_every, "Log line every N steps when not on a terminal")->group("Run");
  AddLogOptions(app, &o.log_format, &o.log_level, "Run");
  app.add_option("--peak-tflops", o.peak_tflops,
                 "Dense peak TFLOP/s of one rank's device; metrics then carry mfu (model FLOPs utilisation)")
      ->group("Run");

  app.add_option("--tensorboard", o.tensorboard,
                 "Also write the metrics as TensorBoard event files into DIR (tensorboard --logdir DIR)")
      ->group("Run");

  app.add_flag("--print-config", o.print_config,
               "Print the effective options (defaults, --config file and command line) as YAML that --config "
               "loads, and stop")
      ->configurable(false)
      ->group("Run");

  AddVersionFlag(app, argc > 0 ? argv[0] : nullptr);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    *exit_code = app.exit(e);
    return o;
  } catch (const CLI::CallForVersion& e) {
    *exit_code = app.exit(e);
    return o;
  } catch (const CLI::ConfigError& e) {
    return UnknownConfigKey(app, e.what());
  } catch (const CLI::ParseError& e) {
    std::ostringstream msg;
    msg << e.what();
    return Status::InvalidArgument("meridian-train: " + msg.str() + " (see --help)");
  }
  auto parsed = [](auto result) {
    if (!result.ok()) return decltype(result)(Status::InvalidArgument("--" + result.status().message()));
    return result;
  };
  MERIDIAN_ASSIGN_OR_RETURN(o.checkpoint_format, parsed(kCheckpointFormats.Parse(checkpoint_format)));
  MERIDIAN_ASSIGN_OR_RETURN(o.pp_schedule, parsed(kPipelineSchedules.Parse(pp_schedule)));
  MERIDIAN_ASSIGN_OR_RETURN(o.dp_sync, parsed(kDpSyncModes.Parse(dp_sync)));
  MERIDIAN_ASSIGN_OR_RETURN(o.device, parsed(kDevices.Parse(device)));
  MERIDIAN_ASSIGN_OR_RETURN(o.dtype, parsed(kDTypes.Parse(dtype)));
  MERIDIAN_ASSIGN_OR_RETURN(o.outer_compress, parsed(kCompressions.Parse(outer_compress)));
  MERIDIAN_RETURN_IF_ERROR(ValidateTrainOptions(o));
  if (o.print_config) {
    std::fputs(app.config_to_str(true, false).c_str(), stdout);
    *exit_code = 0;
  }
  return o;
}

Result<int> TrainOptions::MicroBatches(int dp) const {
  if (global_batch == 0 && global_batch_tokens == 0) return microbatches > 0 ? microbatches : grad_accum;
  const long sequences = global_batch > 0 ? global_batch : global_batch_tokens / seq;
  const long per_step = (long)batch * dp;
  if (sequences % per_step != 0 || sequences == 0) {
    return Status::InvalidArgument("--global-batch " + std::to_string(sequences) + " sequences is not a multiple of dp " +
                                   std::to_string(dp) + " x --batch " + std::to_string(batch) + " = " +
                                   std::to_string(per_step));
  }
  return static_cast<int>(sequences / per_step);
}

Status ValidateTrainOptions(const TrainOptions& o) {
  auto bad = [](const std::string& option, const std::string& value, const std::string& why) {
    return Status::InvalidArgument("--" + option + " = " + value + ": " + why);
  };
  if (o.batch < 1) return bad("batch", std::to_string(o.batch), "must be >= 1");
  if (o.seq < 1) return bad("seq", std::to_string(o.seq), "must be >= 1");
  if (o.grad_accum < 1) return bad("grad-accum", std::to_string(o.grad_accum), "must be >= 1");
  if (o.global_batch < 0) return bad("global-batch", std::to_string(o.global_batch), "must be >= 0");
  if (o.global_batch_tokens < 0)
    return bad("global-batch-tokens", std::to_string(o.global_batch_tokens), "must be >= 0");
  if (o.global_batch > 0 && o.global_batch_tokens > 0)
    return bad("global-batch-tokens", std::to_string(o.global_batch_tokens), "give --global-batch or this, not both");
  if ((o.global_batch > 0 || o.global_batch_tokens > 0) && (o.grad_accum != 1 || o.microbatches != 0))
    return bad(o.global_batch > 0 ? "global-batch" : "global-batch-tokens",
               std::to_string(o.global_batch > 0 ? o.global_batch : o.global_batch_tokens),
               "sets the micro-batches per step: give it or --grad-accum / --microbatches, not both");
  if (o.global_batch_tokens > 0 && o.seq > 0 && o.global_batch_tokens % o.seq != 0)
    return bad("global-batch-tokens", std::to_string(o.global_batch_tokens),
               "is not a multiple of --seq " + std::to_string(o.seq));
  if (o.steps < 0) return bad("steps", std::to_string(o.steps), "must be >= 0");
  if (!(o.lr >= 0)) return bad("lr", std::to_string(o.lr), "must be >= 0");
  if (!(o.min_lr >= 0)) return bad("min-lr", std::to_string(o.min_lr), "must be >= 0");
  if (o.warmup < 0) return bad("warmup", std::to_string(o.warmup), "must be >= 0");
  if (!(o.beta1 >= 0 && o.beta1 < 1)) return bad("beta1", std::to_string(o.beta1), "must be in [0, 1)");
  if (!(o.beta2 >= 0 && o.beta2 < 1)) return bad("beta2", std::to_string(o.beta2), "must be in [0, 1)");
  if (!(o.adam_eps > 0)) return bad("adam-eps", std::to_string(o.adam_eps), "must be > 0");
  if (!(o.grad_clip >= 0)) return bad("grad-clip", std::to_string(o.grad_clip), "must be >= 0");
  if (o.eval_batches < 1) return bad("eval-batches", std::to_string(o.eval_batches), "must be >= 1");
  if (o.dp < 0) return bad("dp", std::to_string(o.dp), "must be >= 0");
  if (o.pp < 1) return bad("pp", std::to_string(o.pp), "must be >= 1");
  if (o.microbatches < 0) return bad("microbatches", std::to_string(o.microbatches), "must be >= 0");
  if (o.zero != 0 && o.zero != 1) return bad("zero", std::to_string(o.zero), "expected 0 or 1");
  if (!(o.bucket_mb > 0)) return bad("bucket-mb", std::to_string(o.bucket_mb), "must be > 0");
  if (!(o.comm_timeout >= 0)) return bad("comm-timeout", std::to_string(o.comm_timeout), "must be >= 0");
  if (o.dp_sync != DpSync::kSync && o.zero != 0) return bad("zero", "1", "works with --dp-sync sync only");
  if (o.diloco_h < 1) return bad("diloco-h", std::to_string(o.diloco_h), "must be >= 1");
  if (o.diloco_fragments < 1 || o.diloco_fragments > o.diloco_h)
    return bad("diloco-fragments", std::to_string(o.diloco_fragments), "must be between 1 and --diloco-h");
  if (o.diloco_overlap < 0 || o.diloco_overlap >= o.diloco_h)
    return bad("diloco-overlap", std::to_string(o.diloco_overlap), "must be >= 0 and below --diloco-h");
  if (!(o.diloco_mix >= 0 && o.diloco_mix <= 1))
    return bad("diloco-mix", std::to_string(o.diloco_mix), "must be in [0, 1]");
  if (o.diloco_elastic && (o.diloco_overlap < 1 || o.diloco_fragments != 1))
    return bad("diloco-elastic", "on", "needs --diloco-overlap >= 1 and --diloco-fragments 1");
  if (!o.wan_window.empty()) {
    if (!o.diloco_elastic) return bad("wan-window", o.wan_window, "needs --diloco-elastic");
    MERIDIAN_RETURN_IF_ERROR(ParseWindowSpec(o.wan_window, "--wan-window").status());
  }
  // A scheduled world learns its peers from its assignment, and is checked
  // again once it has them.
  const bool peers_to_come = !o.scheduler.empty() && o.wan_peers.empty();
  if ((o.wan_world >= 0 || !o.wan_peers.empty()) && !peers_to_come) {
    if (o.wan_peers.empty()) return bad("wan-world", std::to_string(o.wan_world), "needs --wan-peers");
    if (o.wan_world < 0) return bad("wan-peers", o.wan_peers, "needs --wan-world");
    if (o.dp_sync != DpSync::kDiloco || !o.diloco_elastic)
      return bad("wan-peers", o.wan_peers, "needs --dp-sync diloco with --diloco-elastic");
    MERIDIAN_ASSIGN_OR_RETURN(std::vector<std::string> peers, o.WanPeerAddresses(0));
    if (o.wan_world >= (int)peers.size())
      return bad("wan-world", std::to_string(o.wan_world),
                 "is beyond the " + std::to_string(peers.size()) + " worlds of --wan-peers");
  }
  if (!o.wan_peer_windows.empty()) {
    if (o.wan_world < 0) return bad("wan-peer-windows", o.wan_peer_windows, "needs --wan-world");
    MERIDIAN_ASSIGN_OR_RETURN(std::vector<LinkSchedule> windows, o.WanPeerWindows());
    if (!peers_to_come) {
      MERIDIAN_ASSIGN_OR_RETURN(std::vector<std::string> peers, o.WanPeerAddresses(0));
      if (windows.size() != peers.size())
        return bad("wan-peer-windows", o.wan_peer_windows,
                   "has " + std::to_string(windows.size()) + " entries for the " + std::to_string(peers.size()) +
                       " worlds of --wan-peers (one per world, separated by ';')");
    }
  }
  if (o.wan_strict && o.wan_world < 0 && !peers_to_come) return bad("wan-strict", "on", "needs --wan-world");
  if (!(o.wan_timeout > 0)) return bad("wan-timeout", std::to_string(o.wan_timeout), "must be > 0");
  if (!(o.outer_lr > 0)) return bad("outer-lr", std::to_string(o.outer_lr), "must be > 0");
  if (!(o.outer_momentum >= 0 && o.outer_momentum < 1))
    return bad("outer-momentum", std::to_string(o.outer_momentum), "must be in [0, 1)");
  if (o.dtype == DType::kBf16 && o.device != Device::kCuda) return bad("dtype", "bf16", "runs with --device cuda only");
  if (o.tokenizer != "auto" && o.tokenizer != "bytes" && o.tokenizer != "gpt2" && o.tokenizer != "llama3")
    return bad("tokenizer", o.tokenizer, "expected auto, bytes, gpt2 or llama3");
  if (!(o.peak_tflops >= 0)) return bad("peak-tflops", std::to_string(o.peak_tflops), "must be >= 0");
  if (o.gpu < -1 || o.gpu > 1023) return bad("gpu", std::to_string(o.gpu), "must be in [0, 1023] (or -1: the local rank's)");
  if (o.threads < 0) return bad("threads", std::to_string(o.threads), "must be >= 0");
  if (o.sample < 0) return bad("sample", std::to_string(o.sample), "must be >= 0");
  if (!(o.sample_temperature > 0)) return bad("sample-temperature", std::to_string(o.sample_temperature), "must be > 0");
  if (o.scheduler.empty() != o.job.empty()) return bad("job", o.job, "--scheduler and --job go together");
  if (o.resume && o.checkpoint_dir.empty()) return bad("resume", "true", "needs --checkpoint-dir");
  if (o.keep_last < 0) return bad("keep-last", std::to_string(o.keep_last), "must be >= 0");
  if (o.eval_only && o.val_data.empty()) return bad("eval-only", "true", "needs --val-data");
  if (o.init_from.empty() && o.seq > o.max_seq)
    return bad("seq", std::to_string(o.seq), "exceeds --max-seq " + std::to_string(o.max_seq));
  return Status::OK();
}

Result<std::vector<std::string>> TrainOptions::WanPeerAddresses(int stage) const {
  std::vector<std::string> out;
  size_t begin = 0;
  while (begin <= wan_peers.size()) {
    const size_t end = std::min(wan_peers.find(',', begin), wan_peers.size());
    const std::string entry = wan_peers.substr(begin, end - begin);
    std::string host, port;
    SplitHostPort(entry, &host, &port);
    char* rest = nullptr;
    const long number = port.empty() ? 0 : std::strtol(port.c_str(), &rest, 10);
    if (host.empty() || port.empty() || *rest != '\0' || number < 1 || number + stage > 65535)
      return Status::InvalidArgument("--wan-peers: \"" + entry + "\" is not HOST:PORT (a port from 1 to " +
                                     std::to_string(65535 - stage) + " for this layout's stages)");
    out.push_back(entry.substr(0, entry.size() - port.size()) + std::to_string(number + stage));
    begin = end + 1;
  }
  return out;
}

Result<std::vector<LinkSchedule>> TrainOptions::WanPeerWindows() const {
  std::vector<LinkSchedule> out;
  if (wan_peer_windows.empty()) return out;
  size_t begin = 0;
  while (begin <= wan_peer_windows.size()) {
    const size_t end = std::min(wan_peer_windows.find(';', begin), wan_peer_windows.size());
    const std::string entry = wan_peer_windows.substr(begin, end - begin);
    if (entry.empty()) {
      out.emplace_back();
    } else {
      // Entry w is world w's link.
      Result<LinkSchedule> window = ParseWindowSpec(entry, "--wan-peer-windows entry " + std::to_string(out.size()));
      if (!window.ok()) return window.status();
      out.push_back(std::move(window).value());
    }
    begin = end + 1;
  }
  return out;
}

}  // namespace meridian
