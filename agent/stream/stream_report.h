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
  // "ins 1000 upd 150 del 50 trunc 0 snapshot rows 0 delete events 60 tombstones 50 records 1260
  // already in kafka 0": ins..snapshot rows as tombsync_events_total by op, delete events (hard and
  // soft) as tombsync_deletes_total, then tombstones, records and redelivered records.
  std::string totals() const;

 private:
  const Metrics& metrics_;
  uint64_t window_start_events_;
  std::chrono::steady_clock::time_point window_start_;
};

}  // namespace tombsync
