#include "agent/stream/pg_row_lookup.h"

#include <libpq-fe.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "base/error.h"
#include "connectors/postgres/pg_connection.h"
#include "connectors/postgres/snapshot_reader.h"

namespace tombsync {
namespace {

struct CopyLine {
  char* data = nullptr;
  ~CopyLine() { reset(); }
  void reset() {
    if (data) PQfreemem(data);
    data = nullptr;
  }
};

}  // namespace

std::string key_literal_text(ColumnType type, const Datum& d) {
  switch (type) {
    case ColumnType::kInt16:
    case ColumnType::kInt32:
    case ColumnType::kInt64:
      return std::to_string(d.i);
    case ColumnType::kBool:
      return d.b ? "t" : "f";
    case ColumnType::kBytea: {
      static const char* hex = "0123456789abcdef";
      std::string s = "\\x";
      for (unsigned char c : d.text) s += {hex[c >> 4], hex[c & 15]};
      return s;
    }
    default:
      return d.text;  // floats keep Postgres' text; the rest is as decoded
  }
}

PgRowLookup::PgRowLookup(std::string dsn) : dsn_(std::move(dsn)) {}
PgRowLookup::~PgRowLookup() = default;

void PgRowLookup::fail(const std::string& what) {
  const bool lost = conn_ == nullptr || PQstatus(conn_->raw()) == CONNECTION_BAD;
  const std::string why = conn_ ? libpq_message_line(PQerrorMessage(conn_->raw())) : "no connection";
  const std::string where = conn_ ? " (" + conn_->describe() + ")" : "";
  conn_.reset();  // the next lookup connects again
  throw Error(ErrorKind::kSource,
              what + " failed" + where + ": " + why +
                  (lost ? "; the transaction will be streamed again after reconnecting"
                        : "; was the table altered? The values stay unchanged only if the query can run"),
              lost ? Transient::kYes : Transient::kNo);
}

// The snapshot's xmax carries the epoch; the 32-bit xid is placed within 2^31 of it.
void PgRowLookup::wait_visible(uint32_t xid) {
  if (visible_ == xid) return;
  static const char* kSql =
      "SELECT txid_visible_in_snapshot(x + ((($1::bigint - x) % 4294967296 + 4294967296 + 2147483648) % 4294967296)"
      " - 2147483648, s) FROM (SELECT s, txid_snapshot_xmax(s) AS x FROM txid_current_snapshot() AS s) AS t";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (int round = 0;; ++round) {
    auto r = conn_->exec_params(kSql, {std::to_string(xid)}, "waiting for transaction " + std::to_string(xid));
    if (pg::value_at(r.get(), 0, 0) == "t") break;
    if (std::chrono::steady_clock::now() > deadline)
      // Not transient: a synchronous standby that does not answer would hold it at every replay.
      throw Error(ErrorKind::kSource,
                  "transaction " + std::to_string(xid) + " is committed in the WAL but not visible to other sessions "
                  "after 10 s (a synchronous standby that does not confirm it?)");
    std::this_thread::sleep_for(std::chrono::microseconds(round < 10 ? 200 : 5000));
  }
  visible_ = xid;
}

void PgRowLookup::lookup(const TableSchema& table, uint32_t xid, const std::vector<const std::vector<Datum>*>& keys,
                         std::vector<std::vector<Datum>>& out) {
  if (keys.empty()) return;
  const std::string what = "reading unchanged values of " + table.qualified() + " from the source";
  if (conn_ == nullptr) {
    // PgConnection's own error is transient when the server cannot be reached.
    conn_ = std::make_unique<pg::PgConnection>(dsn_, pg::PgConnection::Mode::kSql);
    conn_->exec(std::string("SET application_name = '") + kApplicationName + "'", "naming the lookup connection");
    // Bounded, so the stream's status updates are never held up past wal_sender_timeout (60 s by
    // default): a lookup that waits for a lock or runs long is cancelled and its rows go unfilled.
    conn_->exec("SET statement_timeout = '10s'", "bounding the lookup queries");
    conn_->exec("SET lock_timeout = '5s'", "bounding the lookup queries' lock waits");
  }
  wait_visible(xid);  // the connection stays: the next transaction may be visible
  std::string sql = "COPY (SELECT ";
  for (size_t i = 0; i < table.columns.size(); ++i) sql += (i ? ", " : "") + pg::quote_ident(table.columns[i].name);
  sql += " FROM " + pg::quote_ident(table.schema) + "." + pg::quote_ident(table.table) + " WHERE (";
  for (size_t k = 0; k < table.key_indexes.size(); ++k)
    sql += (k ? ", " : "") + pg::quote_ident(table.columns[table.key_indexes[k]].name);
  sql += ") IN (";
  // Untyped literals: the server gives each the type of the key column it is compared with.
  for (size_t r = 0; r < keys.size(); ++r) {
    sql += r ? ", (" : "(";
    for (size_t k = 0; k < table.key_indexes.size(); ++k) {
      const size_t c = table.key_indexes[k];
      const Datum& d = (*keys[r])[c];
      std::string text = d.present() ? key_literal_text(table.columns[c].type, d) : std::string();
      char* q = PQescapeLiteral(conn_->raw(), text.data(), text.size());
      if (q == nullptr) fail(what);
      sql += (k ? ", " : "") + (d.present() ? std::string(q) : std::string("NULL"));
      PQfreemem(q);
    }
    sql += ")";
  }
  sql += ")) TO STDOUT";

  pg::PgResult started(PQexec(conn_->raw(), sql.c_str()));
  if (!started || PQresultStatus(started.get()) != PGRES_COPY_OUT) fail(what);
  std::string scratch;
  CopyLine line;
  int len;
  while ((len = PQgetCopyData(conn_->raw(), &line.data, 0)) > 0) {
    std::string_view text(line.data, static_cast<size_t>(len));
    if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    out.emplace_back();
    parse_copy_row(text, table, out.back(), scratch);
    line.reset();
  }
  if (len == -2) fail(what);
  pg::PgResult done(PQgetResult(conn_->raw()));
  if (!done || PQresultStatus(done.get()) != PGRES_COMMAND_OK) fail(what);
  while (pg::PgResult extra{PQgetResult(conn_->raw())}) {
  }
}

}  // namespace tombsync
