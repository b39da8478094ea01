#include "examples/warehouse-loader/merge.h"

#include <algorithm>

#include "base/error.h"
#include "examples/warehouse-loader/log.h"
#include "examples/warehouse-loader/value_text.h"
#include "examples/warehouse-loader/warehouse_ddl.h"

namespace tombsync::loader {
namespace {

struct SchemaChanged {
  size_t table;
  std::string column;
};

std::string param(size_t n) { return "$" + std::to_string(n); }

// The row-position guard every statement carries.
std::string newer_than_row(size_t lsn_param) {
  return "(w._synced_lsn, w._synced_seq) < (" + param(lsn_param) + "::pg_lsn, " + param(lsn_param + 1) + "::bigint)";
}

}  // namespace

WarehouseMerge::WarehouseMerge(pg::PgConnection& wh, const Options& options, const std::vector<TableShape>& shapes)
    : wh_(wh), options_(options), shapes_(shapes), offsets_(wh, offsets_table(options.warehouse_schema), options.group) {}

size_t WarehouseMerge::run(const std::string& sql, const std::vector<std::optional<std::string>>& params) {
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    std::string name = "loader_" + std::to_string(++statement_counter_);
    pg::PgResult p(PQprepare(wh_.raw(), name.c_str(), sql.c_str(), 0, nullptr));
    if (!p || PQresultStatus(p.get()) != PGRES_COMMAND_OK)
      throw StatementFailure{"", "", PQerrorMessage(wh_.raw())};
    it = prepared_.emplace(sql, name).first;
  }
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  pg::PgResult r(PQexecPrepared(wh_.raw(), it->second.c_str(), static_cast<int>(values.size()), values.data(),
                                nullptr, nullptr, 0));
  if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
    const char* state = r ? PQresultErrorField(r.get(), PG_DIAG_SQLSTATE) : nullptr;
    const char* constraint = r ? PQresultErrorField(r.get(), PG_DIAG_CONSTRAINT_NAME) : nullptr;
    throw StatementFailure{state ? state : "", constraint ? constraint : "", PQerrorMessage(wh_.raw())};
  }
  const char* tuples = PQcmdTuples(r.get());
  return tuples && *tuples ? std::stoul(tuples) : 0;
}

void WarehouseMerge::apply_row(const LoaderRecord& r, TableCounts& counts) {
  const TableShape& shape = shapes_[r.table];
  for (const auto& [name, v] : r.value.items())
    if (!reserved_name(name) && !shape.column(name)) throw SchemaChanged{r.table, name};
  std::string cols, values, updates;
  std::vector<std::optional<std::string>> params;
  for (const auto& c : shape.columns) {
    auto it = r.value.find(c.name);
    if (it == r.value.end()) continue;  // unchanged TOAST or not in a key-only delete: keep what is stored
    params.push_back(pg_input(*it, c));
    cols += pg::quote_ident(c.name) + ", ";
    values += placeholder(static_cast<int>(params.size()), c) + ", ";
    bool key = std::find(shape.key.begin(), shape.key.end(), c.name) != shape.key.end();
    if (!key) updates += pg::quote_ident(c.name) + " = EXCLUDED." + pg::quote_ident(c.name) + ", ";
  }
  // An unchanged TOAST value of a row the warehouse does not hold under this key comes from the
  // row its transaction deleted just before (a primary-key change: delete event at seq-1, or at
  // seq-2 behind its tombstone). An existing row keeps its own value (not in the SET list).
  std::vector<std::string> unchanged;
  if (auto u = r.value.find("__unchanged"); u != r.value.end() && u->is_array())
    for (const auto& name : *u)
      if (name.is_string() && shape.column(name.get<std::string>())) unchanged.push_back(name.get<std::string>());
  const std::string table = warehouse_table(options_.warehouse_schema, shape);
  for (const auto& name : unchanged) {
    std::string lsn = param(params.size() + 3), seq = param(params.size() + 4);
    cols += pg::quote_ident(name) + ", ";
    values += "(SELECT o." + pg::quote_ident(name) + " FROM " + table + " o WHERE o.is_deleted AND o._synced_lsn = " +
              lsn + "::pg_lsn AND o._synced_seq BETWEEN " + seq + "::bigint - 2 AND " + seq +
              "::bigint - 1 ORDER BY o._synced_seq DESC LIMIT 1), ";
  }
  for (const auto& k : shape.key)
    if (!r.value.contains(k))
      throw Error(ErrorKind::kProtocol, shape.spec.topic + " partition " + std::to_string(r.partition) + " offset " +
                                            std::to_string(r.offset) + ": the value has no key column " + k);
  bool deleted = r.value.value("is_deleted", false);
  const auto& deleted_at = r.value["deleted_at"];
  params.push_back(deleted ? "true" : "false");
  params.push_back(deleted_at.is_string() ? std::optional<std::string>(deleted_at.get<std::string>()) : std::nullopt);
  params.push_back(r.position.commit_lsn.str());
  params.push_back(std::to_string(r.position.seq));
  size_t n = params.size();
  std::string key_list;
  for (const auto& k : shape.key) key_list += (key_list.empty() ? "" : ", ") + pg::quote_ident(k);
  std::string sql = "INSERT INTO " + table + " AS w (" + cols +
                    "is_deleted, deleted_at, _synced_lsn, _synced_seq, _synced_at) VALUES (" + values + param(n - 3) +
                    "::boolean, " + param(n - 2) + "::timestamptz, " + param(n - 1) + "::pg_lsn, " + param(n) +
                    "::bigint, now()) ON CONFLICT (" + key_list + ") DO UPDATE SET " + updates +
                    "is_deleted = EXCLUDED.is_deleted, deleted_at = EXCLUDED.deleted_at, "
                    "_synced_lsn = EXCLUDED._synced_lsn, _synced_seq = EXCLUDED._synced_seq, "
                    "_synced_at = EXCLUDED._synced_at "
                    "WHERE (w._synced_lsn, w._synced_seq) < (EXCLUDED._synced_lsn, EXCLUDED._synced_seq)";
  if (run(sql, params) == 0) ++counts.stale;
  else if (deleted) ++counts.deletes;
  else ++counts.upserts;
}

