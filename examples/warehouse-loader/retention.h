// Retention for the example consumers: deletes a table's rows whose timestamp is
// older than a window. Safe against replays because the consumers never re-read a
// record they applied (offsets live in the target database with the rows).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "connectors/postgres/pg_connection.h"

namespace tombsync::loader {

// One DELETE, its own transaction: rows of `table` (qualified, quoted) where `condition`
// holds (empty: every row) and `timestamp_column` < now() - older_than. Returns the count.
// Throws Error(kSource) when the database refuses.
size_t delete_older_than(pg::PgConnection& conn, const std::string& table, const std::string& timestamp_column,
                         std::chrono::seconds older_than, const std::string& condition = "");

}  // namespace tombsync::loader
