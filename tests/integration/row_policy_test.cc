// Soft deletes and redaction against real Postgres and Kafka: the UPDATE that
// sets a soft-delete column arrives as the delete contract (flagged event and
// tombstone), clearing it as a restore; redacted columns are present in
// inserts and updates, and dropped (or hashed) in delete events, hard or soft.
#include <catch2/catch.hpp>

#include "tests/integration/harness.h"
#include "agent/stream/row_policy.h"

using namespace tombsync::it;

TEST_CASE("soft deletes become the delete contract; redacted columns leave delete events only",
          "[row-policy][integration]") {
  const std::string n = unique_name("rowpolicy");
  const std::string users = n + "_users", flags = n + "_flags";
  Sql sql(ServiceEnv::get().pg_dsn);
  sql.exec("CREATE TABLE " + users + " (id int PRIMARY KEY, email text, name text, deleted_at timestamptz);"
           "ALTER TABLE " + users + " REPLICA IDENTITY FULL;"
           "CREATE TABLE " + flags + " (id int PRIMARY KEY, email text, age int, archived boolean NOT NULL DEFAULT false);"
           "ALTER TABLE " + flags + " REPLICA IDENTITY FULL;");
  Agent agent({.name = n,
               .table_yaml = "    - name: public." + users + "\n      soft_delete_column: deleted_at\n"
                             "      redact_on_delete: [email]\n"
                             "    - name: public." + flags + "\n      soft_delete_column: archived\n"
                             "      redact_on_delete: [email, age]\n      redact_mode: hash\n"});
  agent.start();
  agent.wait_streaming();

  sql.exec("INSERT INTO " + users + " VALUES (1, 'ann@example.com', 'Ann', NULL), (2, 'bob@example.com', 'Bob', NULL)");
  sql.exec("UPDATE " + users + " SET deleted_at = '2026-01-02 03:04:05.25+00' WHERE id = 1");  // soft delete
  sql.exec("UPDATE " + users + " SET deleted_at = NULL, name = 'Ann B' WHERE id = 1");          // restore
  sql.exec("DELETE FROM " + users + " WHERE id = 2");                                           // hard delete
  sql.exec("INSERT INTO " + flags + " VALUES (7, 'cy@example.com', 41, false)");
  sql.exec("UPDATE " + flags + " SET archived = true WHERE id = 7");

  // users: 2 inserts, soft delete (event + tombstone), restore, hard delete (event + tombstone) = 7
  auto u = read_topic(agent.topic("public." + users), 7);
  REQUIRE(u.size() == 7);
  std::vector<KafkaRecord> by_id1, by_id2;
  for (const auto& r : u) (r.key_json()["id"] == 1 ? by_id1 : by_id2).push_back(r);
  REQUIRE(by_id1.size() == 4);
  CHECK(by_id1[0].json()["email"] == "ann@example.com");  // an insert keeps it
  auto soft = by_id1[1].json();
  CHECK(soft["is_deleted"] == true);
  CHECK(soft["deleted_at"] == "2026-01-02T03:04:05.250000Z");  // the column's time
  CHECK(soft["__op"] == "update");
  CHECK(soft["name"] == "Ann");
  CHECK_FALSE(soft.contains("email"));  // redacted (drop)
  CHECK(by_id1[1].headers.at("tombsync.op") == "update");
  CHECK_FALSE(by_id1[2].value);  // its tombstone
  CHECK(by_id1[2].headers.at("tombsync.op") == "tombstone");
  auto restored = by_id1[3].json();
  CHECK(restored["is_deleted"] == false);
  CHECK(restored["name"] == "Ann B");
  CHECK(restored["email"] == "ann@example.com");
  REQUIRE(by_id2.size() == 3);
  auto hard = by_id2[1].json();
  CHECK(hard["is_deleted"] == true);
  CHECK(hard["__op"] == "delete");
  CHECK(hard["name"] == "Bob");  // REPLICA IDENTITY FULL: the rest of the row is there
  CHECK_FALSE(hard.contains("email"));
  CHECK_FALSE(by_id2[2].value);

  // flags: insert, soft delete (event + tombstone) = 3; hash mode.
  auto f = read_topic(agent.topic("public." + flags), 3);
  REQUIRE(f.size() == 3);
  CHECK(f[0].json()["email"] == "cy@example.com");
  CHECK(f[0].json()["age"] == 41);
  auto archived = f[1].json();
  CHECK(archived["is_deleted"] == true);
  CHECK(archived["email"] == tombsync::sha256_hex("cy@example.com"));
  CHECK(archived["age"] == tombsync::sha256_hex("41"));
  CHECK_FALSE(f[2].value);
  CHECK(agent.stop(SIGTERM) == 0);
}