void WarehouseMerge::apply_tombstone(const LoaderRecord& r, TableCounts& counts) {
  const TableShape& shape = shapes_[r.table];
  std::vector<std::optional<std::string>> params;
  std::string where;
  for (const auto& [name, v] : r.key.items()) {
    const Column* c = shape.column(name);
    if (!c) throw SchemaChanged{r.table, name};
    params.push_back(pg_input(v, *c));
    where += "w." + pg::quote_ident(name) + " = " + placeholder(static_cast<int>(params.size()), *c) + " AND ";
  }
  std::string table = warehouse_table(options_.warehouse_schema, shape);
  std::string sql;
  if (options_.purge_tombstones) {
    params.push_back(r.position.commit_lsn.str());
    params.push_back(std::to_string(r.position.seq));
    sql = "DELETE FROM " + table + " AS w WHERE " + where + newer_than_row(params.size() - 1);
  } else {
    // After a delete event this changes nothing (the row is flagged already); under
    // `deletes: tombstone` the tombstone is the only sign of the delete, so it flags the row.
    params.push_back(r.commit_ts);
    params.push_back(r.position.commit_lsn.str());
    params.push_back(std::to_string(r.position.seq));
    size_t n = params.size();
    sql = "UPDATE " + table + " AS w SET is_deleted = true, deleted_at = " + param(n - 2) +
          "::timestamptz, _synced_lsn = " + param(n - 1) + "::pg_lsn, _synced_seq = " + param(n) +
          "::bigint, _synced_at = now() WHERE " + where + "NOT w.is_deleted AND " + newer_than_row(n - 1);
  }
  counts.tombstones += run(sql, params);
}

void WarehouseMerge::apply_truncate(const LoaderRecord& r, TableCounts& counts) {
  const TableShape& shape = shapes_[r.table];
  // Rows already flagged keep their own deleted_at; rows written after the truncate are untouched.
  std::string sql = "UPDATE " + warehouse_table(options_.warehouse_schema, shape) +
                    " AS w SET is_deleted = true, deleted_at = $1::timestamptz, _synced_lsn = $2::pg_lsn, "
                    "_synced_seq = $3::bigint, _synced_at = now() WHERE NOT w.is_deleted AND " +
                    newer_than_row(2);
  auto ts = r.value.value("__commit_ts", r.commit_ts);
  counts.truncated += run(sql, {ts, r.position.commit_lsn.str(), std::to_string(r.position.seq)});
}

MergeOutcome WarehouseMerge::apply(const Batch& batch) {
  MergeOutcome outcome;
  RedeliveryFilter redeliveries(batch);
  wh_.exec("BEGIN", "begin the batch transaction");
  try {
    for (const LoaderRecord* r : batch.records) {
      TableCounts& counts = outcome.counts[r->table];
      ++counts.records;
      counts.last = r->position;
      if (redeliveries.redelivered(shapes_[r->table].spec.topic, *r)) {
        ++counts.redelivered;
        continue;
      }
      switch (r->kind) {
        case RecordKind::kRow: apply_row(*r, counts); break;
        case RecordKind::kTombstone: apply_tombstone(*r, counts); break;
        case RecordKind::kTruncate: apply_truncate(*r, counts); break;
      }
    }
    for (const auto& adv : batch.partitions) offsets_.advance(adv);
    // The copied unique constraints are deferred: COMMIT is where they are checked.
    pg::PgResult commit(PQexec(wh_.raw(), "COMMIT"));
    if (!commit || PQresultStatus(commit.get()) != PGRES_COMMAND_OK) {
      const char* state = commit ? PQresultErrorField(commit.get(), PG_DIAG_SQLSTATE) : nullptr;
      throw StatementFailure{state ? state : "", "", PQerrorMessage(wh_.raw())};
    }
    return outcome;
  } catch (const StatementFailure& f) {
    PQclear(PQexec(wh_.raw(), "ROLLBACK"));
    std::string message = f.message;
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
    // Every statement resolves key conflicts itself (ON CONFLICT), so a unique or exclusion
    // violation comes from a unique index copied from the source.
    if (f.sqlstate == "23505" || f.sqlstate == "23P01") {
      outcome.status = MergeOutcome::Status::kUniqueConflict;
      outcome.detail = message;
      return outcome;
    }
    throw Error(ErrorKind::kSource, "applying a batch to the warehouse failed (" + wh_.describe() + "): " + message);
  } catch (const SchemaChanged& s) {
    PQclear(PQexec(wh_.raw(), "ROLLBACK"));
    outcome.status = MergeOutcome::Status::kSchemaChanged;
    outcome.table = s.table;
    outcome.detail = s.column;
    return outcome;
  } catch (...) {
    PQclear(PQexec(wh_.raw(), "ROLLBACK"));
    throw;
  }
}

}  // namespace tombsync::loader
