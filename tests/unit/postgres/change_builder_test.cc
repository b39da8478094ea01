// ChangeBuilder: pgoutput messages (built directly as the structs of
// pgoutput_messages.h, no wire bytes) -> ChangeEvents, following the change
// contract of docs/contract.md section 1 (delete flagging, key changes, unchanged
// TOAST, truncate) and the relation cache's handling of ALTER TABLE.
#include "connectors/postgres/change_builder.h"

#include <catch2/catch.hpp>

#include <limits>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "schemas/change.h"
#include "base/error.h"
#include "base/lsn.h"
#include "connectors/postgres/pgoutput_messages.h"
#include "connectors/postgres/source_catalog.h"

namespace tombsync::pg {
namespace {

using Catch::Matchers::Contains;

// Builtin type OIDs used below.
constexpr uint32_t kInt4 = 23;
constexpr uint32_t kInt8 = 20;
constexpr uint32_t kText = 25;

// 2024-05-01T10:00:00.123456Z, in both epochs.
constexpr int64_t kCommitUnixUs = 1'714'557'600'123'456;
constexpr int64_t kCommitPgUs = kCommitUnixUs - 946'684'800'000'000;

constexpr uint32_t kUsersRelid = 16384;
constexpr uint32_t kOrdersRelid = 16390;
constexpr uint32_t kAuditRelid = 16400;

const Lsn kCommitLsn{0x16B3800};
const Lsn kEndLsn{0x16B3830};
const Lsn kWal1{0x16B3748};
const Lsn kWal2{0x16B3790};
constexpr uint32_t kXid = 731;

std::unordered_map<uint32_t, std::string> builtin_type_names() {
  return {{kInt4, "int4"}, {kInt8, "int8"}, {kText, "text"}};
}

// A table as SourceCatalog resolved it at start; `oid` is the relid its
// Relation messages carry.
ResolvedTable resolved(std::string schema, std::string table, uint32_t oid, std::vector<std::string> keys) {
  ResolvedTable t;
  t.schema = std::move(schema);
  t.table = std::move(table);
  t.oid = RelationId(oid);
  t.key_columns = std::move(keys);
  t.key_source = t.key_columns.empty() ? "none" : "primary key";
  return t;
}

RelationColumn column(std::string name, uint32_t oid, bool identity = false) {
  RelationColumn c;
  c.flags = identity ? 1 : 0;
  c.name = std::move(name);
  c.type_oid = oid;
  return c;
}

// public.users(id int4 PRIMARY KEY, name text, bio text), replica identity default.
RelationMsg users_relation() {
  RelationMsg m;
  m.relid = RelationId(kUsersRelid);
  m.nspname = "public";
  m.relname = "users";
  m.replica_identity = 'd';
  m.columns = {column("id", kInt4, true), column("name", kText), column("bio", kText)};
  return m;
}

TupleValue t(std::string text) { return TupleValue{'t', std::move(text)}; }
TupleValue null_col() { return TupleValue{'n', {}}; }
TupleValue toast_col() { return TupleValue{'u', {}}; }
TupleValue binary_col(std::string bytes) { return TupleValue{'b', std::move(bytes)}; }

BeginMsg begin_msg() {
  BeginMsg b;
  b.final_lsn = kCommitLsn;
  b.commit_ts = PgMicros{kCommitPgUs};
  b.xid = kXid;
  return b;
}

CommitMsg commit_msg(Lsn commit_lsn = kCommitLsn) {
  CommitMsg c;
  c.commit_lsn = commit_lsn;
  c.end_lsn = kEndLsn;
  c.commit_ts = PgMicros{kCommitPgUs};
  return c;
}

InsertMsg insert_msg(uint32_t relid, Tuple row) {
  InsertMsg m;
  m.relid = RelationId(relid);
  m.new_tuple = std::move(row);
  return m;
}

UpdateMsg update_msg(uint32_t relid, char old_kind, Tuple old_row, Tuple new_row) {
  UpdateMsg m;
  m.relid = RelationId(relid);
  m.old_kind = old_kind;
  m.old_tuple = std::move(old_row);
  m.new_tuple = std::move(new_row);
  return m;
}

DeleteMsg delete_msg(uint32_t relid, char old_kind, Tuple old_row) {
  DeleteMsg m;
  m.relid = RelationId(relid);
  m.old_kind = old_kind;
  m.old_tuple = std::move(old_row);
  return m;
}

// A builder for public.users (key id) with the users Relation already read.
struct Fixture {
  ChangeBuilder builder{{resolved("public", "users", kUsersRelid, {"id"})}, builtin_type_names()};
  std::vector<ChangeEvent> out;

