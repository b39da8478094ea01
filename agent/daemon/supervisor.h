// The daemon's outer loop: runs pipeline sessions until a clean stop. A
// session that reached streaming and then lost a connection (a transient
// Error: Postgres restarted, a network drop) is followed by a new one after an
// exponential back-off with jitter, one log line per attempt; the new session
// resumes from the saved cursor like a restarted process would (RedeliveryFilter
// keeps records Kafka already holds from being written twice). Everything else
// (bad config, a refused pre-flight, a failure at start) is thrown, so the
// process exits non-zero and says why.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

#include "agent/config/config.h"
#include "agent/ops/metrics.h"
#include "base/stop_signal.h"

namespace tombsync {

// Exponential back-off with jitter: attempt n (from 1) waits a uniformly
// random time in [base/2, base] where base = min(max, initial * 2^(n-1)):
// spread out so that many agents do not reconnect in step, never zero.
class Backoff {
 public:
  Backoff(int initial_ms, int max_ms, uint64_t seed) : initial_ms_(initial_ms), max_ms_(max_ms), rng_(seed) {}
  std::chrono::milliseconds next();
  void reset() { attempt_ = 0; }
  int attempt() const { return attempt_; }

 private:
  int initial_ms_, max_ms_;
  int attempt_ = 0;
  std::mt19937_64 rng_;
};

void supervise(const Config& config, StopSignal& stop, Metrics& metrics);

}  // namespace tombsync
