// Retention: rows flagged deleted for longer than --purge-deleted-after are
// removed for good. Safe against replays because the loader never re-reads a
// record it applied (offsets live in the warehouse with the rows).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "examples/warehouse-loader/catalog.h"
#include "connectors/postgres/pg_connection.h"

namespace tombsync::loader {

// One DELETE per table, each its own transaction; logs one line per table that lost rows.
// Returns the rows removed. Throws Error(kSource) when the warehouse refuses.
size_t purge_deleted(pg::PgConnection& wh, const std::string& schema, const std::vector<TableShape>& shapes,
                     std::chrono::seconds older_than);

}  // namespace tombsync::loader