  Fixture() { apply(users_relation()); }
  BuildStep apply(const PgOutputMessage& msg, Lsn wal = kWal1) { return builder.apply(msg, wal, out); }
};

// The kind of the tombsync::Error `fn` throws ("protocol", "source", ...),
// or "no error"; its message goes to `message`.
std::string kind_of(const std::function<void()>& fn, std::string* message = nullptr) {
  try {
    fn();
  } catch (const Error& e) {
    if (message != nullptr) *message = e.what();
    return to_string(e.kind());
  }
  return "no error";
}

}  // namespace

TEST_CASE("Insert, update and delete become events with Unix commit time; only deletes are flagged",
          "[change_builder]") {
  Fixture f;
  BuildStep b = f.apply(begin_msg());
  REQUIRE(b.begin.has_value());
  CHECK(b.begin->commit_lsn == kCommitLsn);
  CHECK(b.begin->xid == kXid);
  CHECK(b.begin->commit_ts_us.value() == kCommitUnixUs);
  CHECK(b.begin->commit_ts_us.value() == kCommitPgUs + kPgEpochOffsetMicros);

  f.apply(insert_msg(kUsersRelid, {t("1"), t("Ann"), null_col()}));
  f.apply(update_msg(kUsersRelid, 0, {}, {t("1"), t("Ann B"), t("hi")}));
  f.apply(delete_msg(kUsersRelid, 'K', {t("1"), null_col(), null_col()}));
  BuildStep c = f.apply(commit_msg());
  REQUIRE(c.commit.has_value());
  CHECK(c.commit->commit_lsn == kCommitLsn);
  CHECK(c.commit->end_lsn == kEndLsn);

  REQUIRE(f.out.size() == 3);
  const ChangeEvent& ins = f.out[0];
  CHECK(ins.op == Op::kInsert);
  CHECK_FALSE(ins.is_deleted);
  CHECK_FALSE(ins.deleted_at_us.has_value());
  CHECK(ins.source.commit_ts_us.value() == kCommitUnixUs);
  REQUIRE(ins.row.size() == 3);
  CHECK(ins.row[0].present());
  CHECK(ins.row[0].i == 1);
  CHECK(ins.row[1].text == "Ann");
  CHECK(ins.row[2].state == Datum::State::kNull);

  const ChangeEvent& upd = f.out[1];
  CHECK(upd.op == Op::kUpdate);
  CHECK_FALSE(upd.is_deleted);
  CHECK_FALSE(upd.deleted_at_us.has_value());
  CHECK(upd.row[1].text == "Ann B");
  CHECK(upd.row[2].text == "hi");

  const ChangeEvent& del = f.out[2];
  CHECK(del.op == Op::kDelete);
  CHECK(del.is_deleted);
  REQUIRE(del.deleted_at_us.has_value());
  CHECK(del.deleted_at_us->value() == kCommitUnixUs);
  CHECK(del.row[0].i == 1);
  for (const auto& e : f.out) {
    CHECK(e.table->qualified() == "public.users");
    CHECK(e.table->relid.value() == kUsersRelid);
  }
}

TEST_CASE("Source position: lsn is the XLogData start, commit_lsn is Begin.final_lsn, xid from Begin",
          "[change_builder]") {
  Fixture f;
  f.apply(begin_msg(), Lsn{0x16B3700});
  f.apply(insert_msg(kUsersRelid, {t("1"), t("a"), t("b")}), kWal1);
  f.apply(insert_msg(kUsersRelid, {t("2"), t("a"), t("b")}), kWal2);
  f.apply(delete_msg(kUsersRelid, 'K', {t("2"), null_col(), null_col()}), Lsn{0x16B37D0});
  REQUIRE(f.out.size() == 3);
  CHECK(f.out[0].source.lsn == kWal1);
  CHECK(f.out[1].source.lsn == kWal2);
  CHECK(f.out[2].source.lsn == Lsn{0x16B37D0});
  for (const auto& e : f.out) {
    CHECK(e.source.commit_lsn == kCommitLsn);
    CHECK(e.source.xid == kXid);
    CHECK(e.source.commit_ts_us.value() == kCommitUnixUs);
  }
}

TEST_CASE("Update with a key-only old tuple whose key changed: delete of the old key, then update",
          "[change_builder]") {
  Fixture f;
  f.apply(begin_msg());
  f.apply(update_msg(kUsersRelid, 'K', {t("1"), null_col(), null_col()}, {t("2"), t("Ann"), t("bio")}), kWal2);
  REQUIRE(f.out.size() == 2);

  const ChangeEvent& del = f.out[0];
  CHECK(del.op == Op::kDelete);
  CHECK(del.is_deleted);
  REQUIRE(del.deleted_at_us.has_value());
  CHECK(del.deleted_at_us->value() == kCommitUnixUs);
  REQUIRE(del.row.size() == 3);
  CHECK(del.row[0].present());
  CHECK(del.row[0].i == 1);
  CHECK(del.row[1].state == Datum::State::kAbsent);
  CHECK(del.row[2].state == Datum::State::kAbsent);
  CHECK(del.source.lsn == kWal2);

  const ChangeEvent& upd = f.out[1];
  CHECK(upd.op == Op::kUpdate);
  CHECK(upd.key_changed);  // debezium-json writes it as a create
  CHECK_FALSE(upd.is_deleted);
  CHECK_FALSE(upd.deleted_at_us.has_value());
  CHECK(upd.row[0].i == 2);
  CHECK(upd.row[1].text == "Ann");
  CHECK(upd.source.lsn == kWal2);
}

TEST_CASE("Update with a key-only old tuple and the same key is only an update", "[change_builder]") {
  // Postgres also sends the old key when it holds external TOAST values.
  Fixture f;
  f.apply(begin_msg());
  f.apply(update_msg(kUsersRelid, 'K', {t("1"), null_col(), null_col()}, {t("1"), t("Ann"), t("bio")}));
  REQUIRE(f.out.size() == 1);
  CHECK(f.out[0].op == Op::kUpdate);
  CHECK_FALSE(f.out[0].key_changed);
  CHECK_FALSE(f.out[0].is_deleted);
}

TEST_CASE("Update with a full old tuple (REPLICA IDENTITY FULL) and an unchanged key is only an update",
          "[change_builder]") {
  Fixture f;
  RelationMsg rel = users_relation();
  rel.replica_identity = 'f';
  for (auto& c : rel.columns) c.flags = 1;
  f.apply(rel);
  f.apply(begin_msg());
  f.apply(update_msg(kUsersRelid, 'O', {t("1"), t("Ann"), t("old")}, {t("1"), t("Ann"), t("new")}));
  REQUIRE(f.out.size() == 1);
  CHECK(f.out[0].op == Op::kUpdate);
  CHECK(f.out[0].row[2].text == "new");
}

TEST_CASE("Update with a full old tuple whose key changed: delete with the whole old row, then update",
          "[change_builder]") {
  Fixture f;
  RelationMsg rel = users_relation();
  rel.replica_identity = 'f';
  for (auto& c : rel.columns) c.flags = 1;
  f.apply(rel);
  f.apply(begin_msg());
  f.apply(update_msg(kUsersRelid, 'O', {t("1"), t("Ann"), t("old")}, {t("5"), t("Ann"), t("old")}));
  REQUIRE(f.out.size() == 2);
  const ChangeEvent& del = f.out[0];
  CHECK(del.op == Op::kDelete);
  CHECK(del.is_deleted);
  CHECK(del.deleted_at_us == std::optional<UnixMicros>(UnixMicros{kCommitUnixUs}));
  CHECK(del.row[0].i == 1);
  CHECK(del.row[1].text == "Ann");
  CHECK(del.row[2].text == "old");
  CHECK(f.out[1].op == Op::kUpdate);
  CHECK(f.out[1].row[0].i == 5);
  CHECK_FALSE(f.out[1].is_deleted);
}

TEST_CASE("Key-only delete image: identity columns present, the others absent (not NULL)", "[change_builder]") {
  // public.items(sku text, region text, qty int8, note text), identity index on (sku, region).
  ChangeBuilder builder({resolved("public", "items", 500, {"sku", "region"})}, builtin_type_names());
  std::vector<ChangeEvent> out;
  RelationMsg rel;
  rel.relid = RelationId(500);
  rel.nspname = "public";
  rel.relname = "items";
  rel.replica_identity = 'i';
  rel.columns = {column("sku", kText, true), column("region", kText, true), column("qty", kInt8),
                 column("note", kText)};
  builder.apply(rel, kWal1, out);
  builder.apply(begin_msg(), kWal1, out);
  builder.apply(delete_msg(500, 'K', {t("A-1"), t("eu"), null_col(), null_col()}), kWal1, out);
  REQUIRE(out.size() == 1);
  const auto& row = out[0].row;
  REQUIRE(row.size() == 4);
  CHECK(row[0].present());
  CHECK(row[0].text == "A-1");
  CHECK(row[1].present());
  CHECK(row[1].text == "eu");
  CHECK(row[2].state == Datum::State::kAbsent);
  CHECK(row[3].state == Datum::State::kAbsent);
  CHECK(out[0].is_deleted);
}

TEST_CASE("Delete with a full old tuple carries the whole row, NULLs kept as NULL", "[change_builder]") {
  Fixture f;
  RelationMsg rel = users_relation();
  rel.replica_identity = 'f';
  for (auto& c : rel.columns) c.flags = 1;
  f.apply(rel);
  f.apply(begin_msg());
  f.apply(delete_msg(kUsersRelid, 'O', {t("3"), t("Bo"), null_col()}));
  REQUIRE(f.out.size() == 1);
  CHECK(f.out[0].op == Op::kDelete);
  CHECK(f.out[0].is_deleted);
  CHECK(f.out[0].row[1].text == "Bo");
  CHECK(f.out[0].row[2].state == Datum::State::kNull);
}

TEST_CASE("Unchanged TOAST without an old image stays unchanged, never NULL", "[change_builder]") {
  Fixture f;
  f.apply(begin_msg());
  f.apply(update_msg(kUsersRelid, 0, {}, {t("1"), t("Ann"), toast_col()}));
  REQUIRE(f.out.size() == 1);
  CHECK(f.out[0].row[2].state == Datum::State::kUnchanged);
  CHECK(f.out[0].row[1].text == "Ann");
}

TEST_CASE("Unchanged TOAST is filled from an old image that carries the value", "[change_builder]") {
  Fixture f;
  RelationMsg rel = users_relation();
  rel.replica_identity = 'f';
  for (auto& c : rel.columns) c.flags = 1;
  f.apply(rel);
  f.apply(begin_msg());
  f.apply(update_msg(kUsersRelid, 'O', {t("1"), t("Ann"), t("long bio")}, {t("1"), t("Ann B"), toast_col()}));
  REQUIRE(f.out.size() == 1);
  CHECK(f.out[0].op == Op::kUpdate);
  CHECK(f.out[0].row[2].present());
  CHECK(f.out[0].row[2].text == "long bio");
  CHECK(f.out[0].row[1].text == "Ann B");
}

TEST_CASE("Unchanged TOAST stays unchanged when a key-only old image lacks the column", "[change_builder]") {
  Fixture f;
  f.apply(begin_msg());
  f.apply(update_msg(kUsersRelid, 'K', {t("1"), null_col(), null_col()}, {t("1"), t("Ann"), toast_col()}));
  REQUIRE(f.out.size() == 1);
  CHECK(f.out[0].row[2].state == Datum::State::kUnchanged);
}

TEST_CASE("An unchanged TOASTed key column is filled from the old key image: no spurious key change",
          "[change_builder]") {
  // Postgres logs the old key when the key holds external TOAST values, and
  // sends 'u' for the key in the new tuple.
  ChangeBuilder builder({resolved("public", "docs", 550, {"slug"})}, builtin_type_names());
  std::vector<ChangeEvent> out;
  RelationMsg rel;
  rel.relid = RelationId(550);
  rel.nspname = "public";
  rel.relname = "docs";
  rel.columns = {column("slug", kText, true), column("body", kText)};
  builder.apply(rel, kWal1, out);
  builder.apply(begin_msg(), kWal1, out);
  const std::string long_slug(3000, 's');
  builder.apply(update_msg(550, 'K', {t(long_slug), null_col()}, {toast_col(), t("new body")}), kWal1, out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].op == Op::kUpdate);
  CHECK(out[0].row[0].present());
  CHECK(out[0].row[0].text == long_slug);
  CHECK(out[0].row[1].text == "new body");
}

