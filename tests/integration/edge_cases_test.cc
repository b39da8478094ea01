// The explicit edge cases of the contract (docs/contract.md 1.4) and the type
// mapping, end to end through a real Postgres and Kafka.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <set>

#include "tests/integration/harness.h"
#include "base/lsn.h"
#include "tombsync/v1/change_event.pb.h"

using namespace tombsync::it;
using nlohmann::json;

namespace {

std::vector<KafkaRecord> with_op(const std::vector<KafkaRecord>& rs, const std::string& op) {
  std::vector<KafkaRecord> out;
  for (const auto& r : rs)
    if (r.headers.count("tombsync.op") && r.headers.at("tombsync.op") == op) out.push_back(r);
  return out;
}

}  // namespace

TEST_CASE("a primary-key change is a delete and tombstone of the old key, then an upsert of the new",
          "[integration][edge]") {
  const auto& env = ServiceEnv::get();
  std::string n = unique_name("pkchange");
  Sql sql(env.pg_dsn);
  sql.exec("CREATE TABLE " + n + " (id int PRIMARY KEY, v text)");
  Agent agent({.name = n, .tables = {"public." + n}});
  agent.start();
  agent.wait_streaming();
  sql.exec("INSERT INTO " + n + " VALUES (1, 'a')");
  sql.exec("UPDATE " + n + " SET id = 2 WHERE id = 1");

  auto rs = read_topic(agent.topic("public." + n), 4);
  REQUIRE(rs.size() == 4);
  auto deletes = with_op(rs, "delete");
  auto tombs = with_op(rs, "tombstone");
  auto updates = with_op(rs, "update");
  REQUIRE(deletes.size() == 1);
  REQUIRE(tombs.size() == 1);
  REQUIRE(updates.size() == 1);
  CHECK(deletes[0].key_json() == json{{"id", 1}});
  CHECK(deletes[0].json()["is_deleted"] == true);
  CHECK(tombs[0].key_json() == json{{"id", 1}});
  CHECK(tombs[0].partition == deletes[0].partition);
  CHECK(tombs[0].offset == deletes[0].offset + 1);
  CHECK(updates[0].key_json() == json{{"id", 2}});
  CHECK(updates[0].json()["v"] == "a");
  CHECK(updates[0].json()["is_deleted"] == false);
  CHECK(agent.stop(SIGTERM) == 0);
  drop_replication_objects(n);
}

TEST_CASE("truncate reaches every partition as a truncate event", "[integration][edge]") {
  const auto& env = ServiceEnv::get();
  std::string n = unique_name("truncate");
  Sql sql(env.pg_dsn);
  sql.exec("CREATE TABLE " + n + " (id int PRIMARY KEY)");
  Agent agent({.name = n, .tables = {"public." + n}});
  agent.start();
  agent.wait_streaming();
  sql.exec("INSERT INTO " + n + " SELECT generate_series(1, 10)");
  sql.exec("TRUNCATE " + n);
  auto rs = read_topic(agent.topic("public." + n), 13);
  auto truncs = with_op(rs, "truncate");
  REQUIRE(truncs.size() == 3);  // the test broker creates topics with 3 partitions
  std::set<int> partitions;
  for (const auto& t : truncs) {
    partitions.insert(t.partition);
    CHECK_FALSE(t.key.has_value());
    CHECK(t.json()["__op"] == "truncate");
    CHECK(t.json()["__table"] == "public." + n);
  }
  CHECK(partitions.size() == 3);
  CHECK(agent.stop(SIGTERM) == 0);
  drop_replication_objects(n);
}

