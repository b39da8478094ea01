#include "examples/warehouse-loader/catalog.h"

#include "base/error.h"
#include "examples/warehouse-loader/log.h"

namespace tombsync::loader {
namespace {

// Domains resolve to their base type; a type outside pg_catalog (enum,
// composite, extension type) becomes text, which its Postgres text form fits.
constexpr const char* kColumnsSql = R"(
SELECT a.attname,
       CASE WHEN bn.nspname = 'pg_catalog'
            THEN format_type(b.oid, CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END)
            ELSE 'text' END,
       b.typname
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
JOIN pg_type b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
JOIN pg_namespace bn ON bn.oid = b.typnamespace
WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
ORDER BY a.attnum)";

// One row per index column, in index order; attname is NULL for an expression.
constexpr const char* kIndexesSql = R"(
SELECT c.relname, i.indisprimary, a.attname, pg_get_expr(i.indpred, i.indrelid),
       i.indisreplident
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indrelid = $1::regclass AND i.indisunique AND i.indisvalid AND k.ord <= i.indnkeyatts
ORDER BY i.indisprimary DESC, c.relname, k.ord)";

struct IndexRow {
  std::string name;
  bool primary = false, replident = false, expression = false;
  std::vector<std::string> columns;
  std::optional<std::string> predicate;
};

}  // namespace

bool reserved_name(const std::string& name) {
  return name == "is_deleted" || name == "deleted_at" || name.rfind("__", 0) == 0;
}

const Column* TableShape::column(const std::string& name) const {
  for (const auto& c : columns)
    if (c.name == name) return &c;
  return nullptr;
}

TableShape read_table_shape(pg::PgConnection& source, const TableSpec& spec) {
  TableShape shape{.spec = spec};
  const std::string rel = pg::quote_ident(spec.schema) + "." + pg::quote_ident(spec.name);
  auto exists = source.exec_params("SELECT to_regclass($1) IS NOT NULL", {rel}, "looking up " + spec.qualified());
  if (pg::value_at(exists.get(), 0, 0) != "t")
    throw Error(ErrorKind::kSource, "source table " + spec.qualified() + " does not exist (" + source.describe() +
                                        "): check --table and --source-dsn");

  auto cols = source.exec_params(kColumnsSql, {rel}, "reading the columns of " + spec.qualified());
  for (int r = 0; r < PQntuples(cols.get()); ++r) {
    Column c{.name = *pg::value_at(cols.get(), r, 0), .type = *pg::value_at(cols.get(), r, 1)};
    std::string base = *pg::value_at(cols.get(), r, 2);
    c.bytea = base == "bytea";
    c.datetime = base == "date" || base == "timestamp" || base == "timestamptz";
    if (reserved_name(c.name)) {
      log::info("{}: column {} is tombsync metadata in the JSON value; the warehouse column of that name is "
                "the metadata field", spec.qualified(), c.name);
      continue;
    }
    shape.columns.push_back(std::move(c));
  }

  std::vector<IndexRow> indexes;
  auto idx = source.exec_params(kIndexesSql, {rel}, "reading the unique indexes of " + spec.qualified());
  for (int r = 0; r < PQntuples(idx.get()); ++r) {
    std::string name = *pg::value_at(idx.get(), r, 0);
    if (indexes.empty() || indexes.back().name != name) {
      indexes.push_back({.name = name, .primary = pg::value_at(idx.get(), r, 1) == "t",
                         .replident = pg::value_at(idx.get(), r, 4) == "t",
                         .predicate = pg::value_at(idx.get(), r, 3)});
    }
    auto col = pg::value_at(idx.get(), r, 2);
    if (!col) indexes.back().expression = true;
    else indexes.back().columns.push_back(*col);
  }

  for (const auto& i : indexes) {
    if ((i.primary || (i.replident && shape.key.empty())) && !i.expression && !i.predicate) shape.key = i.columns;
  }
  if (shape.key.empty())
    throw Error(ErrorKind::kSource, "source table " + spec.qualified() +
                                        " has no primary key or replica identity index, so its rows have no "
                                        "key to merge on: add a primary key, or set REPLICA IDENTITY USING INDEX");
  for (const auto& k : shape.key)
    if (!shape.column(k))
      throw Error(ErrorKind::kSource, "source table " + spec.qualified() + ": key column " + k +
                                          " is generated or a reserved name (is_deleted, deleted_at, __*), so "
                                          "tombsync's JSON value does not carry it; rename the column");

  for (const auto& i : indexes) {
    if (i.primary || i.columns == shape.key) continue;
    bool copyable = !i.expression;
    for (const auto& c : i.columns)
      if (!shape.column(c) && c != "is_deleted" && c != "deleted_at") copyable = false;
    if (!copyable) {
      log::warn("{}: unique index {} is on an expression or a column the warehouse does not have; not copied",
                spec.qualified(), i.name);
      continue;
    }
    shape.unique.push_back({.name = i.name, .columns = i.columns, .predicate = i.predicate});
  }
  return shape;
}

}  // namespace tombsync::loader
