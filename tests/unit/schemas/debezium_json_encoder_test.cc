// format: debezium-json, compared field by field with events Debezium's
// PostgreSQL connector recorded (tests/data/debezium/README.md says where each
// comes from). Every difference is listed with its reason; a new difference, or
// a listed one that went away, fails the test.
#include <catch2/catch.hpp>

#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "schemas/base64.h"
#include "schemas/debezium_json_encoder.h"
#include "schemas/debezium_types.h"
#include "schemas/encoder.h"
#include "base/error.h"
#include "tests/unit/schemas/event_fixtures.h"

using namespace tombsync;
using namespace tombsync::test;
using json = nlohmann::json;

namespace {

std::string read_fixture(const std::string& name) {
  std::ifstream in(std::string(TOMBSYNC_TEST_DATA) + "/debezium/" + name);
  REQUIRE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The documentation's examples are JSON with two liberties: "{ ... }" for an
// elided schema, and trailing commas. Only those are undone.
json parse_doc_example(const std::string& name) {
  std::string text = read_fixture(name);
  text = std::regex_replace(text, std::regex(R"(\{ \.\.\. \})"), "null");
  text = std::regex_replace(text, std::regex(R"(,(\s*[}\]]))"), "$1");
  return json::parse(text);
}

// Schemas list fields as an array of {"field": name, ...}; keyed by name, a
// difference reads as /schema/fields/source/fields/ts_us/optional. The order of
// the fields both sides have is kept under "fields#order".
json by_field_name(const json& j) {
  if (j.is_array()) {
    json out = json::array();
    for (const auto& v : j) out.push_back(by_field_name(v));
    return out;
  }
  if (!j.is_object()) return j;
  json out = json::object();
  for (const auto& [k, v] : j.items()) {
    if (k == "fields" && v.is_array()) {
      json named = json::object();
      json order = json::array();
      for (const auto& f : v) {
        named[f.value("field", "?")] = by_field_name(f);
        order.push_back(f.value("field", "?"));
      }
      out["fields"] = named;
      out["fields#order"] = order;
    } else {
      out[k] = by_field_name(v);
    }
  }
  return out;
}

// Paths where `ours` differs from `recorded`: "(missing)" for a member only the
// recording has, "(extra)" for one only tombsync writes. Leaves compare by their
// JSON text, so 1 and 1.0 differ.
void diff(const json& recorded, const json& ours, const std::string& path, std::set<std::string>& out) {
  if (recorded.is_object() && ours.is_object()) {
    for (const auto& [k, v] : recorded.items()) {
      if (!ours.contains(k)) {
        out.insert(path + "/" + k + " (missing)");
      } else if (k == "fields#order") {
        json common_recorded = json::array(), common_ours = json::array();
        for (const auto& n : v)
          if (std::find(ours[k].begin(), ours[k].end(), n) != ours[k].end()) common_recorded.push_back(n);
        for (const auto& n : ours[k])
          if (std::find(v.begin(), v.end(), n) != v.end()) common_ours.push_back(n);
        if (common_recorded != common_ours) out.insert(path + "/" + k);
      } else {
        diff(v, ours[k], path + "/" + k, out);
      }
    }
    for (const auto& [k, v] : ours.items())
      if (!recorded.contains(k) && k != "fields#order") out.insert(path + "/" + k + " (extra)");
    return;
  }
  if (recorded.dump() != ours.dump()) out.insert(path);
}

std::set<std::string> differences(const json& recorded, const json& ours) {
  std::set<std::string> out;
  diff(by_field_name(recorded), by_field_name(ours), "", out);
  return out;
}

// What tombsync writes differently, and why (also in docs/formats.md).
using Expected = std::map<std::string, std::string>;

void require_differences(const json& recorded, const json& ours, const Expected& expected) {
  const std::set<std::string> actual = differences(recorded, ours);
  std::set<std::string> listed;
  for (const auto& [path, why] : expected) listed.insert(path);
  for (const auto& path : actual) {
    INFO("unexplained difference " << path);
    CHECK(listed.count(path) == 1);
  }
  for (const auto& path : listed) {
    INFO("listed difference " << path << " is gone: " << expected.at(path));
    CHECK(actual.count(path) == 1);
  }
}

EncoderContext context(std::string server, std::string db, int64_t now_us) {
  EncoderContext c;
  c.server_name = std::move(server);
  c.database = std::move(db);
  c.version = "tombsync-test";
  c.now_us = [now_us] { return now_us; };
  return c;
}

Datum text(std::string s) { return text_value(std::move(s)); }

// ---- the documentation's events: debezium/debezium postgresql.adoc ------------

// CREATE TABLE customers (id SERIAL, first_name VARCHAR(255) NOT NULL,
//   last_name VARCHAR(255) NOT NULL, email VARCHAR(255) NOT NULL, PRIMARY KEY(id));
std::shared_ptr<const TableSchema> customers() {
  return make_table("public", "customers",
                    {{"id", ColumnType::kInt32, "int4", true},
                     {"first_name", ColumnType::kText, "varchar"},
                     {"last_name", ColumnType::kText, "varchar"},
                     {"email", ColumnType::kText, "varchar"}});
}

ChangeEvent customers_event(Op op, std::vector<Datum> row, uint64_t lsn, uint32_t xid, int64_t commit_us) {
  ChangeEvent e = make_event(op, customers(), std::move(row));
  e.source.lsn = Lsn(lsn);
  e.source.commit_lsn = Lsn(lsn + 0x100);
  e.source.xid = xid;
  e.source.commit_ts_us = UnixMicros{commit_us};
  return e;
}

// Payload differences every documented event shares.
Expected doc_payload_differences() {
  return {
      {"/payload/source/version", "tombsync writes its own version, not Debezium's"},
      {"/payload/source/origin (extra)", "source fields Debezium added in 3.5, after the example was written"},
      {"/payload/source/origin_lsn (extra)", "source fields Debezium added in 3.5, after the example was written"},
      {"/payload/source/tombsync_pos (extra)", "tombsync's own: the record's position (docs/event-format.md)"},
      {"/payload/transaction (extra)",
       "JsonConverter writes every envelope field; the example leaves out the null transaction block"},
      {"/payload/ts_ns", "processing time: Debezium has nanoseconds, tombsync microseconds (x1000)"},
      {"/payload/source/snapshot",
       "a boolean in the example; Debezium writes the io.debezium.data.Enum string (\"false\" when streaming)"},
  };
}

}  // namespace

TEST_CASE("debezium-json create event matches the documented Debezium event field by field", "[debezium_json]") {
  const json recorded = parse_doc_example("postgresql-adoc-create.json.txt");
  // The same change: the documented row, LSN, transaction and commit time; the
  // processing clock set to the documented one.
  const int64_t processed_us = recorded["payload"]["ts_us"].get<int64_t>();
  DebeziumJsonEncoder enc(context("PostgreSQL_server", "postgres", processed_us));
  const ChangeEvent e = customers_event(
      Op::kInsert, {int_value(1), text("Anne"), text("Kretchmar"), text("annek@noanswer.org")},
      recorded["payload"]["source"]["lsn"].get<uint64_t>(), recorded["payload"]["source"]["txId"].get<uint32_t>(),
      recorded["payload"]["source"]["ts_us"].get<int64_t>());
  const json ours = json::parse(enc.value(e));

  Expected expected = doc_payload_differences();
  expected.insert({
      {"/payload/source/sequence",
       "first element: Debezium's last processed commit LSN; tombsync's this transaction's commit LSN"},
      {"/schema/name", "the example names the envelope ...inventory.customers for table public.customers"},
      {"/schema/version (extra)", "Envelope schema version 2 (Debezium 2.x+), not in the example"},
      {"/schema/fields/transaction (extra)", "the example's schema leaves out the transaction block"},
      {"/schema/fields/before/name", "the example's ...inventory.customers.Value, for table public.customers"},
      {"/schema/fields/after/name", "the example's ...inventory.customers.Value, for table public.customers"},
      {"/schema/fields/before/fields/first_name/optional", "tombsync does not know NOT NULL: non-key columns are optional"},
      {"/schema/fields/before/fields/last_name/optional", "tombsync does not know NOT NULL: non-key columns are optional"},
      {"/schema/fields/before/fields/email/optional", "tombsync does not know NOT NULL: non-key columns are optional"},
      {"/schema/fields/after/fields/first_name/optional", "tombsync does not know NOT NULL: non-key columns are optional"},
      {"/schema/fields/after/fields/last_name/optional", "tombsync does not know NOT NULL: non-key columns are optional"},
      {"/schema/fields/after/fields/email/optional", "tombsync does not know NOT NULL: non-key columns are optional"},
      {"/schema/fields/source/version (extra)", "Source schema version 1 (Debezium 3.1+)"},
      {"/schema/fields/source/fields/tombsync_pos (extra)", "tombsync's own: the record's position"},
      {"/schema/fields/source/fields#order",
       "the example lists ts_us/ts_ns after ts_ms; Debezium's SchemaFactory puts them after sequence"},
      {"/schema/fields/source/fields/ts_us/optional", "Debezium's code makes ts_us optional; the example says required"},
      {"/schema/fields/source/fields/ts_ns/optional", "Debezium's code makes ts_ns optional; the example says required"},
      {"/schema/fields/source/fields/snapshot/type", "snapshot is the io.debezium.data.Enum string, not a boolean"},
      {"/schema/fields/source/fields/snapshot/default", "snapshot is the io.debezium.data.Enum string, not a boolean"},
      {"/schema/fields/source/fields/snapshot/name (extra)", "snapshot is the io.debezium.data.Enum string"},
      {"/schema/fields/source/fields/snapshot/version (extra)", "snapshot is the io.debezium.data.Enum string"},
      {"/schema/fields/source/fields/snapshot/parameters (extra)", "snapshot is the io.debezium.data.Enum string"},
      {"/schema/fields/source/fields/sequence (extra)", "the example's payload has sequence but its schema leaves it out"},
      {"/schema/fields/source/fields/origin (extra)", "source fields Debezium added in 3.5"},
      {"/schema/fields/source/fields/origin_lsn (extra)", "source fields Debezium added in 3.5"},
  });
  require_differences(recorded, ours, expected);

  // What the listed differences are, exactly.
  CHECK(ours["schema"]["name"] == "PostgreSQL_server.public.customers.Envelope");
  CHECK(ours["schema"]["fields"][0]["name"] == "PostgreSQL_server.public.customers.Value");
  CHECK(ours["payload"]["source"]["snapshot"] == "false");
  CHECK(ours["payload"]["source"]["sequence"] ==
        "[\"" + std::to_string(e.source.commit_lsn.value()) + "\",\"24023128\"]");
  CHECK(json::parse(ours["payload"]["source"]["sequence"].get<std::string>())[1] ==
        json::parse(recorded["payload"]["source"]["sequence"].get<std::string>())[1]);
  CHECK(ours["payload"]["ts_ns"] == processed_us * 1000);
}

TEST_CASE("debezium-json update and delete payloads match the documented events", "[debezium_json]") {
  SECTION("update") {
    const json recorded = parse_doc_example("postgresql-adoc-update.json.txt");
    const json& src = recorded["payload"]["source"];
    DebeziumJsonEncoder enc(context("PostgreSQL_server", "postgres", recorded["payload"]["ts_us"].get<int64_t>()));
    const ChangeEvent e = customers_event(
        Op::kUpdate, {int_value(1), text("Anne Marie"), text("Kretchmar"), text("annek@noanswer.org")},
        src["lsn"].get<uint64_t>(), src["txId"].get<uint32_t>(), src["ts_us"].get<int64_t>());
    json ours = json::parse(enc.value(e));
    ours["schema"] = nullptr;  // the example elides it: "schema": { ... }
    Expected expected = doc_payload_differences();
    expected.insert({{"/payload/before",
                      "tombsync events carry one row image; with REPLICA IDENTITY DEFAULT pgoutput sends no old "
                      "row for an update that keeps the key, and Debezium writes before: null too"},
                     {"/payload/source/sequence (extra)", "the update example has no sequence"}});
    require_differences(recorded, ours, expected);
    CHECK(ours["payload"]["before"].is_null());
  }
  SECTION("delete, key-only old row (REPLICA IDENTITY DEFAULT)") {
    const json recorded = parse_doc_example("postgresql-adoc-delete.json.txt");
    const json& src = recorded["payload"]["source"];
    DebeziumJsonEncoder enc(context("PostgreSQL_server", "postgres", recorded["payload"]["ts_us"].get<int64_t>()));
    const ChangeEvent e =
        customers_event(Op::kDelete, {int_value(1), Datum::absent(), Datum::absent(), Datum::absent()},
                        src["lsn"].get<uint64_t>(), src["txId"].get<uint32_t>(), src["ts_us"].get<int64_t>());
    json ours = json::parse(enc.value(e));
    ours["schema"] = nullptr;
    Expected expected = doc_payload_differences();
    const char* why =
        "columns outside the key-only old row: tombsync writes null (its schema makes them optional); Debezium "
        "writes null for nullable and the type's zero (\"\", 0) for NOT NULL columns, which the example omits";
    expected.insert({{"/payload/before/first_name (extra)", why},
                     {"/payload/before/last_name (extra)", why},
                     {"/payload/before/email (extra)", why},
                     {"/payload/source/sequence (extra)", "the delete example has no sequence"}});
    require_differences(recorded, ours, expected);
    CHECK(ours["payload"]["before"] == json::parse(R"({"id":1,"first_name":null,"last_name":null,"email":null})"));
  }
  SECTION("truncate") {
    const json recorded = parse_doc_example("postgresql-adoc-truncate.json.txt");
    const json& src = recorded["payload"]["source"];
    DebeziumJsonEncoder enc(context("PostgreSQL_server", "postgres", recorded["payload"]["ts_us"].get<int64_t>()));
    const ChangeEvent e =
        customers_event(Op::kTruncate, {}, src["lsn"].get<uint64_t>(), src["txId"].get<uint32_t>(),
                        src["ts_us"].get<int64_t>());
    json ours = json::parse(enc.value(e));
    ours["schema"] = nullptr;
    Expected expected = doc_payload_differences();
    const char* why = "JsonConverter writes the null before/after of a truncate; the example leaves them out";
    expected.insert({{"/payload/before (extra)", why},
                     {"/payload/after (extra)", why},
                     {"/payload/source/sequence (extra)", "the truncate example has no sequence"}});
    require_differences(recorded, ours, expected);
    CHECK(ours["payload"]["op"] == "t");
    CHECK(ours["payload"]["before"].is_null());
    CHECK(ours["payload"]["after"].is_null());
  }
}

TEST_CASE("debezium-json key matches the documented key", "[debezium_json]") {
  // The documented key is a description rather than JsonConverter output
  // ("INT32", "optional": "false", "index", "id": "1"), so it is compared by
  // meaning: schema name, field names and types, and the key value.
  const json recorded = parse_doc_example("postgresql-adoc-key.json.txt");
  DebeziumJsonEncoder enc(context("PostgreSQL_server", "postgres", 0));
  const ChangeEvent e = customers_event(Op::kInsert, {int_value(1), text("Anne"), text("K"), text("a@b")}, 1, 2, 3);
  const json ours = json::parse(enc.key(e));
  CHECK(ours["schema"]["name"] == recorded["schema"]["name"]);
  CHECK(ours["schema"]["type"] == recorded["schema"]["type"]);
  CHECK(ours["schema"]["optional"] == recorded["schema"]["optional"]);
  REQUIRE(ours["schema"]["fields"].size() == recorded["schema"]["fields"].size());
  const json& field = recorded["schema"]["fields"][0];
  CHECK(ours["schema"]["fields"][0]["field"] == field["name"]);
  std::string type = field["schema"]["type"];
  std::transform(type.begin(), type.end(), type.begin(), [](unsigned char c) { return std::tolower(c); });
  CHECK(ours["schema"]["fields"][0]["type"] == type);
  CHECK(ours["schema"]["fields"][0]["optional"] == false);
  CHECK(ours["payload"]["id"].dump() == recorded["payload"]["id"].get<std::string>());
  // Exactly what JsonConverter prints for this key schema.
  CHECK(enc.key(e) ==
        R"({"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}],)"
        R"("optional":false,"name":"PostgreSQL_server.public.customers.Key"},"payload":{"id":1}})");
}

