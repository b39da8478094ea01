// After an unclean stop (kill -9, OOM, power loss), Kafka may hold records
// whose transaction was never confirmed: the restart streams them again.
// This filter recognises them. Each record's stream position is
//   (commit LSN of its transaction, its ordinal within the transaction)
// which strictly increases along the stream (a change LSN would not do: one
// multi-insert WAL record carries many rows), and the idempotent producer
// keeps each partition in that order with no gaps. So a record whose position
// is at or below the position of its partition's last record (read once at
// start) is already in Kafka and is not written again. Only tails written by
// this source and slot count (header tombsync.source), so records of another
// database or another tombsync sharing a topic never hide ours.
// Single-threaded (the pipeline thread).
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "base/lsn.h"
#include "schemas/record.h"

namespace tombsync {

struct StreamPosition {
  Lsn commit_lsn;
  uint32_t seq = 0;
  auto operator<=>(const StreamPosition&) const = default;
};

// From a record's headers; nullopt when they are missing or malformed, or
// when tombsync.source is not `source` (a record someone else wrote).
std::optional<StreamPosition> position_from_headers(const std::map<std::string, std::string>& headers,
                                                    const std::string& source);

class RedeliveryFilter {
 public:
  void add_tail(const std::string& topic, KafkaPartition partition, StreamPosition last);
  bool active() const { return !tails_.empty(); }
  // True when `partition` of `topic` already holds the record at `pos`.
  bool already_written(const std::string& topic, KafkaPartition partition, const StreamPosition& pos) const;
  // Called at each commit: once the stream is past every tail, nothing more
  // can be a repeat and the filter switches itself off.
  void observe_commit(Lsn commit_lsn);
  size_t tails() const { return tails_.size(); }

 private:
  std::map<std::pair<std::string, KafkaPartition>, StreamPosition> tails_;
  Lsn last_commit_;  // highest commit LSN among the tails
};

}  // namespace tombsync
