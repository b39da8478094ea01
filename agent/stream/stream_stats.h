// Counters for the operator's progress lines (and, later, /metrics).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "schemas/change.h"
#include "base/lsn.h"
#include "schemas/record.h"

namespace tombsync {

struct StreamStats {
  uint64_t inserts = 0, updates = 0, deletes = 0, truncates = 0, reads = 0, tombstones = 0, records = 0;
  uint64_t skipped_transactions = 0;  // already delivered before a restart
  uint64_t window_events = 0;         // since the last report
  int64_t window_start_us = 0;

  // One event and the records it became.
  void count(const ChangeEvent& e, const std::vector<Record>& records);
  // "streamed 1200 events in 10.0 s (120/s): ins 1000 upd 150 del 50 ...; confirmed 0/1A2B, lag 1234 bytes, in flight 12"
  std::string report(Lsn confirmed, Lsn server_end, size_t in_flight);
  std::string totals() const;
};

}  // namespace tombsync