TEST_CASE("Keyless table (REPLICA IDENTITY FULL): an update never becomes a key change; deletes carry the row",
          "[change_builder]") {
  ChangeBuilder builder({resolved("public", "log", 560, {})}, builtin_type_names());
  std::vector<ChangeEvent> out;
  RelationMsg rel;
  rel.relid = RelationId(560);
  rel.nspname = "public";
  rel.relname = "log";
  rel.replica_identity = 'f';
  rel.columns = {column("at", kText, true), column("what", kText, true)};
  builder.apply(rel, kWal1, out);
  builder.apply(begin_msg(), kWal1, out);
  builder.apply(update_msg(560, 'O', {t("t1"), t("a")}, {t("t2"), t("b")}), kWal1, out);
  builder.apply(delete_msg(560, 'O', {t("t2"), t("b")}), kWal2, out);
  REQUIRE(out.size() == 2);
  CHECK(out[0].table->key_indexes.empty());
  CHECK(out[0].op == Op::kUpdate);
  CHECK(out[0].row[0].text == "t2");
  CHECK(out[1].op == Op::kDelete);
  CHECK(out[1].is_deleted);
  CHECK(out[1].row[0].text == "t2");
  CHECK(out[1].row[1].text == "b");
}

TEST_CASE("Composite key order follows the configured key columns, not the table's column order",
          "[change_builder]") {
  ChangeBuilder builder({resolved("sales", "lines", 600, {"line_no", "order_id"})}, builtin_type_names());
  std::vector<ChangeEvent> out;
  RelationMsg rel;
  rel.relid = RelationId(600);
  rel.nspname = "sales";
  rel.relname = "lines";
  rel.columns = {column("order_id", kInt8, true), column("qty", kInt4), column("line_no", kInt4, true)};
  builder.apply(rel, kWal1, out);
  builder.apply(begin_msg(), kWal1, out);
  builder.apply(insert_msg(600, {t("10"), t("3"), t("2")}), kWal1, out);
  REQUIRE(out.size() == 1);
  const TableSchema& schema = *out[0].table;
  CHECK(schema.key_indexes == std::vector<size_t>{2, 0});
  CHECK(schema.columns[0].key);
  CHECK_FALSE(schema.columns[1].key);
  CHECK(schema.columns[2].key);
  CHECK(out[0].row[schema.key_indexes[0]].i == 2);
  CHECK(out[0].row[schema.key_indexes[1]].i == 10);
}

