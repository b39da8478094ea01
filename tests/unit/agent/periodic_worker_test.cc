// PeriodicWorker: the shape the heartbeat and the Kafka prober share.
#include "agent/ops/periodic_worker.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>

namespace tombsync {
namespace {

using namespace std::chrono_literals;

TEST_CASE("a periodic worker runs its work at its interval and stops promptly", "[ops][periodic]") {
  std::atomic<int> runs{0};
  const auto started = std::chrono::steady_clock::now();
  {
    PeriodicWorker w(20ms, [&] { ++runs; });
    while (runs < 3 && std::chrono::steady_clock::now() - started < 5s) std::this_thread::sleep_for(5ms);
  }
  CHECK(runs >= 3);
  const int after = runs;
  std::this_thread::sleep_for(50ms);
  CHECK(runs == after);  // nothing runs once the owner is gone
}

TEST_CASE("a periodic worker's first run waits one interval, and the destructor does not wait for it",
          "[ops][periodic]") {
  std::atomic<int> runs{0};
  const auto started = std::chrono::steady_clock::now();
  { PeriodicWorker w(10s, [&] { ++runs; }); }
  CHECK(runs == 0);
  CHECK(std::chrono::steady_clock::now() - started < 2s);
}

TEST_CASE("work in progress sees stopping() once the owner goes", "[ops][periodic]") {
  std::atomic<bool> saw_stop{false}, entered{false};
  std::atomic<PeriodicWorker*> self{nullptr};
  {
    PeriodicWorker w(1ms, [&] {
      entered = true;
      while (self.load() == nullptr) std::this_thread::sleep_for(1ms);
      while (!self.load()->stopping()) std::this_thread::sleep_for(1ms);
      saw_stop = true;
    });
    self = &w;
    while (!entered) std::this_thread::sleep_for(1ms);
  }
  CHECK(saw_stop);
}

}  // namespace
}  // namespace tombsync
