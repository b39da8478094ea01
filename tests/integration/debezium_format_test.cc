// format: debezium-json end to end: a snapshot read, an insert, an update that
// leaves a TOASTed column alone, a delete and its tombstone, and a truncate,
// from a real Postgres through the agent to a real Kafka, each record in
// Debezium's key/envelope shape (docs/formats.md).
#include <catch2/catch.hpp>

#include <cstdlib>

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

  Agent agent({.name = n, .tables = {"public." + table}, .format = "debezium-json"});
  agent.start();
  agent.wait_streaming();
  REQUIRE(eventually([&] { return topic_end_offsets(agent.topic("public." + table)) >= 1; },
                     std::chrono::seconds(60)));

  sql.exec("INSERT INTO " + table + " SELECT 2, 'ann', 12.30, '2024-05-01 12:00:00+00', NULL, '[1, 2]', " +
           "string_agg(md5(random()::text), '') FROM generate_series(1, 400)");
  sql.exec("UPDATE " + table + " SET name = 'ann b' WHERE id = 2");
  sql.exec("DELETE FROM " + table + " WHERE id = 2");
  sql.exec("TRUNCATE " + table);

  // read, create, update, delete, tombstone, and a truncate per partition.
  auto rs = read_topic(agent.topic("public." + table), 6);
  REQUIRE(rs.size() >= 6);
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

  const KafkaRecord* truncate = find_op(rs, "t");
  REQUIRE(truncate != nullptr);
  CHECK_FALSE(truncate->key.has_value());
  CHECK(truncate->json()["payload"]["before"].is_null());
  CHECK(truncate->json()["payload"]["after"].is_null());

  // Commit order within the key's partition: c, u, d, tombstone.
  CHECK(create->partition == update->partition);
  CHECK(create->offset < update->offset);
  CHECK(update->offset < del->offset);

  CHECK(agent.stop(SIGTERM) == 0);
  drop_replication_objects(n);
}
