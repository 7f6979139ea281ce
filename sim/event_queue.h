// Virtual time: a queue of actions, each run at its time. Events at the
// same time run by class (job exits, then node changes, then submits, then
// liveness checks), then in the order they were scheduled, so a run is
// deterministic. Not thread-safe: one simulation thread owns it.
#pragma once

#include <cstdint>
#include <functional>
#include <queue>
#include <vector>

namespace meridian::sim {

enum class EventClass : int { kJobExit = 0, kNode = 1, kSubmit = 2, kLiveness = 3 };

class EventQueue {
 public:
  // The current virtual time, in seconds since the simulation started.
  double now() const { return now_; }
  // REQUIRES: at >= now().
  void Schedule(double at, EventClass cls, std::function<void()> action) {
    queue_.push(Event{at, (int)cls, next_++, std::move(action)});
  }
  bool empty() const { return queue_.empty(); }
  double next_time() const { return queue_.top().at; }
  // Advances the clock to the next event and runs it.
  void RunNext() {
    Event e = queue_.top();
    queue_.pop();
    now_ = e.at;
    e.action();
  }

 private:
  struct Event {
    double at;
    int cls;
    uint64_t sequence;
    std::function<void()> action;
    bool operator>(const Event& o) const {
      if (at != o.at) return at > o.at;
      if (cls != o.cls) return cls > o.cls;
      return sequence > o.sequence;
    }
  };
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> queue_;
  double now_ = 0;
  uint64_t next_ = 0;
};

}  // namespace meridian::sim
