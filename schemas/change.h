// The in-memory change model every layer shares: what a table looks like
// (TableSchema) and what happened to one row (ChangeEvent). The Postgres
// connector produces these; encoders turn them into bytes for Kafka.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/lsn.h"
#include "base/named_type.h"
#include "base/timestamps.h"

namespace tombsync {

// The logical type of a column, decided from its Postgres type OID.
enum class ColumnType : uint8_t {
  kInt16, kInt32, kInt64, kBool, kFloat32, kFloat64, kNumeric, kText, kUuid,
  kDate, kTime, kTimestamp, kTimestampTz, kInterval, kJson, kBytea,
  kOther,  // not decoded natively: the Postgres text form, tagged with the type name
};

const char* to_string(ColumnType type);

// One column value. Null, unchanged-TOAST and absent are distinct states and
// are never collapsed into one another.
struct Datum {
  enum class State : uint8_t {
    kNull,       // SQL NULL
    kUnchanged,  // TOASTed value an UPDATE left untouched; Postgres did not send it
    kAbsent,     // not in this row image (a non-key column of a delete's key-only old row)
    kPresent,
  };
  State state = State::kNull;
  // Present values, by ColumnType:
  //   kInt16/kInt32/kInt64 -> i;  kBool -> b;  kFloat32/kFloat64 -> d and text
  //   (text is Postgres' form, so NaN and Infinity survive);  everything else -> text:
  //   kNumeric exact decimal ("12.340", "NaN"); kTimestampTz ISO-8601 UTC
  //   ("2024-05-01T10:00:00.123456Z"); kTimestamp ISO-8601 without zone; kDate
  //   "2024-05-01"; kTime "10:00:00.5"; kInterval ISO-8601 duration ("P1Y2M3DT4H");
  //   kJson raw JSON text; kBytea the raw bytes (decoded); kText/kUuid/kOther as sent.
  int64_t i = 0;
  double d = 0;
  bool b = false;
  std::string text;

  static Datum null() { return Datum{}; }
  static Datum unchanged() { return of(State::kUnchanged); }
  static Datum absent() { return of(State::kAbsent); }
  static Datum of(State s) {
    Datum d;
    d.state = s;
    return d;
  }
  bool present() const { return state == State::kPresent; }
};

struct ColumnSpec {
  std::string name;
  uint32_t type_oid = 0;
  int32_t type_mod = -1;
  std::string type_name;  // e.g. "int4", "_text", "public.mood"
  ColumnType type = ColumnType::kOther;
  bool key = false;       // part of the event key (primary key or configured key_columns)
};

// A relation's OID (pg_class.oid): what pgoutput names a table by. Not a type OID.
using RelationId = NamedType<uint32_t, struct RelationIdTag>;

// A table as the stream last described it. Replaced (never mutated) when an
// ALTER TABLE arrives, so events keep the schema they were decoded with.
struct TableSchema {
  RelationId relid;
  std::string schema;
  std::string table;
  std::vector<ColumnSpec> columns;
  std::vector<size_t> key_indexes;  // into columns, in key order
  std::string qualified() const { return schema + "." + table; }
};

enum class Op : uint8_t { kInsert, kUpdate, kDelete, kTruncate, kRead };
const char* to_string(Op op);  // "insert", "update", "delete", "truncate", "read"
char op_code(Op op);           // 'c', 'u', 'd', 't', 'r' (the Debezium letters)

// Where a change came from in the source's history.
struct SourcePosition {
  Lsn lsn;              // WAL position of this change's record (the XLogData start)
  Lsn commit_lsn;       // the transaction's commit record
  uint32_t xid = 0;
  UnixMicros commit_ts_us;
};

// Why a delete event exists. A row delete is Postgres' (a DELETE, a soft delete, the old key of
// a primary-key change). The others are made by tombsync from its key ledger
// (docs/deletes.md): one per key a TRUNCATE removed, or one per key a reconciliation found gone
// from the source (an inferred delete: the deletion happened in a gap nobody streamed).
// Consumers tell them apart: docs/event-format.md.
enum class DeleteOrigin : uint8_t { kRow, kTruncate, kInferred };
const char* to_string(DeleteOrigin origin);  // "row", "truncate", "inferred"

struct ChangeEvent {
  Op op = Op::kInsert;
  std::shared_ptr<const TableSchema> table;
  std::vector<Datum> row;  // aligned with table->columns; empty for kTruncate
  bool is_deleted = false;
  std::optional<UnixMicros> deleted_at_us;  // set when is_deleted
  // An update that moved the row to another key: the delete of the old key
  // came just before it (Debezium writes this event as a create).
  bool key_changed = false;
  SourcePosition source;
  DeleteOrigin origin = DeleteOrigin::kRow;  // kTruncate / kInferred only on is_deleted events
};

}  // namespace tombsync
