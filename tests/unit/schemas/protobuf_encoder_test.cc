#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>

#include "schemas/encoder.h"
#include "base/error.h"
#include "tests/unit/schemas/event_fixtures.h"
#include "schemas/protobuf_encoder.h"
#include "tombsync/v1/change_event.pb.h"

using namespace tombsync;
using namespace tombsync::test;

namespace {

v1::ChangeEvent parse_value(const std::string& bytes) {
  v1::ChangeEvent m;
  REQUIRE(m.ParseFromString(bytes));
  return m;
}

v1::Key parse_key(const std::string& bytes) {
  v1::Key m;
  REQUIRE(m.ParseFromString(bytes));
  return m;
}

}  // namespace

TEST_CASE("Protobuf insert round-trips with every column typed", "[protobuf_encoder]") {
  ProtobufEncoder enc;
  const v1::ChangeEvent m =
      parse_value(enc.value(make_event(Op::kInsert, users_table(), users_row())));
  CHECK(m.op() == v1::OP_INSERT);
  CHECK(m.schema() == "public");
  CHECK(m.table() == "users");
  CHECK_FALSE(m.is_deleted());
  CHECK(m.deleted_at_us() == 0);
  CHECK(m.lsn() == "0/16B3748");
  CHECK(m.commit_lsn() == "0/16B3800");
  CHECK(m.xid() == 731);
  CHECK(m.commit_ts_us() == kCommitTs);
  REQUIRE(m.columns_size() == 8);
  CHECK(m.columns(0).name() == "id");
  CHECK(m.columns(0).type() == "int4");
  CHECK(m.columns(0).key());
  CHECK(m.columns(0).value().int_value() == 1);
  CHECK(m.columns(1).key());
  CHECK(m.columns(1).value().string_value() == "eu");
  CHECK_FALSE(m.columns(2).key());
  CHECK(m.columns(2).value().string_value() == "Ann");
  CHECK(m.columns(3).value().kind_case() == v1::Value::kNull);
  CHECK(m.columns(3).value().null());
  CHECK(m.columns(4).value().double_value() == 1.5);
  CHECK(m.columns(5).type() == "jsonb");
  CHECK(m.columns(5).value().json_value() == "{\"a\": 1}");
  CHECK(m.columns(6).value().bytes_value() == std::string("\x00\xff", 2));
  CHECK(m.columns(7).value().string_value() == "12.340");
}

TEST_CASE("Protobuf update marks unchanged TOAST values, distinct from null",
          "[protobuf_encoder]") {
  auto row = users_row();
  row[3] = Datum::unchanged();
  ProtobufEncoder enc;
  const v1::ChangeEvent m = parse_value(enc.value(make_event(Op::kUpdate, users_table(), row)));
  CHECK(m.op() == v1::OP_UPDATE);
  REQUIRE(m.columns_size() == 8);
  CHECK(m.columns(3).name() == "bio");
  CHECK(m.columns(3).value().kind_case() == v1::Value::kUnchanged);
  CHECK(m.columns(3).value().unchanged());
}

TEST_CASE("Protobuf key-only delete leaves absent columns out", "[protobuf_encoder]") {
  std::vector<Datum> row(8, Datum::absent());
  row[0] = int_value(1);
  row[1] = text_value("eu");
  ProtobufEncoder enc;
  const v1::ChangeEvent m = parse_value(enc.value(make_event(Op::kDelete, users_table(), row)));
  CHECK(m.op() == v1::OP_DELETE);
  CHECK(m.is_deleted());
  CHECK(m.deleted_at_us() == kCommitTs);
  REQUIRE(m.columns_size() == 2);
  CHECK(m.columns(0).name() == "id");
  CHECK(m.columns(1).name() == "region");
}

TEST_CASE("Protobuf truncate has no columns and no key", "[protobuf_encoder]") {
  ProtobufEncoder enc;
  const ChangeEvent e = make_event(Op::kTruncate, users_table(), {});
  const v1::ChangeEvent m = parse_value(enc.value(e));
  CHECK(m.op() == v1::OP_TRUNCATE);
  CHECK(m.table() == "users");
  CHECK(m.columns_size() == 0);
  CHECK_THROWS_AS(enc.key(e), Error);
}

TEST_CASE("Protobuf key holds the key columns' names and values, in key order",
          "[protobuf_encoder]") {
  auto t = std::make_shared<TableSchema>(*users_table());
  t->key_indexes = {1, 0};
  ProtobufEncoder enc;
  const v1::Key k = parse_key(enc.key(make_event(Op::kInsert, t, users_row())));
  REQUIRE(k.columns_size() == 2);
  CHECK(k.columns(0).name() == "region");
  CHECK(k.columns(0).value().string_value() == "eu");
  CHECK(k.columns(1).name() == "id");
  CHECK(k.columns(1).value().int_value() == 1);
  CHECK(k.columns(0).type().empty());  // types left out: widening a key keeps its bytes
  CHECK_FALSE(k.columns(0).key());
}

TEST_CASE("Protobuf keys are deterministic and survive a widened key type",
          "[protobuf_encoder]") {
  ProtobufEncoder enc;
  const ChangeEvent insert = make_event(Op::kInsert, users_table(), users_row());
  std::vector<Datum> key_only(8, Datum::absent());
  key_only[0] = int_value(1);
  key_only[1] = text_value("eu");
  const ChangeEvent del = make_event(Op::kDelete, users_table(), key_only);
  CHECK(enc.key(insert) == enc.key(del));
  CHECK(enc.key(insert) == ProtobufEncoder().key(insert));
  CHECK(enc.value(insert) == enc.value(insert));

  auto widened = std::make_shared<TableSchema>(*users_table());
  widened->columns[0].type = ColumnType::kInt64;
  widened->columns[0].type_name = "int8";
  CHECK(enc.key(make_event(Op::kInsert, widened, users_row())) == enc.key(insert));
}

