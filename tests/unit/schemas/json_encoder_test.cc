#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "schemas/base64.h"
#include "schemas/encoder.h"
#include "base/error.h"
#include "tests/unit/schemas/event_fixtures.h"
#include "schemas/json_encoder.h"
#include "schemas/stream_position.h"

using namespace tombsync;
using namespace tombsync::test;

namespace {

// The metadata tail every users event shares, after "__op".
const std::string kSource =
    R"("__lsn":"0/16B3748","__commit_lsn":"0/16B3800","__xid":731,)"
    R"("__commit_ts":"2024-05-01T10:00:00.123456Z","__table":"public.users","__pos":"102236989197123584")";

void require_internal_error(const std::function<void()>& fn) {
  try {
    fn();
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kInternal);
  }
}

}  // namespace

TEST_CASE("JSON insert: every column at top level, then the metadata", "[json_encoder]") {
  JsonEncoder enc;
  const ChangeEvent e = make_event(Op::kInsert, users_table(), users_row());
  CHECK(enc.key(e) == R"({"id":1,"region":"eu"})");
  CHECK(enc.value(e) ==
        R"({"id":1,"region":"eu","name":"Ann","bio":null,"score":1.5,"payload":{"a": 1},)"
        R"("avatar":"AP8=","balance":"12.340","is_deleted":false,"deleted_at":null,)"
        R"("__op":"insert",)" + kSource + "}");
}

TEST_CASE("JSON update: unchanged TOAST columns are listed, never emitted as null",
          "[json_encoder]") {
  JsonEncoder enc;
  auto row = users_row();
  row[2] = text_value("Ann B");
  row[3] = Datum::unchanged();
  row[5] = Datum::unchanged();
  const ChangeEvent e = make_event(Op::kUpdate, users_table(), row);
  CHECK(enc.value(e) ==
        R"({"id":1,"region":"eu","name":"Ann B","score":1.5,"avatar":"AP8=","balance":"12.340",)"
        R"("is_deleted":false,"deleted_at":null,"__op":"update",)" + kSource +
        R"(,"__unchanged":["bio","payload"]})");
}

TEST_CASE("JSON key-only delete: absent columns are left out", "[json_encoder]") {
  JsonEncoder enc;
  std::vector<Datum> row(8, Datum::absent());
  row[0] = int_value(1);
  row[1] = text_value("eu");
  const ChangeEvent e = make_event(Op::kDelete, users_table(), row);
  CHECK(enc.key(e) == R"({"id":1,"region":"eu"})");
  CHECK(enc.value(e) ==
        R"({"id":1,"region":"eu","is_deleted":true,"deleted_at":"2024-05-01T10:00:00.123456Z",)"
        R"("__op":"delete",)" + kSource + "}");
}

TEST_CASE("JSON full-row delete (REPLICA IDENTITY FULL) carries the old row", "[json_encoder]") {
  JsonEncoder enc;
  const ChangeEvent e = make_event(Op::kDelete, users_table(), users_row());
  CHECK(enc.value(e) ==
        R"({"id":1,"region":"eu","name":"Ann","bio":null,"score":1.5,"payload":{"a": 1},)"
        R"("avatar":"AP8=","balance":"12.340","is_deleted":true,)"
        R"("deleted_at":"2024-05-01T10:00:00.123456Z","__op":"delete",)" + kSource + "}");
}

TEST_CASE("JSON truncate: metadata only, and no key", "[json_encoder]") {
  JsonEncoder enc;
  const ChangeEvent e = make_event(Op::kTruncate, users_table(), {});
  CHECK(enc.value(e) ==
        R"({"is_deleted":false,"deleted_at":null,"__op":"truncate",)" + kSource + "}");
  require_internal_error([&] { (void)enc.key(e); });
}

TEST_CASE("JSON snapshot read and soft-delete shapes", "[json_encoder]") {
  JsonEncoder enc;
  ChangeEvent read = make_event(Op::kRead, users_table(), users_row());
  CHECK(enc.value(read).find(R"("is_deleted":false,"deleted_at":null,"__op":"read")") !=
        std::string::npos);
  // A soft delete is an update flagged deleted by the pipeline.
  ChangeEvent soft = make_event(Op::kUpdate, users_table(), users_row());
  soft.is_deleted = true;
  soft.deleted_at_us = UnixMicros{0};
  CHECK(enc.value(soft).find(
            R"("is_deleted":true,"deleted_at":"1970-01-01T00:00:00.000000Z","__op":"update")") !=
        std::string::npos);
}