TEST_CASE("NULL and unchanged TOAST stay distinct", "[integration][edge]") {
  const auto& env = ServiceEnv::get();
  std::string n = unique_name("toast");
  Sql sql(env.pg_dsn);
  sql.exec("CREATE TABLE " + n + " (id int PRIMARY KEY, big text, small text)");
  Agent agent({.name = n, .tables = {"public." + n}});
  agent.start();
  agent.wait_streaming();
  sql.exec("INSERT INTO " + n + " SELECT 1, string_agg(md5(random()::text), ''), 's' FROM generate_series(1, 300)");
  sql.exec("UPDATE " + n + " SET small = 't' WHERE id = 1");
  sql.exec("UPDATE " + n + " SET big = NULL WHERE id = 1");
  auto rs = read_topic(agent.topic("public." + n), 3);
  REQUIRE(rs.size() == 3);
  auto first = rs[0].json(), second = rs[1].json(), third = rs[2].json();
  CHECK(first["big"].get<std::string>().size() == 300 * 32);
  CHECK_FALSE(second.contains("big"));
  CHECK(second["__unchanged"] == json::array({"big"}));
  CHECK(second["small"] == "t");
  REQUIRE(third.contains("big"));
  CHECK(third["big"].is_null());
  CHECK_FALSE(third.contains("__unchanged"));
  CHECK(agent.stop(SIGTERM) == 0);
  drop_replication_objects(n);
}

