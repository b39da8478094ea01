// The operator's progress lines, every 10 s while streaming and one at the
// stop, read from the same counters /metrics exports (Metrics), so the log
// and the metrics always agree, also after a crash restart. Counts are of
// this process: events and records handed to Kafka, and the records a
// restart found already there (not written again).
// Pipeline thread only.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "agent/ops/metrics.h"
#include "base/lsn.h"

namespace tombsync {

class StreamReport {
 public:
  explicit StreamReport(const Metrics& metrics);
  // "streamed 1200 events in 10.0 s (120/s); total ins 1000 upd 150 del 50 ...; confirmed 0/1A2B, lag 1234
  // bytes, in flight 12". The window runs from the previous line (or the report's creation).
  std::string line(Lsn confirmed, Lsn server_end, size_t in_flight);
  // "ins 1000 upd 150 del 50 trunc 0 snapshot rows 0 tombstones 50 records 1250 already in kafka 0"
  std::string totals() const;

 private:
  const Metrics& metrics_;
  uint64_t window_start_events_;
  std::chrono::steady_clock::time_point window_start_;
};

}  // namespace tombsync
