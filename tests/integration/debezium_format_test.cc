// format: debezium-json end to end: a snapshot read, an insert, an update that
// leaves a TOASTed column alone, a delete and its tombstone, and a truncate,
// from a real Postgres through the agent to a real Kafka, each record in
// Debezium's key/envelope shape (docs/formats.md).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <limits>
#include <map>

#include "tests/integration/harness.h"

using namespace tombsync::it;
using nlohmann::json;

namespace {

// "16/B374D848" -> the LSN as one number, as Debezium writes source.lsn.
int64_t lsn_number(const std::string& text) {
  const auto slash = text.find('/');
  return static_cast<int64_t>((std::stoull(text.substr(0, slash), nullptr, 16) << 32) |
                              std::stoull(text.substr(slash + 1), nullptr, 16));
}

const KafkaRecord* find_op(const std::vector<KafkaRecord>& rs, const std::string& op, int id = -1) {
  for (const auto& r : rs) {
    if (!r.value) continue;
    const json p = r.json()["payload"];
    if (p["op"] != op) continue;
    const json& image = op == "d" ? p["before"] : p["after"];
    if (id < 0 || (image.is_object() && image["id"] == id)) return &r;
  }
  return nullptr;
}

// The envelope every value shares: schema and payload, the field order
// Debezium's JsonConverter output has, and a source block naming this table.
void check_envelope(const KafkaRecord& r, const std::string& prefix, const std::string& table,
                    const std::string& db) {
  const json v = r.json();
  REQUIRE(v.contains("schema"));
  REQUIRE(v.contains("payload"));
  CHECK(v["schema"]["name"] == prefix + ".public." + table + ".Envelope");
  CHECK(v["schema"]["version"] == 2);
  std::vector<std::string> names;
  for (const auto& f : v["schema"]["fields"]) names.push_back(f["field"]);
  CHECK(names == std::vector<std::string>{"before", "after", "source", "transaction", "op", "ts_ms", "ts_us", "ts_ns"});
  std::vector<std::string> payload_keys;
  for (const auto& [k, _] : v["payload"].items()) payload_keys.push_back(k);
  std::sort(payload_keys.begin(), payload_keys.end());
  std::sort(names.begin(), names.end());
  CHECK(payload_keys == names);  // every schema field is written, nulls included

  const json& s = v["payload"]["source"];
  CHECK(s["connector"] == "postgresql");
  CHECK(s["name"] == prefix);
  CHECK(s["db"] == db);
  CHECK(s["schema"] == "public");
  CHECK(s["table"] == table);
  CHECK(s["xmin"].is_null());
  // The source block and the record headers describe the same change.
  CHECK(s["txId"] == std::stoll(r.headers.at("tombsync.xid")));
  CHECK(s["lsn"] == lsn_number(r.headers.at("tombsync.lsn")));
  CHECK(s["ts_us"].get<int64_t>() / 1000 == s["ts_ms"].get<int64_t>());
  const json seq = json::parse(s["sequence"].get<std::string>());
  REQUIRE(seq.size() == 2);
  CHECK(seq[1] == std::to_string(s["lsn"].get<int64_t>()));
  // Processing time is after the commit.
  CHECK(v["payload"]["ts_ms"].get<int64_t>() >= s["ts_ms"].get<int64_t>());
  CHECK(v["payload"]["transaction"].is_null());
}

}  // namespace

