#include "runtime/parallel/parallel_layout.h"

#include <algorithm>
#include <limits>
#include <sstream>

namespace meridian {

std::string ParallelLayout::ToString() const {
  std::ostringstream os;
  os << "dp " << dp << " x pp " << pp << " = " << world() << " ranks";
  return os.str();
}

Status ValidateLayout(const ParallelLayout& layout, int world_size, int n_layer) {
  std::ostringstream os;
  os << "parallel layout: dp " << layout.dp << " x pp " << layout.pp << " = " << layout.world();
  if (layout.dp < 1 || layout.pp < 1) {
    os << ": every degree must be >= 1";
    return Status::InvalidArgument(os.str());
  }
  if (layout.world() != world_size) {
    os << " ranks, but the job has " << world_size << " (world size)";
    return Status::InvalidArgument(os.str());
  }
  if (layout.pp > n_layer) {
    os << ": pp " << layout.pp << " exceeds the model's " << n_layer << " layers (a stage needs at least one)";
    return Status::InvalidArgument(os.str());
  }
  return Status::OK();
}

double LayerCost(const GPTConfig& c, int seq) {
  const double C = c.n_embd;
  return 3.0 * (24.0 * C * C + 4.0 * C * seq);  // matmuls + attention, forward and backward
}

double HeadCost(const GPTConfig& c) {
  // LM head matmul forward and backward, plus the softmax passes.
  return 3.0 * 2.0 * c.n_embd * c.padded_vocab_size + 5.0 * c.padded_vocab_size;
}

std::vector<StageSpec> PartitionLayers(const GPTConfig& config, int pp, int seq) {
  const int L = config.n_layer;
  const double layer = LayerCost(config, seq), head = HeadCost(config);
  auto stage_cost = [&](int begin, int end) { return layer * (end - begin) + (end == L ? head : 0.0); };
  // best[k][i]: smallest max-stage cost of layers [0, i) split into k stages.
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<std::vector<double>> best(pp + 1, std::vector<double>(L + 1, inf));
  std::vector<std::vector<int>> cut(pp + 1, std::vector<int>(L + 1, 0));
  best[0][0] = 0.0;
  for (int k = 1; k <= pp; ++k) {
    for (int i = k; i <= L; ++i) {
      for (int j = k - 1; j < i; ++j) {
        const double v = std::max(best[k - 1][j], stage_cost(j, i));
        if (v < best[k][i]) {
          best[k][i] = v;
          cut[k][i] = j;
        }
      }
    }
  }
  std::vector<StageSpec> stages(pp);
  int end = L;
  for (int k = pp; k >= 1; --k) {
    const int begin = cut[k][end];
    stages[k - 1] = StageSpec{begin, end, k == 1, k == pp};
    end = begin;
  }
  return stages;
}

}  // namespace meridian