TEST_CASE("A second Relation for the same relid replaces the schema; earlier events keep theirs",
          "[change_builder]") {
  Fixture f;
  f.apply(begin_msg());
  f.apply(insert_msg(kUsersRelid, {t("1"), t("Ann"), t("bio")}));
  REQUIRE(f.out.size() == 1);
  auto before = f.out[0].table;

  RelationMsg altered = users_relation();  // ALTER TABLE users ADD COLUMN age int4
  altered.columns.push_back(column("age", kInt4));
  f.apply(altered);
  f.apply(insert_msg(kUsersRelid, {t("2"), t("Bo"), null_col(), t("42")}), kWal2);
  REQUIRE(f.out.size() == 2);
  auto after = f.out[1].table;

  CHECK(before != after);
  CHECK(before->columns.size() == 3);
  CHECK(f.out[0].table->columns.size() == 3);
  CHECK(f.out[0].row.size() == 3);
  REQUIRE(after->columns.size() == 4);
  CHECK(after->columns[3].name == "age");
  CHECK(after->columns[3].type == ColumnType::kInt32);
  CHECK(after->key_indexes == std::vector<size_t>{0});
  CHECK(f.out[1].row[3].i == 42);

  // A tuple of the old width no longer matches the relation.
  CHECK(kind_of([&] { f.apply(insert_msg(kUsersRelid, {t("3"), t("Cy"), null_col()})); }) ==
        "protocol");
}