TEST_CASE("debezium-json: read, create, update, delete + tombstone and truncate in Debezium's envelope",
          "[integration][debezium]") {
  const auto& env = ServiceEnv::get();
  const std::string n = unique_name("dbz");
  const std::string table = n + "_acct";
  Sql sql(env.pg_dsn);
  const std::string db = sql.scalar("SELECT current_database()").value();
  sql.exec("CREATE TABLE " + table +
           " (id int PRIMARY KEY, name text, amount numeric(10,2), opened timestamptz, seen timestamp(3), "
           "tags jsonb, body text)");
  sql.exec("INSERT INTO " + table +
           " VALUES (1, 'snap', 1.50, '2024-05-01 10:00:00.5+00', '2024-05-01 10:00:00.123', '{\"a\": 1}', 'x')");

  const std::string kept = n + "_ev";  // truncate: event: the op "t" record stays
  sql.exec("CREATE TABLE " + kept + " (id int PRIMARY KEY)");
  Agent agent({.name = n,
               .table_yaml = "    - name: public." + table + "\n    - name: public." + kept + "\n      truncate: event\n",
               .format = "debezium-json"});
  agent.start();
  agent.wait_streaming();
  REQUIRE(eventually([&] { return topic_end_offsets(agent.topic("public." + table)) >= 1; },
                     std::chrono::seconds(60)));

  sql.exec("INSERT INTO " + table + " SELECT 2, 'ann', 12.30, '2024-05-01 12:00:00+00', NULL, '[1, 2]', " +
           "string_agg(md5(random()::text), '') FROM generate_series(1, 400)");
  sql.exec("UPDATE " + table + " SET name = 'ann b' WHERE id = 2");
  sql.exec("DELETE FROM " + table + " WHERE id = 2");
  sql.exec("TRUNCATE " + table);
  sql.exec("INSERT INTO " + kept + " VALUES (1)");
  sql.exec("TRUNCATE " + kept);

  // read, create, update, delete, tombstone; the TRUNCATE (expanded): a delete and a tombstone of id 1.
  auto rs = read_topic(agent.topic("public." + table), 7);
  REQUIRE(rs.size() >= 7);
  for (const auto& r : rs)
    if (r.value) check_envelope(r, n, table, db);

  const KafkaRecord* read = find_op(rs, "r", 1);
  REQUIRE(read != nullptr);
  {
    const json p = read->json()["payload"];
    CHECK(p["source"]["snapshot"] == "true");
    CHECK(p["before"].is_null());
    CHECK(p["after"] == json::parse(R"({"id":1,"name":"snap","amount":"1.50",)"
                                    R"("opened":"2024-05-01T10:00:00.500000Z","seen":1714557600123,)"
                                    R"("tags":"{\"a\": 1}","body":"x"})"));
    // Key: Debezium's struct of the primary key, with its schema.
    CHECK(read->key_json() == json::parse(R"({"schema":{"type":"struct","fields":[{"type":"int32",)"
                                          R"("optional":false,"field":"id"}],"optional":false,"name":")" +
                                          n + ".public." + table + R"(.Key"},"payload":{"id":1}})"));
  }

  const KafkaRecord* create = find_op(rs, "c", 2);
  REQUIRE(create != nullptr);
  const json created = create->json()["payload"];
  CHECK(created["source"]["snapshot"] == "false");
  CHECK(created["before"].is_null());
  CHECK(created["after"]["amount"] == "12.30");
  CHECK(created["after"]["seen"].is_null());
  CHECK(created["after"]["tags"] == "[1, 2]");
  CHECK(created["after"]["body"].get<std::string>().size() == 400 * 32);
  CHECK(create->key_json()["payload"] == json{{"id", 2}});

  const KafkaRecord* update = find_op(rs, "u", 2);
  REQUIRE(update != nullptr);
  const json updated = update->json()["payload"];
  CHECK(updated["after"]["name"] == "ann b");
  CHECK(updated["after"]["body"] == "__debezium_unavailable_value");  // TOASTed, not sent by Postgres
  CHECK(updated["before"].is_null());
  CHECK(update->key == create->key);

  const KafkaRecord* del = find_op(rs, "d", 2);
  REQUIRE(del != nullptr);
  const json deleted = del->json()["payload"];
  CHECK(deleted["after"].is_null());
  CHECK(deleted["before"] == json::parse(R"({"id":2,"name":null,"amount":null,"opened":null,"seen":null,)"
                                         R"("tags":null,"body":null})"));  // REPLICA IDENTITY DEFAULT
  CHECK(del->key == create->key);
  CHECK(del->partition == create->partition);
  // tombstones.on.delete=true: the next record of the key's partition is the tombstone.
  const KafkaRecord* tomb = nullptr;
  for (const auto& r : rs)
    if (r.partition == del->partition && r.offset == del->offset + 1) tomb = &r;
  REQUIRE(tomb != nullptr);
  CHECK_FALSE(tomb->value.has_value());
  CHECK(tomb->key == del->key);

  // Expanded: no op "t" record (a sink's truncate.enabled would wipe rows of other partitions
  // written after it, docs/formats.md), the per-key delete instead, marked by its header.
  CHECK(find_op(rs, "t") == nullptr);
  const KafkaRecord* truncated = find_op(rs, "d", 1);
  REQUIRE(truncated != nullptr);
  CHECK(truncated->headers.at("tombsync.truncate") == "true");
  CHECK(truncated->json()["payload"]["before"]["id"] == 1);
  // truncate: event: the op "t" record, keyless, on every partition.
  const size_t partitions = 3;  // the test broker's num.partitions (tests/services/kafka-server.properties.in)
  auto ks = read_topic(agent.topic("public." + kept), 1 + partitions);
  size_t on_partitions = 0;
  for (const auto& r : ks) {
    if (!r.value || r.json()["payload"]["op"] != "t") continue;
    ++on_partitions;
    CHECK_FALSE(r.key.has_value());
    CHECK(r.json()["payload"]["before"].is_null());
    CHECK(r.json()["payload"]["after"].is_null());
  }
  CHECK(on_partitions == partitions);

  // Commit order within the key's partition: c, u, d, tombstone.
  CHECK(create->partition == update->partition);
  CHECK(create->offset < update->offset);
  CHECK(update->offset < del->offset);

  CHECK(agent.stop(SIGTERM) == 0);
  drop_replication_objects(n);
}

