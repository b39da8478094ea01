// RecordBuilder: ChangeEvent -> Kafka records, with a real config
// (parse_config) and the real JSON encoder. Covers topic routing, the delete
// policy (both | flag | tombstone, global default and per-table override),
// the headers every record carries (tombstones included) with the
// per-transaction ordinal tombsync.seq, truncate and keyless tables
// (docs/event-format.md, "Records" and "Headers").
#include "agent/stream/record_builder.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "schemas/change.h"
#include "agent/config/config.h"
#include "schemas/encoder.h"
#include "base/error.h"
#include "base/lsn.h"
#include "schemas/record.h"

namespace tombsync {
namespace {

constexpr int64_t kCommitTs = 1'714'557'600'123'456;  // 2024-05-01T10:00:00.123456Z
const Lsn kLsn{0x16B3748};
const Lsn kCommitLsn{0x16B3800};
constexpr uint32_t kXid = 731;
const std::string kSource = "7301234567890123456/app/tombsync";  // system id / database / slot

// Four tables: users (short form, global policy), orders (flag, key
// order_id), events (tombstone, own topic), log (keyless).
const std::string kYaml = R"(source:
  dsn: "host=db dbname=app user=tombsync"
  tables:
    - public.users
    - name: public.orders
      deletes: flag
      key_columns: [order_id]
    - name: public.events
      deletes: tombstone
      topic: events.v1
    - name: public.log
      allow_keyless: true
      deletes: flag
      snapshot: never
kafka:
  brokers: kafka:9092
  topic_prefix: app
deletes: both
state_dir: /tmp/tombsync
)";

struct Col {
  std::string name;
  ColumnType type;
  bool key = false;
};

std::shared_ptr<const TableSchema> make_table(const std::string& table, const std::vector<Col>& cols,
                                              const std::string& schema = "public") {
  auto t = std::make_shared<TableSchema>();
  // A distinct relation OID per schema-qualified name, as Postgres would have.
  static std::map<std::pair<std::string, std::string>, uint32_t> oids;
  auto [it, added] = oids.emplace(std::make_pair(schema, table), 16384 + static_cast<uint32_t>(oids.size()));
  (void)added;
  t->relid = RelationId(it->second);
  t->schema = schema;
  t->table = table;
  for (const Col& c : cols) {
    ColumnSpec spec;
    spec.name = c.name;
    spec.type = c.type;
    spec.type_name = c.type == ColumnType::kInt32 ? "int4" : "text";
    spec.key = c.key;
    if (c.key) t->key_indexes.push_back(t->columns.size());
    t->columns.push_back(spec);
  }
  return t;
}

// table(id int4 key, name text)
std::shared_ptr<const TableSchema> keyed_table(const std::string& table, const std::string& schema = "public") {
  return make_table(table, {{"id", ColumnType::kInt32, true}, {"name", ColumnType::kText}}, schema);
}

Datum int_value(int64_t v) {
  Datum d = Datum::of(Datum::State::kPresent);
  d.i = v;
  return d;
}
Datum text_value(std::string v) {
  Datum d = Datum::of(Datum::State::kPresent);
  d.text = std::move(v);
  return d;
}

ChangeEvent make_event(Op op, std::shared_ptr<const TableSchema> table, std::vector<Datum> row) {
  ChangeEvent e;
  e.op = op;
  e.table = std::move(table);
  e.row = std::move(row);
  e.source.lsn = kLsn;
  e.source.commit_lsn = kCommitLsn;
  e.source.xid = kXid;
  e.source.commit_ts_us = UnixMicros{kCommitTs};
  if (op == Op::kDelete) {
    e.is_deleted = true;
    e.deleted_at_us = UnixMicros{kCommitTs};
  }
  return e;
}

ChangeEvent row_event(Op op, std::shared_ptr<const TableSchema> table, int64_t id, const std::string& name) {
  return make_event(op, std::move(table), {int_value(id), text_value(name)});
}

// Headers as a map, after checking that no name repeats.
std::map<std::string, std::string> headers_of(const Record& r) {
  std::map<std::string, std::string> m;
  for (const auto& [name, value] : r.headers) {
    INFO("header " << name);
    CHECK(m.emplace(name, value).second);
  }
  return m;
}

// The eight headers, exactly, for an event made by make_event; `seq` is the
// record's ordinal in its transaction.
void check_headers(const Record& r, const std::string& op, const std::string& table, uint32_t seq) {
  auto h = headers_of(r);
  CHECK(h.size() == 8);
  CHECK(h["tombsync.op"] == op);
  CHECK(h["tombsync.seq"] == std::to_string(seq));
  CHECK(r.seq == seq);
  CHECK(h["tombsync.source"] == kSource);
  CHECK(h["tombsync.lsn"] == "0/16B3748");
  CHECK(h["tombsync.commit_lsn"] == "0/16B3800");
  CHECK(h["tombsync.xid"] == "731");
  CHECK(h["tombsync.commit_ts"] == "2024-05-01T10:00:00.123456Z");
  CHECK(h["tombsync.table"] == table);
}

struct Fixture {
  Config config = parse_config(kYaml, "test");
  std::unique_ptr<Encoder> encoder = make_encoder(Format::kJson);
  RecordBuilder builder{config, *encoder, kSource};
  std::vector<Record> out;