// ---- recorded output of Debezium 1.2.1 (apache/flink test data) --------------

TEST_CASE("debezium-json payloads match Debezium 1.2.1's recorded products events", "[debezium_json]") {
  // inventory.products (id SERIAL PRIMARY KEY, name VARCHAR, description
  // VARCHAR, weight FLOAT) with REPLICA IDENTITY FULL, topic prefix
  // "fullfillment": snapshot reads, inserts, updates and a delete.
  auto products = make_table("inventory", "products",
                             {{"id", ColumnType::kInt32, "int4", true},
                              {"name", ColumnType::kText, "varchar"},
                              {"description", ColumnType::kText, "varchar"},
                              {"weight", ColumnType::kFloat64, "float8"}});
  std::istringstream lines(read_fixture("flink-debezium-postgres-data-schema-exclude.txt"));
  std::string line;
  std::map<std::string, int> ops;
  while (std::getline(lines, line)) {
    const json recorded = json::parse(line);
    const json& payload = recorded;
    const json& src = payload["source"];
    const std::string op = payload["op"];
    ++ops[op];
    const json& image = op == "d" ? payload["before"] : payload["after"];
    ChangeEvent e;
    e.op = op == "r" ? Op::kRead : op == "c" ? Op::kInsert : op == "u" ? Op::kUpdate : Op::kDelete;
    e.table = products;
    const double weight = image["weight"].get<double>();
    e.row = {int_value(image["id"].get<int64_t>()), text(image["name"]), text(image["description"]),
             float_value(weight, image["weight"].dump())};
    e.source.lsn = Lsn(src["lsn"].get<uint64_t>());
    e.source.commit_lsn = Lsn(src["lsn"].get<uint64_t>() + 0x40);
    e.source.xid = src["txId"].get<uint32_t>();
    e.source.commit_ts_us = UnixMicros{src["ts_ms"].get<int64_t>() * 1000};
    DebeziumJsonEncoder enc(context("fullfillment", "postgres", payload["ts_ms"].get<int64_t>() * 1000));
    const json ours = json::parse(enc.value(e))["payload"];

    Expected expected = {
        {"/source/version", "tombsync writes its own version, not Debezium's"},
        {"/source/sequence (extra)", "added in Debezium 1.5 (DBZ-2911)"},
        {"/source/ts_us (extra)", "added in Debezium 2.6"},
        {"/source/ts_ns (extra)", "added in Debezium 2.6"},
        {"/ts_us (extra)", "added in Debezium 2.6"},
        {"/ts_ns (extra)", "added in Debezium 2.6"},
        {"/source/origin (extra)", "added in Debezium 3.5"},
        {"/source/origin_lsn (extra)", "added in Debezium 3.5"},
        {"/source/tombsync_pos (extra)", "tombsync's own: the record's position"},
    };
    if (op == "u")
      expected["/before"] =
          "REPLICA IDENTITY FULL: Debezium writes the old row; tombsync events carry only the new one";
    INFO(line);
    require_differences(recorded, ours, expected);
  }
  CHECK(ops == std::map<std::string, int>{{"c", 2}, {"d", 1}, {"r", 9}, {"u", 4}});
}

