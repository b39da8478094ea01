// The audit database side: the audit_log table, and the transaction that
// writes a batch's deletes into it together with the partitions' new offsets
// (loader::OffsetStore), so a batch is recorded with its offsets or not at all.
// Records at or before their partition's last applied position are
// redeliveries (the agent's producer retried after a crash) and are skipped.
//
// Used from the main thread only, on its one connection.
#pragma once

#include <array>
#include <chrono>
#include <string>

#include "connectors/postgres/pg_connection.h"
#include "examples/audit-log/audit_event.h"
#include "examples/audit-log/options.h"
#include "examples/warehouse-loader/consumer.h"
#include "examples/warehouse-loader/offset_store.h"

namespace tombsync::audit {

struct BatchCounts {
  size_t records = 0;
  std::array<size_t, kActions> actions{};  // audit rows written, by Action
  size_t skipped = 0;                      // tombstones, truncate events, inserts, updates, reads
  size_t redelivered = 0;                  // at or before the partition's last applied position
  loader::Position last;
};

class AuditWriter {
 public:
  // `conn` and `options` must outlive this object.
  AuditWriter(pg::PgConnection& conn, const Options& options);
  // Creates the schema, audit_log and the offsets table when missing. Throws Error(kSource).
  void ensure_tables();
  // One transaction: the audit rows of the batch's deletes, then the offsets. Throws
  // Error(kSource) when the database refuses (rolled back), Error(kSink) when another consumer
  // of the group moved one of the batch's partitions on (rolled back).
  BatchCounts apply(const loader::Batch& batch);
  // Deletes the audit rows recorded more than `older_than` ago; returns how many.
  size_t purge(std::chrono::seconds older_than);
  loader::OffsetStore& offsets() { return offsets_; }
  const std::string& table() const { return table_; }

 private:
  pg::PgConnection& conn_;
  const Options& options_;
  const std::string table_;  // "schema"."audit_log"
  loader::OffsetStore offsets_;
};

}  // namespace tombsync::audit
