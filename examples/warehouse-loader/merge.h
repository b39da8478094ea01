// The idempotent merge: applies a batch of records to the warehouse in one
// transaction, together with the partitions' new offsets. A record changes a
// row only when its position (commit_lsn, seq) is after the row's
// (_synced_lsn, _synced_seq), and a record at or before the last position
// applied on its partition is a redelivery and is skipped; so a batch applied
// twice, or a record delivered twice, changes nothing the second time.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "examples/warehouse-loader/catalog.h"
#include "examples/warehouse-loader/consumer.h"
#include "examples/warehouse-loader/offset_store.h"
#include "examples/warehouse-loader/options.h"
#include "connectors/postgres/pg_connection.h"

namespace tombsync::loader {

struct TableCounts {
  size_t records = 0;
  size_t upserts = 0;      // rows written live (insert, update, read, restore)
  size_t deletes = 0;      // rows written flagged (delete events, soft deletes)
  size_t tombstones = 0;   // tombstones that flagged or removed a row
  size_t truncated = 0;    // rows a truncate flagged
  size_t stale = 0;        // records older than the row they target (already applied)
  size_t redelivered = 0;  // records at or before their partition's last applied position
  Position last;
};

struct MergeOutcome {
  enum class Status {
    kApplied,
    kUniqueConflict,  // a copied unique constraint refused the batch: the change that frees the value is not in it yet
    kSchemaChanged,   // a record has a column the warehouse table lacks
  };
  Status status = Status::kApplied;
  std::string detail;
  size_t table = 0;  // kSchemaChanged: which table
  std::map<size_t, TableCounts> counts;
};

class WarehouseMerge {
 public:
  // `shapes` must outlive this object; they may change between batches (schema changes).
  WarehouseMerge(pg::PgConnection& wh, const Options& options, const std::vector<TableShape>& shapes);
  // Everything in one transaction; rolled back unless the outcome is kApplied. Throws
  // Error(kSource) on any other warehouse failure, Error(kSink) when another loader moved
  // one of the batch's partitions since this one read it.
  MergeOutcome apply(const Batch& batch);
  // Statements of a table are rebuilt after its shape changed.
  void forget_statements() { prepared_.clear(); }
  std::map<PartitionId, StoredOffset> load_offsets(const std::vector<PartitionId>& ids) { return offsets_.load(ids); }
  OffsetStore& offsets() { return offsets_; }

 private:
  struct StatementFailure {
    std::string sqlstate, constraint, message;
  };
  // Executes `sql` (prepared on first use) and returns the number of rows it touched.
  size_t run(const std::string& sql, const std::vector<std::optional<std::string>>& params);
  void apply_row(const LoaderRecord& r, TableCounts& counts);
  void apply_tombstone(const LoaderRecord& r, TableCounts& counts);
  void apply_truncate(const LoaderRecord& r, TableCounts& counts);

  pg::PgConnection& wh_;
  const Options& options_;
  const std::vector<TableShape>& shapes_;
  std::unordered_map<std::string, std::string> prepared_;  // SQL -> statement name
  size_t statement_counter_ = 0;
  OffsetStore offsets_;  // _tombsync_loader_offsets, advanced inside apply()
};

}  // namespace tombsync::loader
