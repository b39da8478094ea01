#include "examples/warehouse-loader/warehouse_ddl.h"

#include <map>

#include "base/error.h"
#include "examples/warehouse-loader/log.h"

namespace tombsync::loader {
namespace {

std::string column_list(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + pg::quote_ident(n);
  return out;
}

// Runs `sql` inside a savepoint; on failure rolls back to it and returns the error text.
std::optional<std::string> try_exec(pg::PgConnection& wh, const std::string& sql, const std::string& what) {
  wh.exec("SAVEPOINT ddl", "savepoint");
  try {
    wh.exec(sql, what);
    wh.exec("RELEASE SAVEPOINT ddl", "release savepoint");
    return std::nullopt;
  } catch (const Error& e) {
    wh.exec("ROLLBACK TO SAVEPOINT ddl", "rollback to savepoint");
    return std::string(e.what());
  }
}

void ensure_active_view(pg::PgConnection& wh, const std::string& schema, const TableShape& shape) {
  std::vector<std::string> names;
  for (const auto& c : shape.columns) names.push_back(c.name);
  std::string view = pg::quote_ident(schema) + "." + pg::quote_ident(shape.spec.name + "_active");
  std::string body = " AS SELECT " + column_list(names) + " FROM " + warehouse_table(schema, shape) +
                     " WHERE NOT is_deleted";
  // CREATE OR REPLACE only appends columns; a reordered table needs the view dropped first.
  if (try_exec(wh, "CREATE OR REPLACE VIEW " + view + body, "creating " + view)) {
    wh.exec("DROP VIEW IF EXISTS " + view, "dropping " + view);
    wh.exec("CREATE VIEW " + view + body, "creating " + view);
  }
}

}  // namespace

std::string warehouse_table(const std::string& schema, const TableShape& shape) {
  return pg::quote_ident(schema) + "." + pg::quote_ident(shape.spec.name);
}

std::string offsets_table(const std::string& schema) {
  return pg::quote_ident(schema) + "." + pg::quote_ident("_tombsync_loader_offsets");
}

void ensure_warehouse_table(pg::PgConnection& wh, const std::string& schema, const TableShape& shape) {
  const std::string table = warehouse_table(schema, shape);
  wh.exec("BEGIN", "begin");
  try {
    wh.exec("CREATE SCHEMA IF NOT EXISTS " + pg::quote_ident(schema), "creating schema " + schema);
    auto r = wh.exec_params(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped",
        {table}, "reading " + table);
    std::map<std::string, std::string> existing;
    for (int i = 0; i < PQntuples(r.get()); ++i) existing[*pg::value_at(r.get(), i, 0)] = *pg::value_at(r.get(), i, 1);

    if (existing.empty()) {
      std::string ddl = "CREATE TABLE " + table + " (";
      for (const auto& c : shape.columns) ddl += pg::quote_ident(c.name) + " " + c.type + ", ";
      ddl += "is_deleted boolean NOT NULL DEFAULT false, deleted_at timestamptz, _synced_lsn pg_lsn NOT NULL, "
             "_synced_seq bigint NOT NULL, _synced_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (" +
             column_list(shape.key) + "))";
      wh.exec(ddl, "creating " + table);
      log::info("created warehouse table {} ({} columns, key {})", table, shape.columns.size(), column_list(shape.key));
    } else {
      if (!existing.count("_synced_lsn") || !existing.count("_synced_seq") || !existing.count("is_deleted"))
        throw Error(ErrorKind::kSource, "warehouse table " + table + " exists but is not a loader table (no "
                                        "is_deleted/_synced_lsn/_synced_seq columns): use another --warehouse-schema");
      for (const auto& c : shape.columns) {
        auto it = existing.find(c.name);
        if (it == existing.end()) {
          wh.exec("ALTER TABLE " + table + " ADD COLUMN " + pg::quote_ident(c.name) + " " + c.type,
                  "adding column " + c.name + " to " + table);
          log::info("{}: added column {} {} (new in the source)", table, c.name, c.type);
        } else if (it->second != c.type) {
          log::warn("{}: column {} is {} in the warehouse and {} in the source; values are cast to {}", table,
                    c.name, it->second, c.type, it->second);
        }
      }
    }
    // Purging by age scans only the flagged rows.
    wh.exec("CREATE INDEX IF NOT EXISTS " + pg::quote_ident(shape.spec.name + "_deleted_at") + " ON " + table +
                " (deleted_at) WHERE is_deleted",
            "creating the deleted_at index of " + table);
    // Finds the row a primary-key change deleted, for the new key's unchanged TOAST values (merge.cc).
    wh.exec("CREATE INDEX IF NOT EXISTS " + pg::quote_ident(shape.spec.name + "_synced_position") + " ON " + table +
                " (_synced_lsn, _synced_seq) WHERE is_deleted",
            "creating the position index of " + table);
    for (const auto& u : shape.unique) {
      auto have = wh.exec_params("SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass($1) AND conname = $2",
                                 {table, u.name}, "looking up constraint " + u.name);
      if (PQntuples(have.get()) > 0) continue;
      // A partial unique index checked at commit: records arrive per partition, so inside a batch
      // a row may take a value before the row on another partition that gave it up is applied
      // (or the reverse, after an earlier batch raced ahead). Only the batch's end state has to be
      // unique, which an immediate unique index cannot express and a deferred exclusion can.
      std::string where = u.predicate ? "(" + *u.predicate + ") AND NOT is_deleted" : "NOT is_deleted";
      std::string cols;
      for (const auto& c : u.columns) cols += (cols.empty() ? "" : ", ") + pg::quote_ident(c) + " WITH =";
      std::string sql = "ALTER TABLE " + table + " ADD CONSTRAINT " + pg::quote_ident(u.name) + " EXCLUDE USING btree (" +
                        cols + ") WHERE (" + where + ") DEFERRABLE INITIALLY DEFERRED";
      if (auto failed = try_exec(wh, sql, "creating unique constraint " + u.name))
        log::warn("{}: unique index {} not copied: {}", table, u.name, *failed);
    }
    ensure_active_view(wh, schema, shape);
    wh.exec("COMMIT", "commit");
  } catch (...) {
    PQclear(PQexec(wh.raw(), "ROLLBACK"));
    throw;
  }
}

}  // namespace tombsync::loader
