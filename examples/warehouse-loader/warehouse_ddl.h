// The warehouse side of each table: the copy itself (source columns plus
// is_deleted, deleted_at, _synced_lsn, _synced_seq, _synced_at), the
// <table>_active view, the source's unique indexes as partial unique constraints
// WHERE NOT is_deleted, and the offsets table that makes the loader restartable.
// Every function is idempotent: it creates what is missing and keeps the rest.
#pragma once

#include <string>

#include "examples/warehouse-loader/catalog.h"
#include "connectors/postgres/pg_connection.h"

namespace tombsync::loader {

// "schema"."table" of the warehouse copy.
std::string warehouse_table(const std::string& schema, const TableShape& shape);
// "schema"."_tombsync_loader_offsets": per consumer group, topic and partition, the next
// Kafka offset to apply and the stream position of the last record applied, written in
// the same transaction as the rows (offset_store.h).
std::string offsets_table(const std::string& schema);

// Creates the copy, or adds the columns the source gained since; in one transaction.
// Throws Error(kSource) when a table of that name exists but is not a loader table.
void ensure_warehouse_table(pg::PgConnection& wh, const std::string& schema, const TableShape& shape);

}  // namespace tombsync::loader
