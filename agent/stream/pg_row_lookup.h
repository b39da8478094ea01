// RowLookup on its own SQL connection (never the replication one), opened at
// the first lookup and named "tombsync-lookup" in pg_stat_activity. A lookup is
// one `COPY (SELECT <columns> FROM <table> WHERE (<key>) IN (...)) TO STDOUT`,
// parsed into Datums by the snapshot reader's COPY parser and type mapping, so a
// filled value has the form the stream gives it. The session settings are the
// replication connection's (pg::kSessionOptions), so values print alike. Before
// its first lookup for a transaction it waits until that transaction is visible.
// Used by the pipeline thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/stream/row_lookup.h"

namespace tombsync {
namespace pg {
class PgConnection;
}

class PgRowLookup final : public RowLookup {
 public:
  static constexpr const char* kApplicationName = "tombsync-lookup";

  explicit PgRowLookup(std::string dsn);
  ~PgRowLookup() override;

  void lookup(const TableSchema& table, uint32_t xid, const std::vector<const std::vector<Datum>*>& keys,
              std::vector<std::vector<Datum>>& out) override;

 private:
  [[noreturn]] void fail(const std::string& what);
  // Waits until `xid` is visible in a new snapshot (Postgres writes a commit to the WAL, and
  // the walsender may send it, before it leaves the running transactions); Error(kSource, not
  // transient) after 10 s: the rows go unfilled (RowFiller).
  void wait_visible(uint32_t xid);

  std::string dsn_;
  std::unique_ptr<pg::PgConnection> conn_;  // null until the first lookup, and after a failure
  std::optional<uint32_t> visible_;          // the last xid seen visible
};

// The key's value as Postgres text, for an untyped literal the server casts to the column's
// type: integers and floats in decimal, booleans t/f, bytea as \x hex, the rest as decoded
// (ISO dates and times, which Postgres reads back under DateStyle=ISO).
std::string key_literal_text(ColumnType type, const Datum& d);

}  // namespace tombsync