  void build(const ChangeEvent& e) { builder.build(e, out); }
};

}  // namespace

TEST_CASE("Insert gives one record with the JSON key and the row value", "[record_builder]") {
  Fixture f;
  f.build(row_event(Op::kInsert, keyed_table("users"), 7, "Ann"));
  REQUIRE(f.out.size() == 1);
  const Record& r = f.out[0];
  CHECK(r.topic == "app.public.users");
  REQUIRE(r.key.has_value());
  CHECK(*r.key == R"({"id":7})");
  REQUIRE(r.value.has_value());
  auto v = nlohmann::json::parse(*r.value);
  CHECK(v["id"] == 7);
  CHECK(v["name"] == "Ann");
  CHECK(v["is_deleted"] == false);
  CHECK(v["deleted_at"].is_null());
  CHECK(v["__op"] == "insert");
  CHECK(v["__table"] == "public.users");
  CHECK_FALSE(r.partition.has_value());
  CHECK_FALSE(r.all_partitions);
  CHECK(r.commit_lsn == kCommitLsn);
  check_headers(r, "insert", "public.users", 0);
}

TEST_CASE("Update gives one record with op update", "[record_builder]") {
  Fixture f;
  f.build(row_event(Op::kUpdate, keyed_table("users"), 7, "Ann B"));
  REQUIRE(f.out.size() == 1);
  CHECK(*f.out[0].key == R"({"id":7})");
  auto v = nlohmann::json::parse(*f.out[0].value);
  CHECK(v["__op"] == "update");
  CHECK(v["name"] == "Ann B");
  CHECK(v["is_deleted"] == false);
  check_headers(f.out[0], "update", "public.users", 0);
}

TEST_CASE("Snapshot row (read) gives one record with op read", "[record_builder]") {
  Fixture f;
  f.build(row_event(Op::kRead, keyed_table("users"), 3, "Cy"));
  REQUIRE(f.out.size() == 1);
  CHECK(*f.out[0].key == R"({"id":3})");
  CHECK(nlohmann::json::parse(*f.out[0].value)["__op"] == "read");
  check_headers(f.out[0], "read", "public.users", 0);
}

TEST_CASE("Delete with policy both: delete event, then a tombstone with the same key bytes",
          "[record_builder]") {
  Fixture f;
  f.build(make_event(Op::kDelete, keyed_table("users"), {int_value(7), Datum::absent()}));
  REQUIRE(f.out.size() == 2);
  const Record& del = f.out[0];
  const Record& tomb = f.out[1];

  CHECK(del.topic == "app.public.users");
  REQUIRE(del.key.has_value());
  CHECK(*del.key == R"({"id":7})");
  REQUIRE(del.value.has_value());
  auto v = nlohmann::json::parse(*del.value);
  CHECK(v["id"] == 7);
  CHECK_FALSE(v.contains("name"));  // absent, not null
  CHECK(v["is_deleted"] == true);
  CHECK(v["deleted_at"] == "2024-05-01T10:00:00.123456Z");
  CHECK(v["__op"] == "delete");
  check_headers(del, "delete", "public.users", 0);

  CHECK(tomb.topic == del.topic);
  REQUIRE(tomb.key.has_value());
  CHECK(*tomb.key == *del.key);
  CHECK_FALSE(tomb.value.has_value());
  CHECK(tomb.partition == del.partition);
  CHECK_FALSE(tomb.all_partitions);
  check_headers(tomb, "tombstone", "public.users", 1);
  CHECK(headers_of(tomb)["tombsync.lsn"] == headers_of(del)["tombsync.lsn"]);
  CHECK(tomb.commit_lsn == kCommitLsn);
  CHECK(del.commit_lsn == kCommitLsn);
}