TEST_CASE("A Relation without a configured key column is a source error naming the column and table",
          "[change_builder]") {
  Fixture f;
  RelationMsg renamed = users_relation();  // ALTER TABLE users RENAME id TO user_id
  renamed.columns[0].name = "user_id";
  std::string message;
  CHECK(kind_of([&] { f.apply(renamed); }, &message) == "source");
  CHECK_THAT(message, Contains("\"id\""));
  CHECK_THAT(message, Contains("public.users"));
}

TEST_CASE("An unconfigured table gets one notice and none of its changes become events", "[change_builder]") {
  Fixture f;
  RelationMsg audit;
  audit.relid = RelationId(kAuditRelid);
  audit.nspname = "public";
  audit.relname = "audit";
  audit.columns = {column("id", kInt4, true), column("what", kText)};

  BuildStep first = f.apply(audit);
  REQUIRE(first.notice.has_value());
  CHECK_THAT(*first.notice, Contains("public.audit"));
  BuildStep second = f.apply(audit);
  CHECK_FALSE(second.notice.has_value());

  f.apply(begin_msg());
  f.apply(insert_msg(kAuditRelid, {t("1"), t("x")}));
  f.apply(update_msg(kAuditRelid, 0, {}, {t("1"), t("y")}));
  f.apply(delete_msg(kAuditRelid, 'K', {t("1"), null_col()}));
  CHECK(f.out.empty());

  TruncateMsg trunc;
  trunc.relids = {RelationId(kAuditRelid), RelationId(kUsersRelid)};
  f.apply(trunc, kWal2);
  REQUIRE(f.out.size() == 1);
  CHECK(f.out[0].op == Op::kTruncate);
  CHECK(f.out[0].table->qualified() == "public.users");
  CHECK(f.out[0].row.empty());
  CHECK(f.out[0].source.lsn == kWal2);
  CHECK(f.out[0].source.commit_lsn == kCommitLsn);
  CHECK_FALSE(f.out[0].is_deleted);
}

