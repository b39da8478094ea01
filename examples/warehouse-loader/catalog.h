// What the loader knows of a source table, read from the source's catalog:
// its columns with the type the warehouse gives them, its key, and its
// unique indexes. The warehouse DDL and the merge statements are built from it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "examples/warehouse-loader/options.h"
#include "connectors/postgres/pg_connection.h"

namespace tombsync::loader {

struct Column {
  std::string name;
  // The source type when it is a built-in one (pg_catalog), through domains;
  // "text" for enums, composites and other user types the warehouse may not have.
  std::string type;
  bool bytea = false;     // tombsync sends bytea as base64
  bool datetime = false;  // date/timestamp/timestamptz: may carry ISO astronomical years
};

struct UniqueIndex {
  std::string name;
  std::vector<std::string> columns;
  std::optional<std::string> predicate;  // a partial source index keeps its own predicate too
};

struct TableShape {
  TableSpec spec;
  std::vector<Column> columns;  // table order; generated and reserved-name columns left out
  std::vector<std::string> key;  // primary key, else the replica identity index
  std::vector<UniqueIndex> unique;
  const Column* column(const std::string& name) const;
};

// The JSON value's metadata names (docs/event-format.md "Reserved names"): a
// source column with one of these names is not in the value, so not copied.
bool reserved_name(const std::string& name);

// Throws Error(kSource) when the table does not exist or has no usable key.
TableShape read_table_shape(pg::PgConnection& source, const TableSpec& spec);

}  // namespace tombsync::loader
