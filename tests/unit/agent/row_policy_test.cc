// Soft deletes and redaction (RowPolicy through RecordBuilder), with a real
// config and the real JSON encoder: a row whose soft_delete_column is set is
// delivered as the delete contract, a cleared one as an upsert; redacted
// columns are dropped or hashed in delete events only.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "tests/unit/schemas/event_fixtures.h"
#include "agent/config/config.h"
#include "schemas/encoder.h"
#include "base/error.h"
#include "agent/stream/record_builder.h"
#include "agent/stream/row_policy.h"

namespace tombsync {
namespace {


const std::string kYaml = R"(source:
  dsn: "host=db dbname=app"
  tables:
    - name: public.users
      soft_delete_column: deleted_at
      redact_on_delete: [email]
    - name: public.flags
      soft_delete_column: archived
      deletes: flag
      redact_on_delete: [email, age]
      redact_mode: hash
kafka: {brokers: "k:9092", topic_prefix: app}
state_dir: /tmp/x
)";

std::shared_ptr<const TableSchema> table(const std::string& name, uint32_t relid,
                                         std::vector<std::pair<std::string, ColumnType>> cols) {
  auto t = std::make_shared<TableSchema>();
  t->relid = RelationId(relid);
  t->schema = "public";
  t->table = name;
  for (auto& [n, type] : cols) {
    ColumnSpec c;
    c.name = n;
    c.type = type;
    c.type_name = type == ColumnType::kInt32 ? "int4" : type == ColumnType::kBool ? "bool" : "text";
    c.key = n == "id";
    if (c.key) t->key_indexes.push_back(t->columns.size());
    t->columns.push_back(c);
  }
  return t;
}

using test::bool_value;
using test::kCommitTs;
using test::int_value;
using test::text_value;

ChangeEvent event(Op op, std::shared_ptr<const TableSchema> t, std::vector<Datum> row) {
  ChangeEvent e;
  e.op = op;
  e.table = std::move(t);
  e.row = std::move(row);
  e.source.lsn = Lsn{100};
  e.source.commit_lsn = Lsn{200};
  e.source.xid = 7;
  e.source.commit_ts_us = UnixMicros{kCommitTs};
  if (op == Op::kDelete) {
    e.is_deleted = true;
    e.deleted_at_us = UnixMicros{kCommitTs};
  }
  return e;
}

struct Fixture {
  Config config = parse_config(kYaml, "test");
  std::unique_ptr<Encoder> encoder = make_encoder(Format::kJson);
  RecordBuilder builder{config, *encoder, "1/app/slot"};
  std::vector<Record> build(const ChangeEvent& e) {
    std::vector<Record> out;
    builder.begin_transaction();
    builder.build(e, out);
    return out;
  }
  static std::string header(const Record& r, const std::string& name) {
    for (const auto& [k, v] : r.headers)
      if (k == name) return v;
    return "";
  }
};

const auto kUsers = table("users", 1, {{"id", ColumnType::kInt32}, {"email", ColumnType::kText},
                                       {"deleted_at", ColumnType::kTimestampTz}});
const auto kFlags = table("flags", 2, {{"id", ColumnType::kInt32}, {"email", ColumnType::kText},
                                       {"age", ColumnType::kInt32}, {"archived", ColumnType::kBool}});

}  // namespace

TEST_CASE("soft delete: setting the column delivers the delete contract", "[row_policy]") {
  Fixture f;
  auto out = f.build(event(Op::kUpdate, kUsers, {int_value(1), text_value("a@x.io"), text_value("2024-05-01T09:00:00.5Z")}));
  REQUIRE(out.size() == 2);  // deletes: both
  auto v = nlohmann::json::parse(*out[0].value);
  CHECK(v["is_deleted"] == true);
  CHECK(v["deleted_at"] == "2024-05-01T09:00:00.500000Z");  // the column's time, not the commit's
  CHECK(v["__op"] == "update");
  CHECK(!v.contains("email"));  // redact_on_delete, drop mode
  CHECK(Fixture::header(out[0], "tombsync.op") == "update");
  CHECK(!out[1].value);  // the tombstone
  CHECK(out[1].key == out[0].key);
  CHECK(Fixture::header(out[1], "tombsync.op") == "tombstone");
}