TEST_CASE("Truncate of several configured tables gives one event per table, in message order",
          "[change_builder]") {
  ChangeBuilder builder(
      {resolved("public", "users", kUsersRelid, {"id"}), resolved("public", "orders", kOrdersRelid, {"order_id"})},
      builtin_type_names());
  std::vector<ChangeEvent> out;
  RelationMsg orders;
  orders.relid = RelationId(kOrdersRelid);
  orders.nspname = "public";
  orders.relname = "orders";
  orders.columns = {column("order_id", kInt8, true)};
  builder.apply(users_relation(), kWal1, out);
  builder.apply(orders, kWal1, out);
  builder.apply(begin_msg(), kWal1, out);
  TruncateMsg trunc;
  trunc.relids = {RelationId(kOrdersRelid), RelationId(kUsersRelid)};
  builder.apply(trunc, kWal1, out);
  REQUIRE(out.size() == 2);
  CHECK(out[0].table->qualified() == "public.orders");
  CHECK(out[1].table->qualified() == "public.users");
  for (const auto& e : out) {
    CHECK(e.op == Op::kTruncate);
    CHECK(e.row.empty());
    CHECK(e.source.xid == kXid);
  }
}

TEST_CASE("Type message names a user type for relations described after it; builtins from the map, "
          "unknown OIDs as oid:NNN",
          "[change_builder]") {
  ChangeBuilder builder({resolved("public", "moods", 700, {"id"})}, builtin_type_names());
  std::vector<ChangeEvent> out;
  TypeMsg type;
  type.oid = 70001;
  type.nspname = "public";
  type.typname = "mood";
  BuildStep step = builder.apply(type, kWal1, out);
  CHECK_FALSE(step.begin.has_value());
  CHECK_FALSE(step.notice.has_value());

  RelationMsg rel;
  rel.relid = RelationId(700);
  rel.nspname = "public";
  rel.relname = "moods";
  rel.columns = {column("id", kInt4, true), column("feeling", 70001), column("tags", 99999)};
  builder.apply(rel, kWal1, out);
  builder.apply(begin_msg(), kWal1, out);
  builder.apply(insert_msg(700, {t("1"), t("happy"), t("{a,b}")}), kWal1, out);
  REQUIRE(out.size() == 1);
  const auto& cols = out[0].table->columns;
  CHECK(cols[0].type_name == "int4");
  CHECK(cols[0].type == ColumnType::kInt32);
  CHECK(cols[1].type_name == "public.mood");
  CHECK(cols[1].type_oid == 70001);
  CHECK(cols[1].type == ColumnType::kOther);
  CHECK(cols[2].type_name == "oid:99999");
  CHECK(cols[2].type == ColumnType::kOther);
  CHECK(out[0].row[1].text == "happy");
  CHECK(out[0].row[2].text == "{a,b}");
}

TEST_CASE("Insert before any Begin is a protocol error", "[change_builder]") {
  Fixture f;
  CHECK_FALSE(f.builder.in_transaction());
  std::string message;
  CHECK(kind_of([&] { f.apply(insert_msg(kUsersRelid, {t("1"), t("a"), t("b")})); }, &message) ==
        "protocol");
  CHECK_THAT(message, Contains("outside a transaction"));
  CHECK(f.out.empty());
}

