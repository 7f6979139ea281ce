// What rank 0 tells whoever watches a run (the scheduler) after each
// optimizer step or evaluation.
#pragma once

namespace meridian {

struct StepReport {
  long step = 0;
  double loss = 0.0;
  double tokens_per_s = 0.0;
  double eval_loss = 0.0;  // 0: not an evaluation
  double mfu = 0.0;        // 0: the device's peak is not known (--peak-tflops)
  // Bytes the step's collectives moved within and between data centers,
  // over all ranks (0 with one rank).
  double bytes_intra_dc = 0.0, bytes_inter_dc = 0.0;
};

}  // namespace meridian
