// Applies the per-table output policy to change events: topic routing, the
// delete policy (flagged event, tombstone, or both), encoding and headers.
// Every record, tombstones included, carries the headers tombsync.op,
// tombsync.lsn, tombsync.commit_lsn, tombsync.xid, tombsync.commit_ts and
// tombsync.table (the first three also order records for RedeliveryFilter).
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "change.h"
#include "config.h"
#include "encoder.h"
#include "record.h"

namespace tombsync {

class RecordBuilder {
 public:
  RecordBuilder(const Config& config, const Encoder& encoder);
  // Appends the records for `event` to `out`, in the order they must reach Kafka.
  void build(const ChangeEvent& event, std::vector<Record>& out);

 private:
  struct Route {
    std::string topic;
    DeletePolicy deletes;
  };
  const Route& route(const TableSchema& table);
  Record base(const ChangeEvent& e, const Route& r, const char* op) const;

  const Config& config_;
  const Encoder& encoder_;
  std::unordered_map<std::string, Route> routes_;  // by "schema.table"
};

}  // namespace tombsync