TEST_CASE("JSON keys are deterministic and depend only on the key columns", "[json_encoder]") {
  JsonEncoder enc;
  const ChangeEvent insert = make_event(Op::kInsert, users_table(), users_row());
  auto other_row = users_row();
  other_row[2] = text_value("Bob");
  other_row[3] = Datum::unchanged();
  const ChangeEvent update = make_event(Op::kUpdate, users_table(), other_row);
  std::vector<Datum> key_only(8, Datum::absent());
  key_only[0] = int_value(1);
  key_only[1] = text_value("eu");
  const ChangeEvent del = make_event(Op::kDelete, users_table(), key_only);
  CHECK(enc.key(insert) == enc.key(insert));
  CHECK(enc.key(insert) == enc.key(update));
  CHECK(enc.key(insert) == enc.key(del));
  CHECK(enc.value(insert) == enc.value(insert));
  CHECK(JsonEncoder().value(insert) == enc.value(insert));
}

TEST_CASE("JSON key columns follow key order, not column order", "[json_encoder]") {
  auto t = std::make_shared<TableSchema>(*users_table());
  t->key_indexes = {1, 0};
  JsonEncoder enc;
  CHECK(enc.key(make_event(Op::kInsert, t, users_row())) == R"({"region":"eu","id":1})");
}

TEST_CASE("JSON null key column is null; unchanged or absent key column is a bug",
          "[json_encoder]") {
  JsonEncoder enc;
  auto row = users_row();
  row[1] = Datum::null();
  CHECK(enc.key(make_event(Op::kInsert, users_table(), row)) == R"({"id":1,"region":null})");
  row[1] = Datum::unchanged();
  require_internal_error([&] { (void)enc.key(make_event(Op::kUpdate, users_table(), row)); });
  row[1] = Datum::absent();
  require_internal_error([&] { (void)enc.key(make_event(Op::kDelete, users_table(), row)); });
}

TEST_CASE("JSON encoder rejects events that do not match their table", "[json_encoder]") {
  JsonEncoder enc;
  auto short_row = users_row();
  short_row.pop_back();
  require_internal_error(
      [&] { (void)enc.value(make_event(Op::kInsert, users_table(), short_row)); });
  ChangeEvent no_table = make_event(Op::kInsert, nullptr, users_row());
  require_internal_error([&] { (void)enc.value(no_table); });
}

TEST_CASE("JSON escapes text and column names", "[json_encoder]") {
  auto t = make_table("my \"schema\"", "tab\\le",
                      {{"id", ColumnType::kInt64, "int8", true},
                       {"we\"ird\\name\n", ColumnType::kText, "text"},
                       {"naïve 列", ColumnType::kText, "text"},
                       {"ctl", ColumnType::kText, "text"}});
  ChangeEvent e = make_event(Op::kInsert, t,
                             {int_value(7), text_value("say \"hi\"\\"), text_value("日本語 é"),
                              text_value(std::string("a\x01\tb\0c", 6))});
  JsonEncoder enc;
  const std::string value = enc.value(e);
  CHECK(value.substr(0, value.find(R"(,"is_deleted")")) ==
        R"({"id":7,"we\"ird\\name\n":"say \"hi\"\\","naïve 列":"日本語 é",)"
        R"("ctl":"a\u0001\tb\u0000c")");
  CHECK(value.find(R"("__table":"my \"schema\".tab\\le")") != std::string::npos);
  const auto parsed = nlohmann::json::parse(value);
  CHECK(parsed["we\"ird\\name\n"] == "say \"hi\"\\");
  CHECK(parsed["naïve 列"] == "日本語 é");
  CHECK(parsed["ctl"] == std::string("a\x01\tb\0c", 6));
  CHECK(parsed["__table"] == "my \"schema\".tab\\le");
}

