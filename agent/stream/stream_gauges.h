// The pipeline's gauges for /metrics and /readyz (queue depth, how long Kafka
// has been silent, positions, liveness) and the lag alarm, logged once per
// crossing of health.max_lag_bytes and once when back under half of it.
// Pipeline thread only (Metrics' atomics carry the values to the HTTP thread).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "agent/ops/metrics.h"
#include "agent/snapshot/snapshotter.h"
#include "base/lsn.h"

namespace tombsync {

class StreamGauges {
 public:
  StreamGauges(Metrics& metrics, std::string slot, int64_t max_lag_bytes)
      : metrics_(metrics), slot_(std::move(slot)), max_lag_bytes_(max_lag_bytes) {}

  // An acknowledgement arrived since the last publish (Kafka is making progress).
  void on_delivered() { delivered_ = true; }
  void publish(size_t in_flight, Lsn server_end, Lsn confirmed);
  void publish_snapshot(const std::vector<SnapshotTableStatus>& tables);
  // The time of the last event, for tombsync_seconds_since_last_event.
  void on_events();

 private:
  using Clock = std::chrono::steady_clock;
  Metrics& metrics_;
  std::string slot_;
  int64_t max_lag_bytes_;
  bool delivered_ = false;
  bool lag_alarm_ = false;
  Clock::time_point kafka_progress_ = Clock::now();
};

}  // namespace tombsync
