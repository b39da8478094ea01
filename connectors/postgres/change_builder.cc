#include "connectors/postgres/change_builder.h"

#include <limits>

#include <algorithm>

#include "base/error.h"
#include "connectors/postgres/type_mapping.h"

namespace tombsync::pg {
namespace {

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

bool datum_equal(const Datum& a, const Datum& b) {
  return a.state == b.state && a.i == b.i && a.b == b.b && a.text == b.text &&
         (a.d == b.d || (a.d != a.d && b.d != b.d));
}

}  // namespace

ChangeBuilder::ChangeBuilder(const std::vector<ResolvedTable>& tables,
                             std::unordered_map<uint32_t, std::string> type_names)
    : type_names_(std::move(type_names)) {
  for (const auto& t : tables) configured_[t.oid] = Configured{t.qualified(), t.key_columns};
}

// Every encoder must be able to print the commit time: Debezium's source.ts_ns is the time in
// nanoseconds, which fits an int64 only for 1677-2262. A time outside that is a broken stream or
// server clock; converting it would overflow.
void ChangeBuilder::check_commit_time(const BeginMsg& m, Lsn wal_start) {
  constexpr int64_t kLimit = std::numeric_limits<int64_t>::max() / 1000;  // Unix microseconds
  const int64_t pg = m.commit_ts.value();
  if (pg > kLimit - kPgEpochOffsetMicros || pg < -kLimit - kPgEpochOffsetMicros)
    throw Error(ErrorKind::kProtocol, "Begin of transaction " + std::to_string(m.xid) + " at LSN " + wal_start.str() +
                                          " has commit timestamp " + std::to_string(pg) +
                                          " (microseconds since 2000-01-01), outside the years 1677-2262 every "
                                          "encoder can represent; the stream or the server's clock is broken");
}

BuildStep ChangeBuilder::apply(PgOutputMessage msg, Lsn wal_start, std::vector<ChangeEvent>& out) {
  auto require_txn = [&](const char* what) {
    if (!current_)
      throw Error(ErrorKind::kProtocol, std::string(what) + " outside a transaction at LSN " + wal_start.str());
  };
  return std::visit(
      Overloaded{
          [&](const BeginMsg& m) {
            check_commit_time(m, wal_start);
            current_ = TxnBegin{m.final_lsn, m.xid, to_unix(m.commit_ts)};
            return BuildStep{current_, {}, {}, {}};
          },
          [&](const CommitMsg& m) {
            require_txn("Commit");
            if (m.commit_lsn != current_->commit_lsn)
              throw Error(ErrorKind::kProtocol, "Commit at LSN " + wal_start.str() + " is for " +
                                                    m.commit_lsn.str() + " but the open transaction commits at " +
                                                    current_->commit_lsn.str());
            current_.reset();
            return BuildStep{{}, TxnCommit{m.commit_lsn, m.end_lsn}, {}, {}};
          },
          [&](const OriginMsg&) { return BuildStep{}; },
          [&](const RelationMsg& m) { return on_relation(m); },
          [&](const TypeMsg& m) {
            type_names_[m.oid] = m.nspname.empty() ? m.typname : m.nspname + "." + m.typname;
            return BuildStep{};
          },
          [&](InsertMsg& m) {
            require_txn("Insert");
            if (ignored_.count(m.relid)) return BuildStep{};
            const auto& rel = relation(m.relid, wal_start, "Insert");
            out.push_back(event(Op::kInsert, rel, to_row(rel, m.new_tuple, false, wal_start), wal_start));
            return BuildStep{};
          },
          [&](UpdateMsg& m) {
            require_txn("Update");
            if (ignored_.count(m.relid)) return BuildStep{};
            const auto& rel = relation(m.relid, wal_start, "Update");
            auto row = to_row(rel, m.new_tuple, false, wal_start);
            bool key_changed = false;
            if (m.old_kind != 0) {
              auto old = to_row(rel, m.old_tuple, m.old_kind == 'K', wal_start);
              // An unchanged TOAST value in the new image is known when the old image carries it.
              for (size_t i = 0; i < row.size(); ++i)
                if (row[i].state == Datum::State::kUnchanged && old[i].present()) row[i] = old[i];
              if (!rel.schema->key_indexes.empty() && !same_key(*rel.schema, old, row)) {
                auto del = event(Op::kDelete, rel, std::move(old), wal_start);
                del.is_deleted = true;
                del.deleted_at_us = current_->commit_ts_us;
                out.push_back(std::move(del));
                key_changed = true;
              }
            }
            out.push_back(event(Op::kUpdate, rel, std::move(row), wal_start));
            out.back().key_changed = key_changed;
            return BuildStep{};
          },
          [&](DeleteMsg& m) {
            require_txn("Delete");
            if (ignored_.count(m.relid)) return BuildStep{};
            const auto& rel = relation(m.relid, wal_start, "Delete");
            auto del = event(Op::kDelete, rel, to_row(rel, m.old_tuple, m.old_kind == 'K', wal_start), wal_start);
            del.is_deleted = true;
            del.deleted_at_us = current_->commit_ts_us;
            out.push_back(std::move(del));
            return BuildStep{};
          },
          [&](const TruncateMsg& m) {
            require_txn("Truncate");
            for (auto relid : m.relids) {
              if (ignored_.count(relid)) continue;
              const auto& rel = relation(relid, wal_start, "Truncate");
              out.push_back(event(Op::kTruncate, rel, {}, wal_start));
            }
            return BuildStep{};
          },
          [&](const LogicalMsg& m) { return BuildStep{{}, {}, m, {}}; },
      },
      msg);
}

BuildStep ChangeBuilder::on_relation(const RelationMsg& m) {
  std::string name = m.nspname + "." + m.relname;
  auto configured = configured_.find(m.relid);
  if (configured != configured_.end() && configured->second.name != name)
    throw Error(ErrorKind::kSource, "table " + configured->second.name + " was renamed to " + name +
                                        " (ALTER TABLE ... RENAME); update source.tables and restart tombsync");
  if (configured == configured_.end()) {
    bool first = !ignored_.count(m.relid);
    ignored_[m.relid] = true;
    relations_.erase(m.relid);
    BuildStep step;
    if (first)
      step.notice = printable_line("publication sends " + name + " (relation " + std::to_string(m.relid.value()) +
                    "), which is not one of the tables in source.tables; what arrives under this name is skipped. "
                    "(Changes to the partitions of a configured partitioned table arrive under that table's "
                    "own name and are streamed; a configured table dropped and re-created is picked up at the "
                    "next start.)");
    return step;
  }
  auto schema = std::make_shared<TableSchema>();
  schema->relid = m.relid;
  schema->schema = m.nspname;
  schema->table = m.relname;
  Relation rel;
  for (const auto& c : m.columns) {
    ColumnSpec spec;
    spec.name = c.name;
    spec.type_oid = c.type_oid;
    spec.type_mod = c.type_mod;
    spec.type_name = type_name(c.type_oid);
    spec.type = column_type_for_oid(c.type_oid);
    schema->columns.push_back(std::move(spec));
    rel.in_identity.push_back(c.in_identity());
  }
  for (const auto& key : configured->second.key_columns) {
    auto it = std::find_if(schema->columns.begin(), schema->columns.end(),
                           [&](const ColumnSpec& c) { return c.name == key; });
    if (it == schema->columns.end())
      throw Error(ErrorKind::kSource, "key column \"" + key + "\" of " + name +
                                          " is no longer in the table (dropped or renamed by ALTER TABLE?); "
                                          "update key_columns or the table, then restart tombsync");
    it->key = true;
    schema->key_indexes.push_back(static_cast<size_t>(it - schema->columns.begin()));
  }
  rel.schema = std::move(schema);
  ignored_.erase(m.relid);
  relations_[m.relid] = std::move(rel);
  return BuildStep{};
}

const ChangeBuilder::Relation& ChangeBuilder::relation(RelationId relid, Lsn wal_start, const char* what) {
  auto it = relations_.find(relid);
  if (it == relations_.end())
    throw Error(ErrorKind::kProtocol, std::string(what) + " at LSN " + wal_start.str() + " refers to relation " +
                                          std::to_string(relid.value()) + ", which no Relation message described");
  return it->second;
}

namespace {

// decode_text_value, with the column, table and LSN added to its error.
Datum decode_column(const ColumnSpec& column, std::string&& text, const TableSchema& table, Lsn wal_start) {
  try {
    return take_text_value(column.type, std::move(text));
  } catch (const Error& e) {
    throw Error(e.kind(), "column " + column.name + " of " + table.qualified() + " at LSN " + wal_start.str() +
                              ": " + e.what());
  }
}

}  // namespace

std::vector<Datum> ChangeBuilder::to_row(const Relation& rel, Tuple& tuple, bool key_only_image,
                                         Lsn wal_start) {
  const auto& cols = rel.schema->columns;
  if (tuple.size() != cols.size())
    throw Error(ErrorKind::kProtocol, "tuple at LSN " + wal_start.str() + " for " + rel.schema->qualified() +
                                          " has " + std::to_string(tuple.size()) + " columns, the relation " +
                                          std::to_string(cols.size()));
  std::vector<Datum> row;
  row.reserve(cols.size());
  for (size_t i = 0; i < cols.size(); ++i) {
    auto& v = tuple[i];
    if (key_only_image && !rel.in_identity[i]) {
      row.push_back(Datum::absent());
    } else if (v.kind == 'n') {
      row.push_back(Datum::null());
    } else if (v.kind == 'u') {
      row.push_back(Datum::unchanged());
    } else if (v.kind == 't') {
      row.push_back(decode_column(cols[i], std::move(v.data), *rel.schema, wal_start));
    } else {
      throw Error(ErrorKind::kProtocol, "column " + cols[i].name + " of " + rel.schema->qualified() +
                                            " at LSN " + wal_start.str() + " arrived in binary form, "
                                            "which tombsync does not request");
    }
  }
  return row;
}

// Every event of a keyed table carries its key: the encoders key the record by it, and a guessed
// key would send it to the wrong partition. Postgres always sends one (a key-only old image is the
// replica identity, which the start-up rules made cover the key columns; an unchanged TOASTed key
// comes in the old key image), so a missing key is a replica identity changed while streaming, or
// a broken stream.
void ChangeBuilder::require_key(Op op, const Relation& rel, const std::vector<Datum>& row, Lsn wal_start) const {
  const TableSchema& t = *rel.schema;
  for (auto i : t.key_indexes) {
    const std::string what = std::string("the ") + to_string(op) + " of " + t.qualified() + " at LSN " +
                             wal_start.str() + " carries no value for key column \"" + t.columns[i].name + "\"";
    if (row[i].state == Datum::State::kAbsent)
      throw Error(ErrorKind::kSource, what + ": the table's replica identity does not cover it (changed by ALTER "
                                             "TABLE ... REPLICA IDENTITY?); make it cover the key columns "
                                             "(docs/configuration.md, key_columns) and restart tombsync");
    if (row[i].state == Datum::State::kUnchanged)
      throw Error(ErrorKind::kProtocol, what + ": it is an unchanged TOAST value and no old key image came "
                                               "with it, so the record's key is unknown");
  }
}

ChangeEvent ChangeBuilder::event(Op op, const Relation& rel, std::vector<Datum> row, Lsn wal_start) const {
  if (op != Op::kTruncate) require_key(op, rel, row, wal_start);
  ChangeEvent e;
  e.op = op;
  e.table = rel.schema;
  e.row = std::move(row);
  e.source.lsn = wal_start;
  e.source.commit_lsn = current_->commit_lsn;
  e.source.xid = current_->xid;
  e.source.commit_ts_us = current_->commit_ts_us;
  return e;
}

bool ChangeBuilder::same_key(const TableSchema& t, const std::vector<Datum>& a,
                             const std::vector<Datum>& b) const {
  for (auto i : t.key_indexes) {
    // A key column the old image lacks cannot have changed.
    if (a[i].state == Datum::State::kAbsent || b[i].state == Datum::State::kUnchanged) continue;
    if (!datum_equal(a[i], b[i])) return false;
  }
  return true;
}

std::string ChangeBuilder::type_name(uint32_t oid) const {
  auto it = type_names_.find(oid);
  return it != type_names_.end() ? it->second : "oid:" + std::to_string(oid);
}

}  // namespace tombsync::pg