TEST_CASE("every listed type round-trips as JSON and protobuf", "[integration][types]") {
  const auto& env = ServiceEnv::get();
  std::string n = unique_name("types");
  Sql sql(env.pg_dsn);
  sql.exec("CREATE TABLE " + n + " (id int PRIMARY KEY, c_int2 int2, c_int4 int4, c_int8 int8, c_bool bool, "
           "c_float4 float4, c_float8 float8, c_nan float8, c_numeric numeric, c_text text, c_varchar varchar(10), "
           "c_char char(3), c_uuid uuid, c_date date, c_time time, c_ts timestamp, c_tstz timestamptz, "
           "c_interval interval, c_json json, c_jsonb jsonb, c_bytea bytea, c_arr int[], c_inet inet)");
  // The same values are read twice: by the initial snapshot (row 1, existing before the agent
  // starts, read with SELECT) and by the stream (row 2, inserted after): both paths must agree.
  const std::string values = "32767, -2147483648, 9223372036854775807, true, 1.5, "
      "0.1, 'NaN', 12345678901234567890.123456789, E'h\\u00e9llo \"q\" \\\\ \\n', 'vc', 'ab', "
      "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2024-02-29', '13:14:15.5', '2024-05-01 10:00:00.123456', "
      "'2024-05-01 12:00:00+02', '1 year 2 months 3 days 04:05:06', '{\"a\": [1, 2]}', '{\"b\": null}', "
      "'\\x00ff10', '{1,2,3}', '10.0.0.1/8'";
  sql.exec("SET TIME ZONE 'Europe/Paris'");
  sql.exec("INSERT INTO " + n + " (id) VALUES (0)");  // an all-NULL row
  sql.exec("INSERT INTO " + n + " VALUES (1, " + values + ")");
  Agent json_agent({.name = n, .tables = {"public." + n}});
  Agent pb_agent({.name = n + "_pb", .tables = {"public." + n}, .format = "protobuf"});
  json_agent.start();
  pb_agent.start();
  json_agent.wait_streaming();
  pb_agent.wait_streaming();
  sql.exec("INSERT INTO " + n + " VALUES (2, " + values + ")");

  auto rs = read_topic(json_agent.topic("public." + n), 3);
  REQUIRE(rs.size() == 3);
  json v, nulls, streamed;
  for (const auto& r : rs) {
    auto j = r.json();
    (j["id"] == 0 ? nulls : j["id"] == 1 ? v : streamed) = j;
  }
  CHECK(v["__op"] == "read");
  CHECK(nulls["__op"] == "read");
  CHECK(streamed["__op"] == "insert");
  for (auto& [column, value] : v.items())
    if (column != "id" && column.rfind("__", 0) != 0) CHECK(streamed[column] == value);
  CHECK(v["c_int2"] == 32767);
  CHECK(v["c_int4"] == -2147483648LL);
  CHECK(v["c_int8"] == 9223372036854775807LL);
  CHECK(v["c_bool"] == true);
  CHECK(v["c_float4"] == 1.5);
  CHECK(v["c_float8"] == 0.1);
  CHECK(v["c_nan"] == "NaN");
  CHECK(v["c_numeric"] == "12345678901234567890.123456789");
  CHECK(v["c_text"] == "h\xc3\xa9llo \"q\" \\ \n");
  CHECK(v["c_varchar"] == "vc");
  CHECK(v["c_char"] == "ab ");
  CHECK(v["c_uuid"] == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
  CHECK(v["c_date"] == "2024-02-29");
  CHECK(v["c_time"] == "13:14:15.5");
  CHECK(v["c_ts"] == "2024-05-01T10:00:00.123456");
  CHECK(v["c_tstz"] == "2024-05-01T10:00:00Z");
  CHECK(v["c_interval"] == "P1Y2M3DT4H5M6S");
  CHECK(v["c_json"] == json{{"a", {1, 2}}});
  CHECK(v["c_jsonb"] == json{{"b", nullptr}});
  CHECK(v["c_bytea"] == "AP8Q");
  CHECK(v["c_arr"] == "{1,2,3}");
  CHECK(v["c_inet"] == "10.0.0.1/8");
  for (const char* c : {"c_int2", "c_int8", "c_numeric", "c_tstz", "c_json", "c_bytea", "c_arr"}) {
    REQUIRE(nulls.contains(c));
    CHECK(nulls[c].is_null());
  }

  auto pbs = read_topic(pb_agent.topic("public." + n), 3);
  REQUIRE(pbs.size() == 3);
  tombsync::v1::ChangeEvent ev;
  const KafkaRecord* row1 = nullptr;
  for (const auto& r : pbs) {
    REQUIRE(ev.ParseFromString(r.value.value()));
    for (const auto& c : ev.columns())
      if (c.name() == "id" && c.value().int_value() == 1) row1 = &r;
  }
  REQUIRE(row1 != nullptr);
  REQUIRE(ev.ParseFromString(row1->value.value()));
  CHECK(ev.op() == tombsync::v1::OP_READ);
  CHECK(ev.table() == n);
  std::map<std::string, tombsync::v1::Column> cols;
  for (const auto& c : ev.columns()) cols[c.name()] = c;
  CHECK(cols["c_int8"].value().int_value() == 9223372036854775807LL);
  CHECK(cols["c_int8"].type() == "int8");
  CHECK(cols["c_numeric"].value().string_value() == "12345678901234567890.123456789");
  CHECK(cols["c_bytea"].value().bytes_value() == std::string("\x00\xff\x10", 3));
  CHECK(cols["c_tstz"].value().string_value() == "2024-05-01T10:00:00Z");
  CHECK(cols["c_jsonb"].value().json_value() == "{\"b\": null}");
  CHECK(cols["c_arr"].type() == "_int4");
  CHECK(cols["c_arr"].value().string_value() == "{1,2,3}");
  CHECK(cols["id"].key());
  tombsync::v1::Key key;
  REQUIRE(key.ParseFromString(row1->key.value()));
  REQUIRE(key.columns_size() == 1);
  CHECK(key.columns(0).value().int_value() == 1);

  CHECK(json_agent.stop(SIGTERM) == 0);
  CHECK(pb_agent.stop(SIGTERM) == 0);
  drop_replication_objects(n);
  drop_replication_objects(n + "_pb");
}

TEST_CASE("a partitioned table streams under its own name, whatever partition a row is in",
          "[integration][edge]") {
  const auto& env = ServiceEnv::get();
  std::string n = unique_name("parted");
  Sql sql(env.pg_dsn);
  sql.exec("CREATE TABLE " + n + " (id int, region text, v text, PRIMARY KEY (id, region)) PARTITION BY LIST (region)");
  sql.exec("CREATE TABLE " + n + "_eu PARTITION OF " + n + " FOR VALUES IN ('eu')");
  sql.exec("CREATE TABLE " + n + "_us PARTITION OF " + n + " FOR VALUES IN ('us')");
  Agent agent({.name = n, .tables = {"public." + n}});
  agent.start();
  agent.wait_streaming();
  sql.exec("INSERT INTO " + n + " VALUES (1, 'eu', 'a'), (2, 'us', 'b')");
  sql.exec("DELETE FROM " + n + " WHERE id = 2");
  auto rs = read_topic(agent.topic("public." + n), 4);
  REQUIRE(rs.size() == 4);
  for (const auto& r : rs) CHECK(r.headers.at("tombsync.table") == "public." + n);
  auto deletes = with_op(rs, "delete");
  REQUIRE(deletes.size() == 1);
  CHECK(deletes[0].key_json() == json{{"id", 2}, {"region", "us"}});
  CHECK(agent.stop(SIGTERM) == 0);
  drop_replication_objects(n);
}

TEST_CASE("renaming a streamed table stops the agent with the fix, never silently", "[integration][edge]") {
  const auto& env = ServiceEnv::get();
  std::string n = unique_name("rename");
  Sql sql(env.pg_dsn);
  sql.exec("CREATE TABLE " + n + " (id int PRIMARY KEY)");
  Agent agent({.name = n, .tables = {"public." + n}});
  agent.start();
  agent.wait_streaming();
  sql.exec("INSERT INTO " + n + " VALUES (1)");
  REQUIRE(read_topic(agent.topic("public." + n), 1).size() == 1);
  sql.exec("ALTER TABLE " + n + " RENAME TO " + n + "_new");
  sql.exec("INSERT INTO " + n + "_new VALUES (2)");
  int code = agent.wait_exit(std::chrono::seconds(30));
  INFO(agent.log());
  CHECK(code == 1);
  CHECK(agent.log().find("was renamed to public." + n + "_new") != std::string::npos);
  sql.exec("DROP TABLE " + n + "_new");
  drop_replication_objects(n);
}

TEST_CASE("the relation cache follows ALTER TABLE: added and dropped columns", "[integration][edge]") {
  const auto& env = ServiceEnv::get();
  std::string n = unique_name("alter");
  Sql sql(env.pg_dsn);
  sql.exec("CREATE TABLE " + n + " (id int PRIMARY KEY, a text)");
  Agent agent({.name = n, .tables = {"public." + n}});
  agent.start();
  agent.wait_streaming();
  sql.exec("INSERT INTO " + n + " VALUES (1, 'x')");
  sql.exec("ALTER TABLE " + n + " ADD COLUMN b numeric DEFAULT 2.5");
  sql.exec("INSERT INTO " + n + " VALUES (2, 'y', 3.75)");
  sql.exec("ALTER TABLE " + n + " DROP COLUMN a");
  sql.exec("UPDATE " + n + " SET b = 1 WHERE id = 1");
  auto rs = read_topic(agent.topic("public." + n), 3);
  REQUIRE(rs.size() == 3);
  std::vector<json> values;
  for (const auto& r : rs) values.push_back(r.json());
  auto commit_of = [](const json& v) { return tombsync::Lsn::parse(v["__commit_lsn"].get<std::string>()).value(); };
  std::sort(values.begin(), values.end(), [&](const json& x, const json& y) { return commit_of(x) < commit_of(y); });
  CHECK(values[0].contains("a"));
  CHECK_FALSE(values[0].contains("b"));
  CHECK(values[1]["b"] == "3.75");
  CHECK(values[1]["a"] == "y");
  CHECK_FALSE(values[2].contains("a"));
  CHECK(values[2]["b"] == "1");
  CHECK(agent.stop(SIGTERM) == 0);
  drop_replication_objects(n);
}