namespace {

// Debezium's MicroDuration from the parts Postgres reports with extract(), in
// Java's arithmetic: an independent path from tombsync's parsing of the text.
int64_t expected_micro_duration(int64_t years, int64_t months, int64_t days, int64_t hours, int64_t minutes,
                                int64_t second_micros) {
  const double seconds = static_cast<double>(second_micros / 1000000) +
                         static_cast<double>(second_micros % 1000000) / 1'000'000;
  const double number_of_days = static_cast<double>(years * 12 + months) * (365.25 / 12.0) + static_cast<double>(days);
  const double v =
      (((number_of_days * 24 + static_cast<double>(hours)) * 60 + static_cast<double>(minutes)) * 60 + seconds) * 1e6;
  if (v >= 9223372036854775807.0) return std::numeric_limits<int64_t>::max();
  if (v <= -9223372036854775808.0) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(v);
}

}  // namespace

TEST_CASE("debezium-json: every interval Postgres prints is streamed as Debezium's MicroDuration",
          "[integration][debezium][types]") {
  const auto& env = ServiceEnv::get();
  const std::string n = unique_name("dbziv");
  Sql sql(env.pg_dsn);
  sql.exec("CREATE TABLE " + n + " (id int PRIMARY KEY, iv interval)");
  Agent agent({.name = n, .tables = {"public." + n}, .format = "debezium-json"});
  agent.start();
  agent.wait_streaming();
  // The edges of Postgres' range, then random parts of every sign and magnitude.
  sql.exec("INSERT INTO " + n + " VALUES (1, '178000000 years'), (2, '-178000000 years'), "
           "(3, '2562047788 hours 54.775807 seconds'), (4, '-2562047788 hours -54.775808 seconds'), "
           "(5, '2147483647 days'), (6, '-2147483648 days'), (7, '0'), (8, '-0.000001 seconds'), "
           "(9, '1 year -1 month')");
  // Infinite intervals exist from Postgres 17 on.
  const bool infinite = std::stoi(sql.scalar("SHOW server_version_num").value()) >= 170000;
  if (infinite) sql.exec("INSERT INTO " + n + " VALUES (10, 'infinity'), (11, '-infinity')");
  constexpr int kRandom = 2000;
  const std::string part = "trunc((random() - 0.5) * 10 ^ trunc(random() * 7))::int";
  sql.exec("INSERT INTO " + n + " SELECT 100 + g, make_interval(" + part + ", " + part + ", 0, " + part + ", " +
           part + ", " + part + ", round(((random() - 0.5) * 10 ^ trunc(random() * 6))::numeric, " +
           "trunc(random() * 7)::int)::float8) FROM generate_series(1, " + std::to_string(kRandom) + ") g");
  auto rows = sql.query("SELECT id, iv::text, extract(year from iv)::bigint, extract(month from iv)::bigint, "
                        "extract(day from iv)::bigint, extract(hour from iv)::bigint, extract(minute from iv)::bigint, "
                        "extract(microseconds from iv)::bigint FROM " + n + " WHERE id NOT IN (10, 11)");
  std::map<int64_t, int64_t> expected;
  for (const auto& r : rows) {
    auto at = [&](int i) { return std::stoll(r[i].value()); };
    expected[at(0)] = expected_micro_duration(at(2), at(3), at(4), at(5), at(6), at(7));
  }
  if (infinite) {
    expected[10] = std::numeric_limits<int64_t>::max();
    expected[11] = std::numeric_limits<int64_t>::min();
  }
  REQUIRE(expected.size() == (infinite ? 11 : 9) + kRandom);

  auto rs = read_topic(agent.topic("public." + n), expected.size());
  REQUIRE(rs.size() == expected.size());
  size_t checked = 0;
  for (const auto& r : rs) {
    const json after = r.json()["payload"]["after"];
    const int64_t id = after["id"].get<int64_t>();
    INFO("id " << id);
    REQUIRE(expected.count(id) == 1);
    CHECK(after["iv"].get<int64_t>() == expected[id]);
    ++checked;
  }
  CHECK(checked == expected.size());
  CHECK(agent.stop(SIGTERM) == 0);
  drop_replication_objects(n);
}