TEST_CASE("Commit without Begin is a protocol error", "[change_builder]") {
  Fixture f;
  CHECK(kind_of([&] { f.apply(commit_msg()); }) == "protocol");
}

TEST_CASE("A commit time no encoder can represent is a protocol error naming the LSN, not an overflow",
          "[change_builder]") {
  ChangeBuilder builder{{resolved("public", "users", kUsersRelid, {"id"})}, builtin_type_names()};
  std::vector<ChangeEvent> out;
  for (int64_t ts : {std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min(),
                     int64_t{9'000'000'000'000'000'000}}) {
    BeginMsg b = begin_msg();
    b.commit_ts = PgMicros{ts};
    try {
      builder.apply(b, Lsn(0x16B3748), out);
      FAIL("accepted commit timestamp " << ts);
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::kProtocol);
      CHECK_THAT(e.what(), Catch::Contains("at LSN 0/16B3748"));
      CHECK_THAT(e.what(), Catch::Contains("outside the years 1677-2262"));
    }
  }
  // The last representable years still pass.
  BeginMsg ok = begin_msg();
  ok.commit_ts = PgMicros{std::numeric_limits<int64_t>::max() / 1000 - kPgEpochOffsetMicros};
  CHECK(builder.apply(ok, Lsn(0x16B3748), out).begin.has_value());
}

TEST_CASE("A change of a relid no Relation described is a protocol error", "[change_builder]") {
  Fixture f;
  f.apply(begin_msg());
  std::string message;
  CHECK(kind_of([&] { f.apply(insert_msg(99, {t("1")})); }, &message) == "protocol");
  CHECK_THAT(message, Contains("99"));
  CHECK(kind_of([&] { f.apply(delete_msg(99, 'K', {t("1")})); }) == "protocol");
  TruncateMsg trunc;
  trunc.relids = {RelationId(99)};
  CHECK(kind_of([&] { f.apply(trunc); }) == "protocol");
  CHECK(f.out.empty());
}

TEST_CASE("Commit whose commit_lsn differs from the Begin's final_lsn is a protocol error", "[change_builder]") {
  Fixture f;
  f.apply(begin_msg());
  std::string message;
  CHECK(kind_of([&] { f.apply(commit_msg(Lsn{0x16B3900})); }, &message) == "protocol");
  CHECK_THAT(message, Contains("0/16B3900"));
  CHECK_THAT(message, Contains("0/16B3800"));
}

TEST_CASE("A tuple with a different number of columns than the relation is a protocol error",
          "[change_builder]") {
  Fixture f;
  f.apply(begin_msg());
  CHECK(kind_of([&] { f.apply(insert_msg(kUsersRelid, {t("1"), t("a")})); }) == "protocol");
  CHECK(kind_of([&] { f.apply(insert_msg(kUsersRelid, {t("1"), t("a"), t("b"), t("c")})); }) ==
        "protocol");
  CHECK(kind_of([&] {
          f.apply(update_msg(kUsersRelid, 'K', {t("1")}, {t("1"), t("a"), t("b")}));
        }) == "protocol");
  CHECK(kind_of([&] { f.apply(delete_msg(kUsersRelid, 'K', {t("1"), null_col()})); }) == "protocol");
  CHECK(f.out.empty());
}

TEST_CASE("A binary ('b') column is a protocol error naming the column", "[change_builder]") {
  Fixture f;
  f.apply(begin_msg());
  std::string message;
  CHECK(kind_of([&] { f.apply(insert_msg(kUsersRelid, {t("1"), binary_col("\x01\x02"), null_col()})); },
                &message) == "protocol");
  CHECK_THAT(message, Contains("name"));
  CHECK_THAT(message, Contains("binary"));
  CHECK(f.out.empty());
}

TEST_CASE("A logical decoding message passes through as BuildStep.message", "[change_builder]") {
  Fixture f;
  LogicalMsg m;
  m.transactional = false;
  m.lsn = Lsn{0x16B3700};
  m.prefix = "tombsync";
  m.content = "hello";
  BuildStep step = f.apply(m);
  REQUIRE(step.message.has_value());
  CHECK(step.message->prefix == "tombsync");
  CHECK(step.message->content == "hello");
  CHECK(step.message->lsn == Lsn{0x16B3700});
  CHECK_FALSE(step.message->transactional);
  CHECK(f.out.empty());
}

