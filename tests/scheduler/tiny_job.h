// The smallest job spec the scheduler tests place: a 2-layer d4 model at
// seq 16, in the layout asked for.
#pragma once

#include <string>

#include "meridian/v1/scheduler.pb.h"

namespace meridian::scheduler {

inline v1::JobSpec TinyJob(int dp, int pp, const std::string& data = "data/*.bin") {
  v1::JobSpec spec;
  spec.set_name("t");
  spec.mutable_model()->set_preset("d4");
  spec.mutable_model()->set_n_layer(2);
  spec.mutable_model()->set_n_embd(32);
  spec.mutable_model()->set_n_head(2);
  spec.mutable_model()->set_vocab_size(256);
  spec.mutable_training()->set_batch(2);
  spec.mutable_training()->set_seq(16);
  spec.mutable_training()->set_steps(10);
  spec.mutable_training()->set_data(data);
  spec.mutable_layout()->set_dp(dp);
  spec.mutable_layout()->set_pp(pp);
  return spec;
}

}  // namespace meridian::scheduler