TEST_CASE("Delete with policy flag: only the delete event", "[record_builder]") {
  Fixture f;
  auto orders = make_table("orders", {{"order_id", ColumnType::kInt32, true}, {"note", ColumnType::kText}});
  f.build(make_event(Op::kDelete, orders, {int_value(42), Datum::absent()}));
  REQUIRE(f.out.size() == 1);
  CHECK(f.out[0].topic == "app.public.orders");
  CHECK(*f.out[0].key == R"({"order_id":42})");
  REQUIRE(f.out[0].value.has_value());
  CHECK(nlohmann::json::parse(*f.out[0].value)["is_deleted"] == true);
  check_headers(f.out[0], "delete", "public.orders", 0);
}

TEST_CASE("Delete with policy tombstone: only the tombstone, on the table's own topic", "[record_builder]") {
  Fixture f;
  f.build(make_event(Op::kDelete, keyed_table("events"), {int_value(9), Datum::absent()}));
  REQUIRE(f.out.size() == 1);
  const Record& tomb = f.out[0];
  CHECK(tomb.topic == "events.v1");
  REQUIRE(tomb.key.has_value());
  CHECK(*tomb.key == R"({"id":9})");
  CHECK_FALSE(tomb.value.has_value());
  CHECK(tomb.commit_lsn == kCommitLsn);
  check_headers(tomb, "tombstone", "public.events", 0);
}

TEST_CASE("A per-table delete policy beats the global one, the global applies to the others",
          "[record_builder]") {
  const std::string yaml = R"(source:
  dsn: "host=db dbname=app user=tombsync"
  tables:
    - public.users
    - name: public.orders
      deletes: both
    - name: public.events
      deletes: flag
kafka:
  brokers: kafka:9092
  topic_prefix: app
deletes: tombstone
state_dir: /tmp/tombsync
)";
  Config config = parse_config(yaml, "test");
  auto encoder = make_encoder(Format::kJson);
  RecordBuilder builder(config, *encoder, kSource);

  std::vector<Record> users;
  builder.build(make_event(Op::kDelete, keyed_table("users"), {int_value(1), Datum::absent()}), users);
  REQUIRE(users.size() == 1);  // global: tombstone
  CHECK_FALSE(users[0].value.has_value());
  check_headers(users[0], "tombstone", "public.users", 0);

  std::vector<Record> orders;
  builder.build(make_event(Op::kDelete, keyed_table("orders"), {int_value(1), Datum::absent()}), orders);
  REQUIRE(orders.size() == 2);  // override: both
  CHECK(orders[0].value.has_value());
  CHECK_FALSE(orders[1].value.has_value());

  std::vector<Record> events;
  builder.build(make_event(Op::kDelete, keyed_table("events"), {int_value(1), Datum::absent()}), events);
  REQUIRE(events.size() == 1);  // override: flag
  CHECK(events[0].value.has_value());
  check_headers(events[0], "delete", "public.events", 3);
}

TEST_CASE("Topic is prefix.schema.table unless the table sets topic:", "[record_builder]") {
  Fixture f;
  f.build(row_event(Op::kInsert, keyed_table("users"), 1, "a"));
  f.build(row_event(Op::kInsert, make_table("orders", {{"order_id", ColumnType::kInt32, true},
                                                        {"note", ColumnType::kText}}),
                    2, "b"));
  f.build(row_event(Op::kInsert, keyed_table("events"), 3, "c"));
  REQUIRE(f.out.size() == 3);
  CHECK(f.out[0].topic == "app.public.users");
  CHECK(f.out[1].topic == "app.public.orders");
  CHECK(f.out[2].topic == "events.v1");
}

