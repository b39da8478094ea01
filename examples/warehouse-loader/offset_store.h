// Kafka offsets kept in the consumer's target database, written in the same
// transaction as what a batch applies: a batch is either applied with its offsets
// or not at all, so a crash at any moment neither repeats nor skips a record
// (README.md "Exactly once"). One row per (consumer group, topic, partition):
// the next offset to apply and the position of the last record applied there.
//
// Used from the consumer program's main thread only, on its one connection.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "connectors/postgres/pg_connection.h"
#include "examples/warehouse-loader/consumer.h"

namespace tombsync::loader {

class OffsetStore {
 public:
  // `table` is the offsets table, schema-qualified and quoted; `conn` must outlive this object.
  OffsetStore(pg::PgConnection& conn, std::string table, std::string group);
  // Creates the table if missing (outside any transaction). Throws Error(kSource).
  void ensure_table(const std::string& schema);
  // The stored offsets of those of `ids` this group has a row for. Throws Error(kSource).
  std::map<PartitionId, StoredOffset> load(const std::vector<PartitionId>& ids);
  // Inside the caller's open transaction: moves the partition to adv.next_offset. A fence: the
  // row must still hold adv.expected_next (or be absent when that is nullopt), else another
  // consumer of the group moved it on and this throws Error(kSink) (the caller rolls back).
  void advance(const PartitionAdvance& adv);
  const std::string& table() const { return table_; }

 private:
  pg::PgConnection& conn_;
  const std::string table_;
  const std::string group_;
};

}  // namespace tombsync::loader
