// Changes on real tables reach a real Kafka broker with the right keys,
// values and headers; every delete is a flagged event then a tombstone.
#include <catch2/catch.hpp>

#include "tests/integration/harness.h"

using namespace tombsync::it;
using nlohmann::json;

namespace {

void check_headers(const KafkaRecord& r, const std::string& table) {
  for (const char* h : {"tombsync.op", "tombsync.lsn", "tombsync.xid", "tombsync.commit_ts", "tombsync.table"})
    CHECK(r.headers.count(h) == 1);
  CHECK(r.headers.at("tombsync.table") == table);
}

// Index of the first record (in partition/offset order) whose JSON value matches.
template <class Pred>
const KafkaRecord* find_record(const std::vector<KafkaRecord>& rs, Pred pred) {
  for (const auto& r : rs)
    if (pred(r)) return &r;
  return nullptr;
}

const KafkaRecord* next_in_partition(const std::vector<KafkaRecord>& rs, const KafkaRecord& r) {
  for (const auto& x : rs)
    if (x.partition == r.partition && x.offset == r.offset + 1) return &x;
  return nullptr;
}

}  // namespace

TEST_CASE("inserts, updates and deletes on three tables arrive with keys, values and headers",
          "[integration][streaming]") {
  const auto& env = ServiceEnv::get();
  std::string n = unique_name("crud");
  Sql sql(env.pg_dsn);
  sql.exec("CREATE TABLE " + n + "_orders (region text, order_id int, amount numeric(10,2), note text, "
           "PRIMARY KEY (region, order_id))");
  sql.exec("CREATE TABLE " + n + "_full (id int PRIMARY KEY, name text, score float8)");
  sql.exec("ALTER TABLE " + n + "_full REPLICA IDENTITY FULL");
  sql.exec("CREATE TABLE " + n + "_docs (id int PRIMARY KEY, title text, body text)");

  Agent agent({.name = n, .tables = {"public." + n + "_orders", "public." + n + "_full", "public." + n + "_docs"}});
  agent.start();
  agent.wait_streaming();

  sql.exec("INSERT INTO " + n + "_orders VALUES ('eu', 1, 10.50, 'a'), ('eu', 2, 20.00, 'b'), ('us', 1, 5.25, NULL)");
  sql.exec("UPDATE " + n + "_orders SET amount = 11.00 WHERE region = 'eu' AND order_id = 1");
  sql.exec("DELETE FROM " + n + "_orders WHERE region = 'eu' AND order_id = 2");
  sql.exec("INSERT INTO " + n + "_full VALUES (1, 'ann', 1.5), (2, 'bob', 2.5)");
  sql.exec("UPDATE " + n + "_full SET score = 3.5 WHERE id = 1");
  sql.exec("DELETE FROM " + n + "_full WHERE id = 2");
  sql.exec("INSERT INTO " + n + "_docs SELECT 1, 'first', string_agg(md5(random()::text), '') FROM generate_series(1, 400)");
  sql.exec("UPDATE " + n + "_docs SET title = 'renamed' WHERE id = 1");
  sql.exec("DELETE FROM " + n + "_docs WHERE id = 1");

  {  // "composite key table"
    auto rs = read_topic(agent.topic("public." + n + "_orders"), 6);
    REQUIRE(rs.size() == 6);
    for (const auto& r : rs) check_headers(r, "public." + n + "_orders");
    auto* ins = find_record(rs, [](const KafkaRecord& r) {
      return r.value && r.json()["__op"] == "insert" && r.json()["region"] == "eu" && r.json()["order_id"] == 2;
    });
    REQUIRE(ins != nullptr);
    CHECK(ins->key_json() == json{{"region", "eu"}, {"order_id", 2}});
    CHECK(ins->json()["amount"] == "20.00");
    CHECK(ins->json()["is_deleted"] == false);
    CHECK(ins->json()["deleted_at"].is_null());
    auto* del = find_record(rs, [](const KafkaRecord& r) { return r.value && r.json()["__op"] == "delete"; });
    REQUIRE(del != nullptr);
    CHECK(del->key == ins->key);  // deterministic key bytes
    CHECK(del->partition == ins->partition);
    CHECK(del->json()["is_deleted"] == true);
    CHECK(del->json()["deleted_at"].is_string());
    CHECK(del->json()["deleted_at"] == del->json()["__commit_ts"]);
    CHECK(del->headers.at("tombsync.op") == "delete");
    auto* tomb = next_in_partition(rs, *del);
    REQUIRE(tomb != nullptr);
    CHECK_FALSE(tomb->value.has_value());
    CHECK(tomb->key == del->key);
    CHECK(tomb->headers.at("tombsync.op") == "tombstone");
    CHECK(tomb->headers.at("tombsync.lsn") == del->headers.at("tombsync.lsn"));
    auto* upd = find_record(rs, [](const KafkaRecord& r) { return r.value && r.json()["__op"] == "update"; });
    REQUIRE(upd != nullptr);
    CHECK(upd->json()["amount"] == "11.00");
    CHECK(upd->json()["note"] == "a");
    auto* us = find_record(rs, [](const KafkaRecord& r) { return r.value && r.json()["region"] == "us"; });
    REQUIRE(us != nullptr);
    CHECK(us->json()["note"].is_null());
  }

  {  // "replica identity full table: the delete carries the whole old row"
    auto rs = read_topic(agent.topic("public." + n + "_full"), 5);
    REQUIRE(rs.size() == 5);
    auto* del = find_record(rs, [](const KafkaRecord& r) { return r.value && r.json()["__op"] == "delete"; });
    REQUIRE(del != nullptr);
    CHECK(del->json()["id"] == 2);
    CHECK(del->json()["name"] == "bob");
    CHECK(del->json()["score"] == 2.5);
    CHECK(del->key_json() == json{{"id", 2}});
    auto* tomb = next_in_partition(rs, *del);
    REQUIRE(tomb != nullptr);
    CHECK_FALSE(tomb->value.has_value());
  }

  {  // "toasted column: an update that leaves it alone marks it unchanged, never null"
    auto rs = read_topic(agent.topic("public." + n + "_docs"), 4);
    REQUIRE(rs.size() == 4);
    auto* ins = find_record(rs, [](const KafkaRecord& r) { return r.value && r.json()["__op"] == "insert"; });
    auto* upd = find_record(rs, [](const KafkaRecord& r) { return r.value && r.json()["__op"] == "update"; });
    REQUIRE(ins != nullptr);
    REQUIRE(upd != nullptr);
    CHECK(ins->json()["body"].get<std::string>().size() == 400 * 32);
    CHECK(upd->json()["title"] == "renamed");
    CHECK_FALSE(upd->json().contains("body"));
    CHECK(upd->json()["__unchanged"] == json::array({"body"}));
    auto* del = find_record(rs, [](const KafkaRecord& r) { return r.value && r.json()["__op"] == "delete"; });
    REQUIRE(del != nullptr);
    CHECK(del->json()["id"] == 1);
    CHECK_FALSE(del->json().contains("body"));  // default identity: key columns only
  }
  CHECK(agent.stop(SIGTERM) == 0);
  drop_replication_objects(n);
}