TEST_CASE("JSON encodes every column type as documented", "[json_encoder]") {
  auto t = make_table("public", "types",
                      {{"i16", ColumnType::kInt16, "int2", true},
                       {"i32", ColumnType::kInt32, "int4"},
                       {"i64", ColumnType::kInt64, "int8"},
                       {"i64max", ColumnType::kInt64, "int8"},
                       {"flag", ColumnType::kBool, "bool"},
                       {"off", ColumnType::kBool, "bool"},
                       {"f4", ColumnType::kFloat32, "float4"},
                       {"f8", ColumnType::kFloat64, "float8"},
                       {"big", ColumnType::kFloat64, "float8"},
                       {"nan", ColumnType::kFloat64, "float8"},
                       {"inf", ColumnType::kFloat32, "float4"},
                       {"ninf", ColumnType::kFloat64, "float8"},
                       {"num", ColumnType::kNumeric, "numeric"},
                       {"num_nan", ColumnType::kNumeric, "numeric"},
                       {"txt", ColumnType::kText, "varchar"},
                       {"uid", ColumnType::kUuid, "uuid"},
                       {"d", ColumnType::kDate, "date"},
                       {"t", ColumnType::kTime, "time"},
                       {"ts", ColumnType::kTimestamp, "timestamp"},
                       {"tstz", ColumnType::kTimestampTz, "timestamptz"},
                       {"iv", ColumnType::kInterval, "interval"},
                       {"js", ColumnType::kJson, "json"},
                       {"jsb", ColumnType::kJson, "jsonb"},
                       {"bin", ColumnType::kBytea, "bytea"},
                       {"empty_bin", ColumnType::kBytea, "bytea"},
                       {"arr", ColumnType::kOther, "_int4"},
                       {"mood", ColumnType::kOther, "public.mood"}});
  const double inf = std::numeric_limits<double>::infinity();
  ChangeEvent e = make_event(
      Op::kInsert, t,
      {int_value(-32768), int_value(2147483647), int_value(std::numeric_limits<int64_t>::min()),
       int_value(std::numeric_limits<int64_t>::max()), bool_value(true), bool_value(false),
       float_value(0.1, "0.1"), float_value(-2.5e-7, "-2.5e-07"), float_value(1e20, "1e+20"),
       float_value(std::nan(""), "NaN"), float_value(inf, "Infinity"),
       float_value(-inf, "-Infinity"), text_value("-12.340"), text_value("NaN"),
       text_value("x"), text_value("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
       text_value("2024-05-01"), text_value("10:00:00.5"), text_value("2024-05-01T10:00:00.5"),
       text_value("2024-05-01T10:00:00.123456Z"), text_value("P1Y2M3DT4H5M6.5S"),
       text_value("[1, \"two\", {\"3\": null}]"), text_value("{\"a\": [true, 1.50]}"),
       text_value("hello"), text_value(""), text_value("{1,2,NULL}"), text_value("happy")});
  JsonEncoder enc;
  const std::string value = enc.value(e);
  CHECK(value.substr(0, value.find(R"(,"is_deleted")")) ==
        R"({"i16":-32768,"i32":2147483647,"i64":-9223372036854775808,)"
        R"("i64max":9223372036854775807,"flag":true,"off":false,"f4":0.1,"f8":-2.5e-07,)"
        R"("big":1e+20,"nan":"NaN","inf":"Infinity","ninf":"-Infinity","num":"-12.340",)"
        R"("num_nan":"NaN","txt":"x","uid":"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",)"
        R"("d":"2024-05-01","t":"10:00:00.5","ts":"2024-05-01T10:00:00.5",)"
        R"("tstz":"2024-05-01T10:00:00.123456Z","iv":"P1Y2M3DT4H5M6.5S",)"
        R"("js":[1, "two", {"3": null}],"jsb":{"a": [true, 1.50]},"bin":"aGVsbG8=",)"
        R"("empty_bin":"","arr":"{1,2,NULL}","mood":"happy")");
  const auto parsed = nlohmann::json::parse(value);
  CHECK(parsed["i64"].get<int64_t>() == std::numeric_limits<int64_t>::min());
  CHECK(parsed["i64max"].get<int64_t>() == std::numeric_limits<int64_t>::max());
  CHECK(parsed["f8"].get<double>() == -2.5e-7);
  CHECK(parsed["jsb"]["a"][0] == true);
}

TEST_CASE("JSON bytea with every byte value is base64", "[json_encoder]") {
  auto t = make_table("public", "blobs", {{"id", ColumnType::kInt32, "int4", true},
                                          {"data", ColumnType::kBytea, "bytea"}});
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  JsonEncoder enc;
  const auto parsed =
      nlohmann::json::parse(enc.value(make_event(Op::kInsert, t, {int_value(1), text_value(all)})));
  const std::string b64 = parsed["data"];
  CHECK(b64.size() == 344);
  CHECK(b64.substr(0, 8) == "AAECAwQF");
  CHECK(b64.substr(b64.size() - 4) == "/w==");
  CHECK(base64_decode(b64) == all);
}

TEST_CASE("JSON metadata wins over columns with reserved names", "[json_encoder]") {
  auto t = make_table("public", "legacy",
                      {{"id", ColumnType::kInt32, "int4", true},
                       {"is_deleted", ColumnType::kBool, "bool"},
                       {"deleted_at", ColumnType::kTimestampTz, "timestamptz"},
                       {"__op", ColumnType::kText, "text"},
                       {"__unchanged", ColumnType::kText, "text"},
                       {"__note", ColumnType::kText, "text"},
                       {"deleted", ColumnType::kBool, "bool"}});
  ChangeEvent e = make_event(
      Op::kUpdate, t,
      {int_value(1), bool_value(true), text_value("2020-01-01T00:00:00Z"), text_value("x"),
       Datum::unchanged(), text_value("kept"), bool_value(false)});
  JsonEncoder enc;
  CHECK(enc.value(e) ==
        R"({"id":1,"__note":"kept","deleted":false,"is_deleted":false,"deleted_at":null,)"
        R"("__op":"update","__lsn":"0/16B3748","__commit_lsn":"0/16B3800","__xid":731,)"
        R"("__commit_ts":"2024-05-01T10:00:00.123456Z","__table":"public.legacy","__pos":"102236989197123584"})");
  CHECK(is_reserved_json_name("__commit_ts"));
  CHECK_FALSE(is_reserved_json_name("__note"));
  CHECK_FALSE(is_reserved_json_name("id"));
  CHECK_FALSE(is_reserved_json_name(""));
}

TEST_CASE("__pos: commit LSN * 2^32 + seq, in decimal, up to 96 bits", "[json_encoder][position]") {
  const ChangeEvent e = make_event(Op::kInsert, users_table(), users_row());
  JsonEncoder enc;
  CHECK(nlohmann::json::parse(enc.value(e, 7))["__pos"] == "102236989197123591");
  ChangeEvent late = e;  // past 4 GiB of WAL the position no longer fits 64 bits
  late.source.commit_lsn = *Lsn::parse("16/B374D848");
  CHECK(nlohmann::json::parse(enc.value(late, 3))["__pos"] == "418759567855446917123");
  CHECK(is_reserved_json_name("__pos"));
  CHECK(stream_position(Lsn(0), 0) == "0");
  CHECK(stream_position(Lsn(1), 0) == "4294967296");
  CHECK(stream_position(Lsn(0xFFFFFFFFFFFFFFFFULL), 0xFFFFFFFFU) == "79228162514264337593543950335");  // 2^96 - 1
  // Around 10^19, where the digits split in two: 10^19 = 2328306436 * 2^32 + 2313682944.
  CHECK(stream_position(Lsn(2328306436), 2313682943U) == "9999999999999999999");
  CHECK(stream_position(Lsn(2328306436), 2313682944U) == "10000000000000000000");
  CHECK(stream_position(Lsn(2328306436), 2313682945U) == "10000000000000000001");
}

TEST_CASE("make_encoder and parse_format", "[json_encoder]") {
  CHECK(parse_format("json") == Format::kJson);
  CHECK(parse_format("protobuf") == Format::kProtobuf);
  CHECK_FALSE(parse_format("avro"));
  CHECK(std::string(to_string(Format::kProtobuf)) == "protobuf");
  auto enc = make_encoder(Format::kJson);
  const ChangeEvent e = make_event(Op::kInsert, users_table(), users_row());
  CHECK(enc->key(e) == R"({"id":1,"region":"eu"})");
  CHECK(enc->value(e) == JsonEncoder().value(e));
}

TEST_CASE("JSON deletes tombsync made from its ledger say so: __truncate or __inferred; row deletes do not",
          "[json_encoder]") {
  JsonEncoder enc;
  std::vector<Datum> row(8, Datum::absent());
  row[0] = int_value(1);
  row[1] = text_value("eu");
  ChangeEvent e = make_event(Op::kDelete, users_table(), row);
  const std::string head = R"({"id":1,"region":"eu","is_deleted":true,"deleted_at":"2024-05-01T10:00:00.123456Z",)";
  CHECK(enc.value(e) == head + R"("__op":"delete",)" + kSource + "}");
  e.origin = DeleteOrigin::kTruncate;
  CHECK(enc.value(e) == head + R"("__truncate":true,"__op":"delete",)" + kSource + "}");
  e.origin = DeleteOrigin::kInferred;
  CHECK(enc.value(e) == head + R"("__inferred":true,"__op":"delete",)" + kSource + "}");
  CHECK(enc.key(e) == R"({"id":1,"region":"eu"})");  // the same key as the row's own records
  CHECK(is_reserved_json_name("__truncate"));
  CHECK(is_reserved_json_name("__inferred"));
}
