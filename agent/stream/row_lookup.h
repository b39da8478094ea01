// Reads rows from the source by key, outside the replication connection: what
// RowFiller uses to complete records whose unchanged TOAST values nobody sent.
// PgRowLookup is the Postgres one; tests use an in-memory fake.
// Called from the pipeline thread only.
#pragma once

#include <cstdint>
#include <vector>

#include "schemas/change.h"

namespace tombsync {

class RowLookup {
 public:
  virtual ~RowLookup() = default;
  // Appends to `out` the rows of `table` whose key (table.key_indexes) equals that of one of
  // `keys` (rows aligned with table.columns; only their key columns are read), as the source
  // holds them now, read once transaction `xid` is visible to other sessions (the walsender
  // may send a commit before the server's other sessions see it): every column of `table` present or NULL, aligned with table.columns, in any
  // order. A key without a row adds nothing. One call is one query: callers batch.
  // Throws Error(kSource): transient when the connection was lost (the session restarts and the
  // transaction is streamed again), not transient when the source refused the query.
  virtual void lookup(const TableSchema& table, uint32_t xid, const std::vector<const std::vector<Datum>*>& keys,
                      std::vector<std::vector<Datum>>& out) = 0;
};

}  // namespace tombsync
