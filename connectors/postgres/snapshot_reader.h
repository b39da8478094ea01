// One Postgres connection that reads snapshot chunks for the Snapshotter:
// a table's columns and key (once per table), the DBLog watermarks, and each
// chunk as `COPY (SELECT ... ORDER BY key LIMIT n) TO STDOUT`, parsed from the
// COPY text rows straight into Datums (no PGresult is built for the rows).
// The connection reports application_name "tombsync-snapshot", so operators
// (and the tests) can count snapshot connections in pg_stat_activity.
// Used by one thread at a time; cancel() may be called from any thread.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "schemas/change.h"
#include "connectors/postgres/pg_connection.h"
#include "connectors/postgres/source_catalog.h"

namespace tombsync {

// What reading one table needs, built once from the catalog.
struct SnapshotPlan {
  std::shared_ptr<const TableSchema> schema;
  std::string select;                  // "SELECT <columns> FROM <table>"
  std::string key_list;                // "<k1>, <k2>": the ORDER BY and the keyset comparison
  std::vector<std::string> key_types;  // format_type() of each key column, for the literal casts
  std::vector<size_t> key_positions;   // of the key columns in the SELECT list
  int chunk_rows = 0;
  double estimate = 0;  // pg_class.reltuples when planned
};

// One chunk as read: rows in key order, and where the next chunk starts.
struct ChunkRows {
  std::vector<std::vector<Datum>> rows;
  // Postgres text of the last row's key columns; nullopt when the chunk is empty.
  std::optional<std::vector<std::string>> last_key;
};

class SnapshotReader {
 public:
  static constexpr const char* kApplicationName = "tombsync-snapshot";

  // Throws Error(kSource) when Postgres cannot be reached.
  explicit SnapshotReader(const std::string& dsn);
  ~SnapshotReader();
  SnapshotReader(const SnapshotReader&) = delete;
  SnapshotReader& operator=(const SnapshotReader&) = delete;

  // Reads the table's columns and key from the catalog. Throws Error(kSource)
  // for a key column that is missing or allows NULL (paging by it would skip rows).
  SnapshotPlan plan(const pg::ResolvedTable& table, const std::unordered_map<uint32_t, std::string>& type_names,
                    int chunk_rows);
  // Writes a transactional logical message (prefix "tombsync") to the WAL and commits it.
  void watermark(const std::string& content);
  // Reads up to plan.chunk_rows rows whose key is greater than `after` (all
  // from the first row when nullopt) into `out`, replacing what it held.
  void read(const SnapshotPlan& plan, const std::optional<std::vector<std::string>>& after, ChunkRows& out);
  // Ends the connection's socket so a read blocked on it fails at once (for
  // shutdown; the reader is unusable afterwards). Callable from any thread
  // while the reader is alive.
  void cancel();

 private:
  std::string literal(const std::string& text);

  pg::PgConnection conn_;
};

// Splits one COPY text-format row (without its newline) into its fields and
// decodes them by column type; exposed for unit tests. `scratch` is reused
// between calls. Throws Error(kProtocol) when the field count is wrong.
void parse_copy_row(std::string_view line, const TableSchema& schema, std::vector<Datum>& row,
                    std::string& scratch);
// A libpq error message on one line: no trailing newline or space, inner newlines as spaces.
std::string libpq_message_line(const char* message);
// The field's text with COPY's backslash escapes undone (\N is handled by the caller).
void unescape_copy_field(std::string_view field, std::string& out);

}  // namespace tombsync
