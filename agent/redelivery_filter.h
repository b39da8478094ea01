// After an unclean stop (kill -9, OOM, power loss), Kafka may hold records
// whose transaction was never confirmed: the restart streams them again.
// This filter recognises them. Each record's stream position is
//   (commit LSN, change LSN, rank)   rank: delete 0, tombstone 1, other 2
// which strictly increases along the stream, and the idempotent producer
// keeps each partition in that order with no gaps. So a record whose position
// is at or below the position of its partition's last record (read once at
// start) is already in Kafka and is not written again.
// Single-threaded (the pipeline thread).
#pragma once

#include <compare>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lsn.h"

namespace tombsync {

struct StreamPosition {
  Lsn commit_lsn;
  Lsn lsn;
  int rank = 2;
  auto operator<=>(const StreamPosition&) const = default;
};

// From tombsync's record headers; nullopt when they are missing or malformed
// (a record some other producer wrote).
std::optional<StreamPosition> position_from_headers(const std::vector<std::pair<std::string, std::string>>& headers);
std::optional<StreamPosition> position_from_headers(const std::map<std::string, std::string>& headers);

class RedeliveryFilter {
 public:
  void add_tail(const std::string& topic, int partition, StreamPosition last);
  bool active() const { return !tails_.empty(); }
  // True when `partition` of `topic` already holds the record at `pos`.
  bool already_written(const std::string& topic, int partition, const StreamPosition& pos) const;
  // Called at each commit: once the stream is past every tail, nothing more
  // can be a repeat and the filter switches itself off.
  void observe_commit(Lsn commit_lsn);
  size_t tails() const { return tails_.size(); }

 private:
  std::map<std::pair<std::string, int>, StreamPosition> tails_;
  Lsn last_commit_;  // highest commit LSN among the tails
};

}  // namespace tombsync