TEST_CASE("in_transaction is true between Begin and Commit only", "[change_builder]") {
  Fixture f;
  CHECK_FALSE(f.builder.in_transaction());
  f.apply(begin_msg());
  CHECK(f.builder.in_transaction());
  f.apply(insert_msg(kUsersRelid, {t("1"), t("a"), t("b")}));
  CHECK(f.builder.in_transaction());
  f.apply(commit_msg());
  CHECK_FALSE(f.builder.in_transaction());
  // The next transaction starts cleanly.
  f.apply(begin_msg());
  CHECK(f.builder.in_transaction());
}

// Quoted names may hold a dot ('"a.b".c' and 'a."b.c"' are distinct tables
// that both print as "a.b.c"): relations are matched to the config by OID.
TEST_CASE("Tables whose quoted names contain dots keep their own key columns", "[change_builder]") {
  ChangeBuilder builder({resolved("a.b", "c", 801, {"id"}), resolved("a", "b.c", 802, {"code"})},
                        builtin_type_names());
  std::vector<ChangeEvent> out;
  RelationMsg first;
  first.relid = RelationId(801);
  first.nspname = "a.b";
  first.relname = "c";
  first.columns = {column("id", kInt4, true)};
  RelationMsg second;
  second.relid = RelationId(802);
  second.nspname = "a";
  second.relname = "b.c";
  second.columns = {column("code", kText, true)};
  CHECK_NOTHROW(builder.apply(first, kWal1, out));
  CHECK_NOTHROW(builder.apply(second, kWal1, out));
  builder.apply(begin_msg(), kWal1, out);
  CHECK_NOTHROW(builder.apply(insert_msg(801, {t("1")}), kWal1, out));
  CHECK_NOTHROW(builder.apply(insert_msg(802, {t("x")}), kWal1, out));
  REQUIRE(out.size() == 2);
  CHECK(out[0].table->schema == "a.b");
  CHECK(out[0].table->key_indexes == std::vector<size_t>{0});
  CHECK(out[1].table->schema == "a");
  CHECK(out[1].table->key_indexes == std::vector<size_t>{0});
}

TEST_CASE("An unconfigured table whose dotted name prints like a configured one is still ignored",
          "[change_builder]") {
  ChangeBuilder builder({resolved("a.b", "c", 801, {"id"})}, builtin_type_names());
  std::vector<ChangeEvent> out;
  RelationMsg other;
  other.relid = RelationId(803);
  other.nspname = "a";
  other.relname = "b.c";
  other.columns = {column("id", kInt4, true)};
  BuildStep step = builder.apply(other, kWal1, out);
  CHECK(step.notice.has_value());
  builder.apply(begin_msg(), kWal1, out);
  builder.apply(insert_msg(803, {t("1")}), kWal1, out);
  CHECK(out.empty());
}

// pgoutput sends a new Relation with the new name for the same relid after
// ALTER TABLE ... RENAME (or SET SCHEMA). Ignoring it would drop the
// configured table's changes; the stream stops instead.
TEST_CASE("A configured table renamed while streaming is a source error naming both names",
          "[change_builder]") {
  Fixture f;
  RelationMsg renamed = users_relation();
  renamed.relname = "people";
  std::string message;
  CHECK(kind_of([&] { f.apply(renamed); }, &message) == "source");
  CHECK_THAT(message, Contains("public.users"));
  CHECK_THAT(message, Contains("public.people"));

  RelationMsg moved = users_relation();
  moved.nspname = "archive";
  CHECK(kind_of([&] { f.apply(moved); }, &message) == "source");
  CHECK_THAT(message, Contains("archive.users"));
}

TEST_CASE("A value that does not decode names its column, table and LSN", "[change_builder]") {
  Fixture f;
  f.apply(begin_msg());
  std::string message;
  CHECK(kind_of([&] { f.apply(insert_msg(kUsersRelid, {t("12x"), t("n"), null_col()}), kWal1); }, &message) ==
        "protocol");
  CHECK_THAT(message, Contains("column id of public.users at LSN " + kWal1.str()));
  CHECK_THAT(message, Contains("invalid int32 value \"12x\""));
  CHECK(f.out.empty());
}

}  // namespace tombsync::pg
