// A token bucket per key (a submit token's name): `burst` at once, then
// `per_minute` a minute. What keeps a submit+cancel loop from growing the
// store and every listing without limit: the queue limit counts only jobs
// that wait, this counts every submit. Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <string>

namespace meridian::scheduler {

class RateLimiter {
 public:
  RateLimiter(double per_minute, double burst) : per_second_(per_minute / 60.0), burst_(burst) {}

  // Takes one from `key`'s bucket at time `now_s` (seconds, any origin that
  // only moves forward). 0 when taken; else the seconds until one will be.
  double Take(const std::string& key, double now_s);

 private:
  struct Bucket {
    double tokens = 0;
    double at_s = 0;
  };
  double per_second_, burst_;
  std::mutex mu_;
  std::map<std::string, Bucket> buckets_;
};

}  // namespace meridian::scheduler