TEST_CASE("Every record carries all eight headers with exact values, tombstones included", "[record_builder]") {
  Fixture f;
  ChangeEvent e = make_event(Op::kDelete, keyed_table("users"), {int_value(1), text_value("x")});
  e.source.lsn = Lsn{0x1'0000ABCD};
  e.source.commit_lsn = Lsn{0x1'0000FF00};
  e.source.xid = 4'000'000'000U;
  e.source.commit_ts_us = UnixMicros{0};
  f.build(e);
  f.build(row_event(Op::kInsert, keyed_table("users"), 2, "y"));
  REQUIRE(f.out.size() == 3);
  for (size_t i = 0; i < 2; ++i) {
    auto h = headers_of(f.out[i]);
    CHECK(h.size() == 8);
    CHECK(h["tombsync.op"] == (i == 0 ? "delete" : "tombstone"));
    CHECK(h["tombsync.seq"] == std::to_string(i));
    CHECK(h["tombsync.source"] == kSource);
    CHECK(h["tombsync.lsn"] == "1/ABCD");
    CHECK(h["tombsync.commit_lsn"] == "1/FF00");
    CHECK(h["tombsync.xid"] == "4000000000");
    CHECK(h["tombsync.commit_ts"] == "1970-01-01T00:00:00.000000Z");
    CHECK(h["tombsync.table"] == "public.users");
    CHECK(f.out[i].commit_lsn == Lsn{0x1'0000FF00});
  }
  check_headers(f.out[2], "insert", "public.users", 2);
}

TEST_CASE("seq numbers a transaction's records from 0, tombstones included, and restarts at each Begin",
          "[record_builder]") {
  Fixture f;
  f.builder.begin_transaction();
  f.build(row_event(Op::kInsert, keyed_table("users"), 1, "a"));
  f.build(make_event(Op::kDelete, keyed_table("users"), {int_value(1), Datum::absent()}));  // 2 records
  f.build(make_event(Op::kTruncate, keyed_table("users"), {}));
  REQUIRE(f.out.size() == 4);
  for (uint32_t i = 0; i < 4; ++i) {
    CHECK(f.out[i].seq == i);
    CHECK(headers_of(f.out[i])["tombsync.seq"] == std::to_string(i));
  }
  f.out.clear();
  f.builder.begin_transaction();
  f.build(row_event(Op::kUpdate, keyed_table("users"), 1, "b"));
  REQUIRE(f.out.size() == 1);
  CHECK(f.out[0].seq == 0);
  check_headers(f.out[0], "update", "public.users", 0);
}

TEST_CASE("Truncate goes to all partitions with no key and op truncate", "[record_builder]") {
  Fixture f;
  f.build(make_event(Op::kTruncate, keyed_table("users"), {}));
  REQUIRE(f.out.size() == 1);
  const Record& r = f.out[0];
  CHECK(r.topic == "app.public.users");
  CHECK(r.all_partitions);
  CHECK_FALSE(r.key.has_value());
  CHECK_FALSE(r.partition.has_value());
  REQUIRE(r.value.has_value());
  auto v = nlohmann::json::parse(*r.value);
  CHECK(v["__op"] == "truncate");
  CHECK(v["is_deleted"] == false);
  CHECK_FALSE(v.contains("id"));
  CHECK(r.commit_lsn == kCommitLsn);
  check_headers(r, "truncate", "public.users", 0);
}

TEST_CASE("Keyless table: partition 0, no key, and a delete is a flagged event with no tombstone",
          "[record_builder]") {
  Fixture f;
  auto log = make_table("log", {{"at", ColumnType::kText}, {"what", ColumnType::kText}});
  REQUIRE(log->key_indexes.empty());

  f.build(make_event(Op::kInsert, log, {text_value("t1"), text_value("boot")}));
  f.build(make_event(Op::kUpdate, log, {text_value("t1"), text_value("boot2")}));
  f.build(make_event(Op::kDelete, log, {text_value("t1"), text_value("boot2")}));
  REQUIRE(f.out.size() == 3);
  const char* ops[] = {"insert", "update", "delete"};
  for (size_t i = 0; i < 3; ++i) {
    const Record& r = f.out[i];
    CHECK(r.topic == "app.public.log");
    CHECK_FALSE(r.key.has_value());
    REQUIRE(r.partition.has_value());
    CHECK(r.partition->value() == 0);
    REQUIRE(r.value.has_value());  // never a tombstone
    CHECK(nlohmann::json::parse(*r.value)["__op"] == ops[i]);
    check_headers(r, ops[i], "public.log", static_cast<uint32_t>(i));
  }
  CHECK(nlohmann::json::parse(*f.out[2].value)["is_deleted"] == true);
}

TEST_CASE("Record.commit_lsn is the event's commit LSN, not its own LSN", "[record_builder]") {
  Fixture f;
  ChangeEvent e = row_event(Op::kInsert, keyed_table("users"), 1, "a");
  e.source.lsn = Lsn{0x500};
  e.source.commit_lsn = Lsn{0x900};
  f.build(e);
  e.op = Op::kDelete;
  e.is_deleted = true;
  e.deleted_at_us = UnixMicros{kCommitTs};
  f.build(e);
  REQUIRE(f.out.size() == 3);
  for (const auto& r : f.out) CHECK(r.commit_lsn == Lsn{0x900});
}

TEST_CASE("An event of an unconfigured table is an internal error", "[record_builder]") {
  Fixture f;
  try {
    f.build(row_event(Op::kInsert, keyed_table("nobody"), 1, "a"));
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kInternal);
    CHECK_THAT(std::string(e.what()), Catch::Contains("public.nobody"));
  }
  CHECK(f.out.empty());
}

// Quoted names may contain a dot: '"a.b".c' and 'a."b.c"' are distinct tables
// that print alike, so routes must not be looked up by the printed name.
TEST_CASE("Tables whose quoted names contain dots keep their own topic and delete policy",
          "[record_builder]") {
  const std::string yaml = R"(source:
  dsn: "host=db dbname=app user=tombsync"
  tables:
    - name: '"a.b".c'
      topic: first
      deletes: both
    - name: 'a."b.c"'
      topic: second
      deletes: flag
kafka:
  brokers: kafka:9092
  topic_prefix: app
state_dir: /tmp/tombsync
)";
  Config config = parse_config(yaml, "test");
  REQUIRE(config.find_table("a.b", "c") != nullptr);
  REQUIRE(config.find_table("a", "b.c") != nullptr);
  auto encoder = make_encoder(Format::kJson);
  RecordBuilder builder(config, *encoder, kSource);

  std::vector<Record> first;
  builder.build(make_event(Op::kDelete, keyed_table("c", "a.b"), {int_value(1), Datum::absent()}), first);
  REQUIRE(first.size() == 2);
  CHECK(first[0].topic == "first");

  std::vector<Record> second;
  builder.build(make_event(Op::kDelete, keyed_table("b.c", "a"), {int_value(1), Datum::absent()}), second);
  CHECK(second.size() == 1);
  REQUIRE_FALSE(second.empty());
  CHECK(second[0].topic == "second");
}

TEST_CASE("A value the encoder cannot represent is a protocol error naming the column, table and LSN",
          "[record_builder]") {
  Config config = parse_config(kYaml, "test");
  EncoderContext context;
  context.server_name = "app";
  context.database = "shop";
  auto encoder = make_encoder(Format::kDebeziumJson, context);
  RecordBuilder builder{config, *encoder, kSource};
  std::vector<Record> out;
  // An int column marked unchanged TOAST: Postgres never sends it, a damaged stream could.
  ChangeEvent e = make_event(Op::kUpdate, keyed_table("users"), {int_value(1), text_value("a")});
  e.row[1] = Datum::unchanged();
  e.table = make_table("users", {{"id", ColumnType::kInt32, true}, {"n", ColumnType::kInt32}});
  try {
    builder.build(e, out);
    FAIL("no error");
  } catch (const Error& err) {
    CHECK(err.kind() == ErrorKind::kProtocol);
    const std::string what = err.what();
    CHECK_THAT(what, Catch::Contains("public.users"));
    CHECK_THAT(what, Catch::Contains("at LSN " + kLsn.str()));
    INFO(what);
    CHECK_THAT(what, Catch::Contains("column \"n\""));
  }
  CHECK(out.empty());
}

TEST_CASE("A delete made from the ledger marks the delete event and its tombstone with a header",
          "[record_builder]") {
  for (const DeleteOrigin origin : {DeleteOrigin::kTruncate, DeleteOrigin::kInferred}) {
    Fixture f;
    ChangeEvent e = make_event(Op::kDelete, keyed_table("users"), {int_value(7), Datum::absent()});
    e.origin = origin;
    f.build(e);
    REQUIRE(f.out.size() == 2);  // policy both: the flagged event, then the tombstone
    const std::string header = origin == DeleteOrigin::kTruncate ? "tombsync.truncate" : "tombsync.inferred";
    for (const Record& r : f.out) {
      auto h = headers_of(r);
      CHECK(h.size() == 9);
      CHECK(h[header] == "true");
    }
    auto v = nlohmann::json::parse(*f.out[0].value);
    CHECK(v[origin == DeleteOrigin::kTruncate ? "__truncate" : "__inferred"] == true);
    CHECK(*f.out[1].key == *f.out[0].key);
    CHECK_FALSE(f.out[1].value.has_value());
  }
  Fixture f;  // a row delete: the eight headers, nothing more
  f.build(make_event(Op::kDelete, keyed_table("users"), {int_value(7), Datum::absent()}));
  check_headers(f.out[0], "delete", "public.users", 0);
  check_headers(f.out[1], "tombstone", "public.users", 1);
}

}  // namespace tombsync
