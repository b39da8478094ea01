// Deletes for keys the key ledger holds (schemas/ledger_delete.h): each format reads back the
// keys it wrote, and the delete names exactly that key.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "schemas/encoder.h"
#include "schemas/ledger_delete.h"
#include "tests/unit/schemas/event_fixtures.h"

using namespace tombsync;
using namespace tombsync::test;

namespace {

EncoderContext debezium_context() {
  EncoderContext c;
  c.server_name = "app";
  c.database = "shop";
  c.version = "tombsync-test";
  c.now_us = [] { return int64_t{1}; };
  return c;
}

SourcePosition truncate_at() {
  SourcePosition at;
  at.lsn = Lsn(0x16C0000);
  at.commit_lsn = Lsn(0x16C0100);
  at.xid = 900;
  at.commit_ts_us = UnixMicros{kCommitTs + 1};
  return at;
}

// A table keyed by every type the JSON formats read back.
std::shared_ptr<const TableSchema> wide_key_table() {
  return make_table("public", "wide",
                    {{"i8", ColumnType::kInt64, "int8", true},
                     {"flag", ColumnType::kBool, "bool", true},
                     {"u", ColumnType::kUuid, "uuid", true},
                     {"t", ColumnType::kText, "text", true},
                     {"b", ColumnType::kBytea, "bytea", true},
                     {"n", ColumnType::kNumeric, "numeric", true},
                     {"ts", ColumnType::kTimestampTz, "timestamptz", true},
                     {"v", ColumnType::kText, "text"}});
}

std::vector<Datum> wide_row() {
  Datum b = present();
  b.text = std::string("\x00\xff\x10", 3);
  return {int_value(-9007199254740993), bool_value(true), text_value("1b4e28ba-2fa1-11d2-883f-0016d3cca427"),
          text_value("caf\xc3\xa9 \"q\""), b, text_value("12.340"), text_value("2024-05-01T10:00:00.5Z"),
          text_value("not in the key")};
}

}  // namespace

TEST_CASE("a ledger key reads back in each format: the delete names exactly that key", "[ledger_delete]") {
  for (Format format : {Format::kJson, Format::kProtobuf, Format::kDebeziumJson}) {
    INFO(to_string(format));
    auto enc = make_encoder(format, debezium_context());
    const ChangeEvent row = make_event(Op::kInsert, users_table(), users_row());
    const std::string key = enc->key(row);
    const ChangeEvent del = ledger_delete(*enc, users_table(), key, truncate_at(), UnixMicros{kCommitTs + 1},
                                          DeleteOrigin::kTruncate);
    CHECK(enc->key(del) == key);
    CHECK(del.op == Op::kDelete);
    CHECK(del.is_deleted);
    CHECK(del.deleted_at_us->value() == kCommitTs + 1);
    CHECK(del.origin == DeleteOrigin::kTruncate);
    CHECK(del.source.xid == 900);
    CHECK(del.row[0].i == 1);
    CHECK(del.row[1].text == "eu");
    for (size_t i = 2; i < del.row.size(); ++i) CHECK(del.row[i].state == Datum::State::kAbsent);
    CHECK_FALSE(enc->value(del).empty());  // a key-only delete each encoder writes
  }
}

TEST_CASE("JSON and protobuf keys of every key type they write read back exactly", "[ledger_delete]") {
  for (Format format : {Format::kJson, Format::kProtobuf}) {
    INFO(to_string(format));
    auto enc = make_encoder(format);
    const std::string key = enc->key(make_event(Op::kInsert, wide_key_table(), wide_row()));
    const ChangeEvent del =
        ledger_delete(*enc, wide_key_table(), key, truncate_at(), UnixMicros{kCommitTs}, DeleteOrigin::kInferred);
    CHECK(enc->key(del) == key);
    CHECK(del.row[4].text == std::string("\x00\xff\x10", 3));  // bytea, from base64 in JSON
    CHECK(del.row[7].state == Datum::State::kAbsent);
  }
  auto json = make_encoder(Format::kJson);
  const ChangeEvent del = ledger_delete(*json, wide_key_table(), json->key(make_event(Op::kInsert, wide_key_table(), wide_row())),
                                        truncate_at(), UnixMicros{kCommitTs}, DeleteOrigin::kInferred);
  CHECK(nlohmann::json::parse(json->value(del))["__inferred"] == true);
}

TEST_CASE("a ledger key that is not one the table's format writes now is refused, naming the table",
          "[ledger_delete]") {
  auto json = make_encoder(Format::kJson);
  auto proto = make_encoder(Format::kProtobuf);
  const std::string json_key = json->key(make_event(Op::kInsert, users_table(), users_row()));
  auto refused = [&](const Encoder& enc, std::string_view key, std::shared_ptr<const TableSchema> table) {
    try {
      ledger_delete(enc, table, key, truncate_at(), UnixMicros{kCommitTs}, DeleteOrigin::kTruncate);
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::kState);
      CHECK_THAT(e.what(), Catch::Contains("the key ledger of public.") && Catch::Contains("no delete can name it"));
      return true;
    }
    return false;
  };
  CHECK(refused(*proto, json_key, users_table()));                       // another format wrote it
  CHECK(refused(*json, R"({"id":1})", users_table()));                   // other key columns
  CHECK(refused(*json, R"({"id":1,"region":"eu","x":2})", users_table()));
  CHECK(refused(*json, R"({"id":1.5,"region":"eu"})", users_table()));   // not an int4's encoding
  CHECK(refused(*json, R"({"id": 1,"region":"eu"})", users_table()));    // not byte for byte what key() writes
  CHECK(refused(*json, "not json", users_table()));
  auto debezium = make_encoder(Format::kDebeziumJson, debezium_context());
  const std::string ts_key = debezium->key(make_event(Op::kInsert, wide_key_table(), wide_row()));
  CHECK(refused(*debezium, ts_key, wide_key_table()));  // numeric, bytea, timestamptz keys: not read back
}
