#include "scheduler/service/rate_limiter.h"

#include <algorithm>

namespace meridian::scheduler {

double RateLimiter::Take(const std::string& key, double now_s) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, fresh] = buckets_.try_emplace(key, Bucket{burst_, now_s});
  Bucket& b = it->second;
  if (!fresh) b.tokens = std::min(burst_, b.tokens + (now_s - b.at_s) * per_second_);
  b.at_s = now_s;
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return 0.0;
  }
  return per_second_ > 0 ? (1.0 - b.tokens) / per_second_ : 1e9;
}

}  // namespace meridian::scheduler
