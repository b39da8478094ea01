// How a running pipeline learns it must stop. SIGTERM/SIGINT are taken by a
// dedicated thread with sigwait() (they are blocked in every other thread, so
// librdkafka's threads never see them). The first signal asks for an orderly
// stop; if the pipeline is still running after the grace period (say Kafka is
// down and a send is blocked on a full queue), the registered interrupter is
// called so blocked work gives up. A second signal interrupts at once.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <thread>

namespace tombsync {

class StopSignal {
 public:
  // Blocks SIGTERM and SIGINT in the calling thread (call it before any other
  // thread starts, so they inherit the mask) and starts the signal thread.
  explicit StopSignal(std::chrono::milliseconds grace);
  ~StopSignal();
  StopSignal(const StopSignal&) = delete;
  StopSignal& operator=(const StopSignal&) = delete;

  const std::atomic<bool>& flag() const { return stop_; }
  // For tests and callers that stop without a signal.
  void request();

  // Registered by the pipeline while the resource it interrupts lives; the
  // call happens on the signal thread, under this object's mutex.
  void set_interrupter(std::function<void()> interrupter);
  void clear_interrupter() { set_interrupter(nullptr); }

 private:
  void run();
  void interrupt();

  std::chrono::milliseconds grace_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> done_{false};
  std::mutex mutex_;                    // guards interrupter_
  std::function<void()> interrupter_;
  std::thread thread_;
};

}  // namespace tombsync