TEST_CASE("Protobuf scratch reuse leaves nothing behind between events", "[protobuf_encoder]") {
  ProtobufEncoder enc;
  (void)enc.value(make_event(Op::kInsert, users_table(), users_row()));
  const std::string truncate = enc.value(make_event(Op::kTruncate, users_table(), {}));
  CHECK(truncate == ProtobufEncoder().value(make_event(Op::kTruncate, users_table(), {})));
}

TEST_CASE("Protobuf encodes every column type", "[protobuf_encoder]") {
  auto t = make_table("public", "types",
                      {{"i16", ColumnType::kInt16, "int2", true},
                       {"i64", ColumnType::kInt64, "int8"},
                       {"flag", ColumnType::kBool, "bool"},
                       {"f4", ColumnType::kFloat32, "float4"},
                       {"nan", ColumnType::kFloat64, "float8"},
                       {"ninf", ColumnType::kFloat64, "float8"},
                       {"num", ColumnType::kNumeric, "numeric"},
                       {"uid", ColumnType::kUuid, "uuid"},
                       {"d", ColumnType::kDate, "date"},
                       {"t", ColumnType::kTime, "time"},
                       {"ts", ColumnType::kTimestamp, "timestamp"},
                       {"tstz", ColumnType::kTimestampTz, "timestamptz"},
                       {"iv", ColumnType::kInterval, "interval"},
                       {"js", ColumnType::kJson, "json"},
                       {"bin", ColumnType::kBytea, "bytea"},
                       {"arr", ColumnType::kOther, "_int4"}});
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  ChangeEvent e = make_event(
      Op::kRead, t,
      {int_value(-32768), int_value(std::numeric_limits<int64_t>::min()), bool_value(true),
       float_value(0.1, "0.1"), float_value(std::nan(""), "NaN"),
       float_value(-std::numeric_limits<double>::infinity(), "-Infinity"), text_value("NaN"),
       text_value("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), text_value("-0043-03-15"),
       text_value("24:00:00"), text_value("2024-05-01T10:00:00.5"),
       text_value("infinity"), text_value("PT0S"), text_value("[1,2]"), text_value(all),
       text_value("{1,2}")});
  ProtobufEncoder enc;
  const v1::ChangeEvent m = parse_value(enc.value(e));
  CHECK(m.op() == v1::OP_READ);
  REQUIRE(m.columns_size() == 16);
  CHECK(m.columns(0).value().int_value() == -32768);
  CHECK(m.columns(1).value().int_value() == std::numeric_limits<int64_t>::min());
  CHECK(m.columns(2).value().kind_case() == v1::Value::kBoolValue);
  CHECK(m.columns(2).value().bool_value());
  CHECK(m.columns(3).value().double_value() == 0.1);
  CHECK(std::isnan(m.columns(4).value().double_value()));
  CHECK(m.columns(5).value().double_value() == -std::numeric_limits<double>::infinity());
  CHECK(m.columns(6).value().string_value() == "NaN");
  CHECK(m.columns(7).value().string_value() == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
  CHECK(m.columns(8).value().string_value() == "-0043-03-15");
  CHECK(m.columns(9).value().string_value() == "24:00:00");
  CHECK(m.columns(10).value().string_value() == "2024-05-01T10:00:00.5");
  CHECK(m.columns(11).value().string_value() == "infinity");
  CHECK(m.columns(12).value().string_value() == "PT0S");
  CHECK(m.columns(13).value().json_value() == "[1,2]");
  CHECK(m.columns(14).value().bytes_value() == all);
  CHECK(m.columns(15).type() == "_int4");
  CHECK(m.columns(15).value().string_value() == "{1,2}");
}

TEST_CASE("Protobuf strings are repaired to valid UTF-8 so consumers can parse them",
          "[protobuf_encoder]") {
  auto t = make_table("public", "latin", {{"id", ColumnType::kInt32, "int4", true},
                                          {"name\xE9", ColumnType::kText, "text"}});
  ProtobufEncoder enc;
  const v1::ChangeEvent m =
      parse_value(enc.value(make_event(Op::kInsert, t, {int_value(1), text_value("caf\xE9")})));
  CHECK(m.columns(1).name() == "name\xEF\xBF\xBD");
  CHECK(m.columns(1).value().string_value() == "caf\xEF\xBF\xBD");
}

TEST_CASE("make_encoder builds the protobuf encoder", "[protobuf_encoder]") {
  auto enc = make_encoder(Format::kProtobuf);
  const ChangeEvent e = make_event(Op::kInsert, users_table(), users_row());
  CHECK(enc->value(e) == ProtobufEncoder().value(e));
}

TEST_CASE("Protobuf deletes carry their origin: row (the default), truncate or inferred", "[protobuf_encoder]") {
  std::vector<Datum> row(8, Datum::absent());
  row[0] = int_value(1);
  row[1] = text_value("eu");
  ProtobufEncoder enc;
  ChangeEvent e = make_event(Op::kDelete, users_table(), row);
  CHECK(parse_value(enc.value(e)).delete_origin() == v1::DELETE_ORIGIN_ROW);
  e.origin = DeleteOrigin::kTruncate;
  CHECK(parse_value(enc.value(e)).delete_origin() == v1::DELETE_ORIGIN_TRUNCATE);
  e.origin = DeleteOrigin::kInferred;
  const v1::ChangeEvent m = parse_value(enc.value(e));
  CHECK(m.delete_origin() == v1::DELETE_ORIGIN_INFERRED);
  CHECK(m.is_deleted());
  CHECK(m.columns_size() == 2);
}