TEST_CASE("soft delete: a cleared column is an upsert that restores the row", "[row_policy]") {
  Fixture f;
  auto out = f.build(event(Op::kUpdate, kUsers, {int_value(1), text_value("a@x.io"), Datum::null()}));
  REQUIRE(out.size() == 1);
  auto v = nlohmann::json::parse(*out[0].value);
  CHECK(v["is_deleted"] == false);
  CHECK(v["deleted_at"].is_null());
  CHECK(v["email"] == "a@x.io");  // redaction touches delete events only
}

TEST_CASE("soft delete: a boolean column, a snapshot row, the commit time", "[row_policy]") {
  Fixture f;
  auto out = f.build(event(Op::kRead, kFlags, {int_value(2), text_value("b@x.io"), int_value(41), bool_value(true)}));
  REQUIRE(out.size() == 1);  // deletes: flag
  auto v = nlohmann::json::parse(*out[0].value);
  CHECK(v["is_deleted"] == true);
  CHECK(v["deleted_at"] == "2024-05-01T10:00:00.123456Z");
  CHECK(v["__op"] == "read");
  CHECK(v["email"] == sha256_hex("b@x.io"));
  CHECK(v["age"] == sha256_hex("41"));
  auto live = f.build(event(Op::kInsert, kFlags, {int_value(3), text_value("c@x.io"), int_value(5), bool_value(false)}));
  CHECK(nlohmann::json::parse(*live[0].value)["age"] == 5);
}

TEST_CASE("redaction applies to hard deletes with a full row image", "[row_policy]") {
  Fixture f;
  auto out = f.build(event(Op::kDelete, kFlags, {int_value(4), text_value("d@x.io"), Datum::null(), bool_value(false)}));
  REQUIRE(out.size() == 1);
  auto v = nlohmann::json::parse(*out[0].value);
  CHECK(v["email"] == sha256_hex("d@x.io"));
  CHECK(v["age"].is_null());  // nothing to hash
  CHECK(v["is_deleted"] == true);
}

TEST_CASE("a configured column the table lacks, or of the wrong type, is a config error", "[row_policy]") {
  Fixture f;
  auto no_column = table("users", 11, {{"id", ColumnType::kInt32}, {"email", ColumnType::kText}});
  CHECK_THROWS_WITH(f.build(event(Op::kInsert, no_column, {int_value(1), text_value("x")})),
                    Catch::Contains("soft_delete_column of public.users names column \"deleted_at\""));
  Fixture g;
  auto wrong = table("users", 12, {{"id", ColumnType::kInt32}, {"email", ColumnType::kText},
                                   {"deleted_at", ColumnType::kText}});
  CHECK_THROWS_WITH(g.build(event(Op::kInsert, wrong, {int_value(1), text_value("x"), text_value("y")})),
                    Catch::Contains("must be boolean, date, timestamp or timestamptz"));
}

TEST_CASE("sha256_hex matches the FIPS 180-2 vector", "[row_policy]") {
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("config: soft delete and redaction keys", "[row_policy][config]") {
  Config c = parse_config(kYaml, "test");
  CHECK(c.source.tables[0].soft_delete_column == "deleted_at");
  CHECK(c.source.tables[1].redact_mode == RedactMode::kHash);
  CHECK(c.source.tables[1].redact_on_delete == std::vector<std::string>{"email", "age"});
  std::string bad = kYaml;
  bad.replace(bad.find("redact_mode: hash"), 17, "redact_mode: mask");
  CHECK_THROWS_WITH(parse_config(bad, "test"), Catch::Contains("expected one of: drop, hash"));
}

}  // namespace tombsync
