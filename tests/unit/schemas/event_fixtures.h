// Building tables and change events for encoder tests.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "schemas/change.h"

namespace tombsync::test {

struct Col {
  std::string name;
  ColumnType type;
  std::string type_name;
  bool key = false;
};

inline std::shared_ptr<const TableSchema> make_table(std::string schema, std::string name,
                                                     const std::vector<Col>& cols) {
  auto t = std::make_shared<TableSchema>();
  t->relid = RelationId(16384);
  t->schema = std::move(schema);
  t->table = std::move(name);
  for (const Col& c : cols) {
    ColumnSpec spec;
    spec.name = c.name;
    spec.type = c.type;
    spec.type_name = c.type_name;
    spec.key = c.key;
    if (c.key) t->key_indexes.push_back(t->columns.size());
    t->columns.push_back(spec);
  }
  return t;
}

// public.users(id int4, region text, name text, bio text, score float8,
//              payload jsonb, avatar bytea, balance numeric), key (id, region).
inline std::shared_ptr<const TableSchema> users_table() {
  return make_table("public", "users",
                    {{"id", ColumnType::kInt32, "int4", true},
                     {"region", ColumnType::kText, "text", true},
                     {"name", ColumnType::kText, "text"},
                     {"bio", ColumnType::kText, "text"},
                     {"score", ColumnType::kFloat64, "float8"},
                     {"payload", ColumnType::kJson, "jsonb"},
                     {"avatar", ColumnType::kBytea, "bytea"},
                     {"balance", ColumnType::kNumeric, "numeric"}});
}

inline Datum present() {
  Datum d;
  d.state = Datum::State::kPresent;
  return d;
}
inline Datum int_value(int64_t v) {
  Datum d = present();
  d.i = v;
  return d;
}
inline Datum bool_value(bool v) {
  Datum d = present();
  d.b = v;
  return d;
}
inline Datum float_value(double v, std::string text) {
  Datum d = present();
  d.d = v;
  d.text = std::move(text);
  return d;
}
inline Datum text_value(std::string v) {
  Datum d = present();
  d.text = std::move(v);
  return d;
}

inline constexpr int64_t kCommitTs = 1714557600123456;  // 2024-05-01T10:00:00.123456Z

inline ChangeEvent make_event(Op op, std::shared_ptr<const TableSchema> table,
                              std::vector<Datum> row) {
  ChangeEvent e;
  e.op = op;
  e.table = std::move(table);
  e.row = std::move(row);
  e.source.lsn = Lsn(0x16B3748);
  e.source.commit_lsn = Lsn(0x16B3800);
  e.source.xid = 731;
  e.source.commit_ts_us = UnixMicros{kCommitTs};
  if (op == Op::kDelete) {
    e.is_deleted = true;
    e.deleted_at_us = UnixMicros{kCommitTs};
  }
  return e;
}

// A full users row: (1, 'eu', 'Ann', NULL, 1.5, '{"a": 1}', '\x00ff', 12.340).
inline std::vector<Datum> users_row() {
  return {int_value(1),         text_value("eu"),       text_value("Ann"),
          Datum::null(),        float_value(1.5, "1.5"), text_value("{\"a\": 1}"),
          text_value(std::string("\x00\xff", 2)), text_value("12.340")};
}

}  // namespace tombsync::test