// ---- type mapping and edge cases ---------------------------------------------

TEST_CASE("debezium-json types: Debezium's defaults with decimal.handling.mode=string", "[debezium_json]") {
  auto t = make_table("public", "types",
                      {{"id", ColumnType::kInt64, "int8", true},
                       {"s", ColumnType::kInt16, "int2"},
                       {"b", ColumnType::kBool, "bool"},
                       {"f4", ColumnType::kFloat32, "float4"},
                       {"f8", ColumnType::kFloat64, "float8"},
                       {"n", ColumnType::kNumeric, "numeric"},
                       {"u", ColumnType::kUuid, "uuid"},
                       {"d", ColumnType::kDate, "date"},
                       {"tm", ColumnType::kTime, "time"},
                       {"ts", ColumnType::kTimestamp, "timestamp"},
                       {"tz", ColumnType::kTimestampTz, "timestamptz"},
                       {"iv", ColumnType::kInterval, "interval"},
                       {"j", ColumnType::kJson, "jsonb"},
                       {"by", ColumnType::kBytea, "bytea"},
                       {"o", ColumnType::kOther, "inet"}});
  const std::vector<Datum> row = {int_value(9007199254740993),
                                  int_value(-3),
                                  bool_value(true),
                                  float_value(1.5, "1.5"),
                                  float_value(1e20, "1e+20"),
                                  text("12.340"),
                                  text("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
                                  text("2024-05-01"),
                                  text("10:00:00.5"),
                                  text("2024-05-01T10:00:00.123456"),
                                  text("2024-05-01T10:00:00.5Z"),
                                  text("P1Y2M3DT4H5M6.5S"),
                                  text(R"({"a": [1, "x"]})"),
                                  text(std::string("\x00\xff", 2)),
                                  text("10.0.0.1/32")};
  DebeziumJsonEncoder enc(context("srv", "db", 1));
  const json v = json::parse(enc.value(make_event(Op::kInsert, t, row)));
  const json& after = v["payload"]["after"];
  CHECK(after == json::parse(R"({"id":9007199254740993,"s":-3,"b":true,"f4":1.5,"f8":1.0E20,"n":"12.340",
      "u":"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11","d":19844,"tm":36000500000,"ts":1714557600123456,
      "tz":"2024-05-01T10:00:00.500000Z","iv":37091106500000,"j":"{\"a\": [1, \"x\"]}","by":"AP8=",
      "o":"10.0.0.1/32"})"));
  const json& fields = v["schema"]["fields"][1]["fields"];
  auto field = [&](const std::string& name) {
    for (const auto& f : fields)
      if (f["field"] == name) return f;
    FAIL("no field " << name);
    return json();
  };
  CHECK(field("id") == json::parse(R"({"type":"int64","optional":false,"field":"id"})"));
  CHECK(field("s") == json::parse(R"({"type":"int16","optional":true,"field":"s"})"));
  CHECK(field("f4")["type"] == "float");
  CHECK(field("f8")["type"] == "double");
  CHECK(field("n") == json::parse(R"({"type":"string","optional":true,"field":"n"})"));
  CHECK(field("u") ==
        json::parse(R"({"type":"string","optional":true,"name":"io.debezium.data.Uuid","version":1,"field":"u"})"));
  CHECK(field("d")["name"] == "io.debezium.time.Date");
  CHECK(field("d")["type"] == "int32");
  CHECK(field("tm")["name"] == "io.debezium.time.MicroTime");
  CHECK(field("tm")["type"] == "int64");
  CHECK(field("ts")["name"] == "io.debezium.time.MicroTimestamp");
  CHECK(field("tz")["name"] == "io.debezium.time.ZonedTimestamp");
  CHECK(field("iv")["name"] == "io.debezium.time.MicroDuration");
  CHECK(field("j")["name"] == "io.debezium.data.Json");
  CHECK(field("by") == json::parse(R"({"type":"bytes","optional":true,"field":"by"})"));
  // The raw text keeps Java's spelling of the double.
  CHECK(enc.value(make_event(Op::kInsert, t, row)).find(R"("f8":1.0E20)") != std::string::npos);
}

TEST_CASE("debezium-json adaptive time precision follows the column's type modifier", "[debezium_json]") {
  auto t = make_table("public", "p",
                      {{"id", ColumnType::kInt32, "int4", true},
                       {"ts3", ColumnType::kTimestamp, "timestamp"},
                       {"tm3", ColumnType::kTime, "time"},
                       {"tz0", ColumnType::kTimestampTz, "timestamptz"},
                       {"tz3", ColumnType::kTimestampTz, "timestamptz"}});
  auto mutable_t = std::make_shared<TableSchema>(*t);
  mutable_t->columns[1].type_mod = 3;
  mutable_t->columns[2].type_mod = 3;
  mutable_t->columns[3].type_mod = 0;
  mutable_t->columns[4].type_mod = 3;
  DebeziumJsonEncoder enc(context("srv", "db", 1));
  const json v = json::parse(enc.value(make_event(
      Op::kInsert, mutable_t,
      {int_value(1), text("2024-05-01T10:00:00.123"), text("10:00:00.5"), text("2024-05-01T10:00:00Z"),
       text("2024-05-01T10:00:00.5Z")})));
  CHECK(v["payload"]["after"] == json::parse(R"({"id":1,"ts3":1714557600123,"tm3":36000500,)"
                                             R"("tz0":"2024-05-01T10:00:00Z","tz3":"2024-05-01T10:00:00.500Z"})"));
  CHECK(v["schema"]["fields"][1]["fields"][1]["name"] == "io.debezium.time.Timestamp");
  CHECK(v["schema"]["fields"][1]["fields"][2]["name"] == "io.debezium.time.Time");
  CHECK(v["schema"]["fields"][1]["fields"][2]["type"] == "int32");
}

TEST_CASE("debezium-json unchanged TOAST values are Debezium's placeholder", "[debezium_json]") {
  DebeziumJsonEncoder enc(context("srv", "db", 1));
  auto row = users_row();
  row[3] = Datum::unchanged();  // bio text
  row[5] = Datum::unchanged();  // payload jsonb
  row[6] = Datum::unchanged();  // avatar bytea
  const json v = json::parse(enc.value(make_event(Op::kUpdate, users_table(), row)));
  const json& after = v["payload"]["after"];
  CHECK(after["bio"] == "__debezium_unavailable_value");
  CHECK(after["payload"] == "__debezium_unavailable_value");
  CHECK(after["avatar"] == base64_encode("__debezium_unavailable_value"));
  CHECK(after["name"] == "Ann");
}

TEST_CASE("debezium-json envelope: ops, source block, snapshot reads", "[debezium_json]") {
  DebeziumJsonEncoder enc(context("app", "shop", 1714557601000123));
  ChangeEvent e = make_event(Op::kRead, users_table(), users_row());
  const json r = json::parse(enc.value(e));
  CHECK(r["payload"]["op"] == "r");
  CHECK(r["payload"]["source"] == json::parse(R"({"version":"tombsync-test","connector":"postgresql","name":"app",
      "ts_ms":1714557600123,"snapshot":"true","db":"shop","sequence":"[null,\"23803720\"]",
      "ts_us":1714557600123456,"ts_ns":1714557600123456000,"schema":"public","table":"users","txId":731,
      "lsn":23803720,"xmin":null,"origin":null,"origin_lsn":null,"tombsync_pos":"102236989197123584"})"));
  CHECK(r["payload"]["ts_ms"] == 1714557601000);
  CHECK(r["payload"]["ts_us"] == 1714557601000123);
  CHECK(r["payload"]["ts_ns"] == 1714557601000123000);
  CHECK(r["payload"]["transaction"].is_null());
  CHECK(r["schema"]["name"] == "app.public.users.Envelope");

  e.op = Op::kInsert;
  const json c = json::parse(enc.value(e));
  CHECK(c["payload"]["op"] == "c");
  CHECK(c["payload"]["source"]["snapshot"] == "false");
  CHECK(c["payload"]["source"]["sequence"] == "[\"23803904\",\"23803720\"]");
  CHECK(c["payload"]["before"].is_null());
  CHECK(c["payload"]["after"]["balance"] == "12.340");

  e.op = Op::kDelete;
  const json d = json::parse(enc.value(e));
  CHECK(d["payload"]["op"] == "d");
  CHECK(d["payload"]["after"].is_null());
  CHECK(d["payload"]["before"]["name"] == "Ann");
  // The schema is the same for every op of a table.
  CHECK(d["schema"] == c["schema"]);
}

TEST_CASE("debezium-json keys are deterministic and carry the key columns only", "[debezium_json]") {
  DebeziumJsonEncoder enc(context("app", "shop", 1));
  ChangeEvent a = make_event(Op::kInsert, users_table(), users_row());
  std::vector<Datum> key_only(8, Datum::absent());
  key_only[0] = int_value(1);
  key_only[1] = text("eu");
  ChangeEvent b = make_event(Op::kDelete, users_table(), key_only);
  CHECK(enc.key(a) == enc.key(b));
  CHECK(enc.key(a) ==
        R"({"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"},)"
        R"({"type":"string","optional":false,"field":"region"}],"optional":false,)"
        R"("name":"app.public.users.Key"},"payload":{"id":1,"region":"eu"}})");
  ChangeEvent t = make_event(Op::kTruncate, users_table(), {});
  CHECK_THROWS_AS(enc.key(t), Error);
}

TEST_CASE("debezium-json through make_encoder and parse_format", "[debezium_json]") {
  CHECK(parse_format("debezium-json") == Format::kDebeziumJson);
  CHECK(std::string(to_string(Format::kDebeziumJson)) == "debezium-json");
  CHECK_THROWS_AS(make_encoder(Format::kDebeziumJson), Error);  // no server name: refuse, never guess
  auto enc = make_encoder(Format::kDebeziumJson, context("app", "shop", 1));
  const json v = json::parse(enc->value(make_event(Op::kInsert, users_table(), users_row())));
  CHECK(v["payload"]["source"]["name"] == "app");
}

TEST_CASE("debezium conversions: dates, times, intervals, Java number spelling", "[debezium_json]") {
  using namespace tombsync::debezium;
  CHECK(epoch_days("1970-01-01") == 0);
  CHECK(epoch_days("-0043-03-15") == -735160);  // 44 BC, java.time's year -43
  CHECK(epoch_micros("1969-12-31T23:59:59.999999") == -1);
  CHECK(epoch_micros("2024-05-01T10:00:00Z") == 1714557600000000);
  CHECK_FALSE(epoch_micros("2024-02-30T10:00:00"));
  CHECK(micros_of_day("24:00:00") == 86400000000);
  CHECK(micros_of_day("00:00:00.000001") == 1);
  CHECK(duration_micros("PT0S") == 0);
  CHECK(duration_micros("P-1Y-2M3DT-4H") == -36572400000000);
  CHECK(duration_micros("PT-0.5S") == -500000);
  CHECK(duration_micros("P1M") == 2629800000000);  // 30.4375 days
  CHECK_FALSE(duration_micros("P"));
  CHECK(zoned_timestamp("2024-05-01T10:00:00.123456Z", 6) == "2024-05-01T10:00:00.123456Z");
  CHECK(zoned_timestamp("+10000-01-01T00:00:00Z", 6) == "+10000-01-01T00:00:00.000000Z");

  auto column = [](ColumnType type) {
    ColumnSpec c;
    c.name = "c";
    c.type = type;
    return c;
  };
  auto spelled = [&](ColumnType type, double d) {
    std::string out;
    append_value(out, column(type), float_value(d, ""));
    return out;
  };
  CHECK(spelled(ColumnType::kFloat64, 1.0) == "1.0");
  CHECK(spelled(ColumnType::kFloat64, 0.001) == "0.001");
  CHECK(spelled(ColumnType::kFloat64, 1e-4) == "1.0E-4");
  CHECK(spelled(ColumnType::kFloat64, 1234567.5) == "1234567.5");
  CHECK(spelled(ColumnType::kFloat64, 12345678.0) == "1.2345678E7");
  CHECK(spelled(ColumnType::kFloat64, -2.5e-10) == "-2.5E-10");
  CHECK(spelled(ColumnType::kFloat64, std::nan("")) == "\"NaN\"");
  CHECK(spelled(ColumnType::kFloat32, 0.1) == "0.1");  // the float's shortest form, not the double's
  CHECK(spelled(ColumnType::kFloat32, 3.14) == "3.14");

  std::string out;
  append_value(out, column(ColumnType::kTimestamp), text("infinity"));
  CHECK(out == "9223372036825200000");
  out.clear();
  CHECK_THROWS_AS(append_value(out, column(ColumnType::kDate), text("yesterday")), Error);
  CHECK_THROWS_AS(append_unavailable_value(out, column(ColumnType::kInt32)), Error);
}

TEST_CASE("debezium-json: a soft-deleted row image is a delete", "[debezium_json]") {
  // The row policy marks an update that sets the soft-delete column is_deleted;
  // Debezium consumers must see it as the delete tombsync's contract says it is.
  DebeziumJsonEncoder enc(context("app", "shop", 1));
  ChangeEvent e = make_event(Op::kUpdate, users_table(), users_row());
  e.is_deleted = true;
  e.deleted_at_us = UnixMicros{kCommitTs};
  const json v = json::parse(enc.value(e));
  CHECK(v["payload"]["op"] == "d");
  CHECK(v["payload"]["after"].is_null());
  CHECK(v["payload"]["before"]["name"] == "Ann");
  CHECK(v["payload"]["source"]["snapshot"] == "false");
}

TEST_CASE("debezium-json: an update that moved the row to a new key is a create", "[debezium_json]") {
  // After the delete (and tombstone) of the old key, Debezium writes the new key's row as op "c".
  DebeziumJsonEncoder enc(context("app", "shop", 1));
  ChangeEvent e = make_event(Op::kUpdate, users_table(), users_row());
  e.key_changed = true;
  const json v = json::parse(enc.value(e));
  CHECK(v["payload"]["op"] == "c");
  CHECK(v["payload"]["before"].is_null());
  CHECK(v["payload"]["after"]["name"] == "Ann");
  e.key_changed = false;
  CHECK(json::parse(enc.value(e))["payload"]["op"] == "u");
}

TEST_CASE("debezium-json: commit times before 1970 floor to the millisecond, as Java does", "[debezium_json]") {
  DebeziumJsonEncoder enc(context("app", "shop", -1));
  ChangeEvent e = make_event(Op::kInsert, users_table(), users_row());
  e.source.commit_ts_us = UnixMicros{-1};  // 1969-12-31T23:59:59.999999Z
  const json v = json::parse(enc.value(e));
  CHECK(v["payload"]["source"]["ts_ms"] == -1);
  CHECK(v["payload"]["source"]["ts_us"] == -1);
  CHECK(v["payload"]["ts_ms"] == -1);
  CHECK(debezium::floor_div(-1000, 1000) == -1);
  CHECK(debezium::floor_div(1999, 1000) == 1);
}
