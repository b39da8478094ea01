// A thread that runs one piece of work at a fixed interval until its owner
// goes: the shape shared by the heartbeat and the Kafka prober, which must
// never stall the pipeline thread (a slow connect, a broker that does not
// answer). The first run is one interval after construction. The destructor
// wakes the thread and waits for a run in progress to end (bounded by what
// the work itself waits for).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace tombsync {

class PeriodicWorker {
 public:
  // `work` runs on the worker's thread, never two at once.
  PeriodicWorker(std::chrono::milliseconds every, std::function<void()> work);
  ~PeriodicWorker();
  PeriodicWorker(const PeriodicWorker&) = delete;
  PeriodicWorker& operator=(const PeriodicWorker&) = delete;

  // The owner is going: work that waited may drop its result. Any thread.
  bool stopping() const;

 private:
  void run();

  const std::chrono::milliseconds every_;
  const std::function<void()> work_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace tombsync
