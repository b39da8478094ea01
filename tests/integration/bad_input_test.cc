// Bad input stops the agent with a non-zero exit and one error line that
// says what to fix — never a crash, a hang or silent loss.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <sstream>
#include <fstream>
#include <regex>

#include "tests/integration/harness.h"

using namespace tombsync::it;

namespace {

// The error lines of the log (text format: "<ts> error ...").
std::vector<std::string> error_lines(const std::string& log) {
  std::vector<std::string> out;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);)
    if (line.find(" error ") != std::string::npos || line.rfind("tombsync:", 0) == 0) out.push_back(line);
  return out;
}

void expect_refusal(Agent& agent, int expected_code, const std::vector<std::string>& must_contain) {
  int code = agent.run_to_exit();
  auto log = agent.log();
  INFO("log:\n" << log);
  CHECK(code == expected_code);
  auto errors = error_lines(log);
  REQUIRE(errors.size() == 1);
  WARN("refused with: " << errors[0]);
  for (const auto& s : must_contain) CHECK(errors[0].find(s) != std::string::npos);
}


}  // namespace

TEST_CASE("a wrong password is refused with a hint about source.dsn", "[integration][bad-input]") {
  const auto& env = ServiceEnv::get();
  std::string n = unique_name("badpw");
  auto dsn = std::regex_replace(env.pg_dsn, std::regex("password=\\S+"), "password=wrong");
  Agent agent({.name = n, .tables = {"public.whatever"}, .dsn = dsn});
  expect_refusal(agent, 1, {"password authentication failed", "check the user and password in source.dsn"});
}

TEST_CASE("a missing table is refused by name", "[integration][bad-input]") {
  std::string n = unique_name("missing");
  Agent agent({.name = n, .tables = {"public." + n + "_nope"}});
  expect_refusal(agent, 1, {"public." + n + "_nope", "does not exist"});
}

TEST_CASE("a keyless table is refused with the fixes, and accepted when allowed", "[integration][bad-input]") {
  const auto& env = ServiceEnv::get();
  std::string n = unique_name("keyless");
  Sql sql(env.pg_dsn);
  sql.exec("CREATE TABLE " + n + " (a int, b text)");
  {
    Agent agent({.name = n, .tables = {"public." + n}});
    expect_refusal(agent, 1, {"public." + n, "no primary key", "ADD PRIMARY KEY", "REPLICA IDENTITY USING INDEX",
                              "key_columns", "allow_keyless"});
  }
  sql.exec("ALTER TABLE " + n + " REPLICA IDENTITY FULL");
  Agent allowed({.name = n, .table_yaml = "    - name: public." + n + "\n      allow_keyless: true\n      deletes: flag\n      snapshot: never\n"});
  allowed.start();
  allowed.wait_streaming();
  sql.exec("INSERT INTO " + n + " VALUES (1, 'x')");
  sql.exec("DELETE FROM " + n);
  auto rs = read_topic(allowed.topic("public." + n), 2);
  REQUIRE(rs.size() == 2);
  // Keyless: no key, no tombstone (nothing to name), and one partition so the order holds.
  CHECK(rs[0].json()["__op"] == "insert");
  CHECK(rs[1].json()["__op"] == "delete");
  CHECK(rs[1].json()["is_deleted"] == true);
  for (const auto& r : rs) {
    CHECK_FALSE(r.key.has_value());
    CHECK(r.partition == 0);
  }
  CHECK(allowed.stop(SIGTERM) == 0);
  drop_replication_objects(n);
}

TEST_CASE("malformed YAML is refused with its position", "[integration][bad-input]") {
  std::string n = unique_name("yaml");
  Agent agent({.name = n, .tables = {"public.x"}, .extra_yaml = "kafka: [unclosed\n"});
  expect_refusal(agent, 2, {"config", "line"});
}

TEST_CASE("wal_level=replica is refused with the setting to change", "[integration][bad-input]") {
  ScratchCluster cluster("walreplica", {"wal_level=replica"});
  const std::string& dsn = cluster.dsn;
  {
    Sql sql(dsn);
    sql.exec("CREATE TABLE t (id int PRIMARY KEY)");
  }
  Agent agent({.name = unique_name("walrep"), .tables = {"public.t"}, .dsn = dsn});
  expect_refusal(agent, 1, {"wal_level is 'replica'", "wal_level = logical", "restart"});
}

TEST_CASE("an unreachable Kafka is refused with the brokers to check", "[integration][bad-input]") {
  const auto& env = ServiceEnv::get();
  std::string n = unique_name("nokafka");
  Sql sql(env.pg_dsn);
  sql.exec("CREATE TABLE " + n + " (id int PRIMARY KEY)");
  Agent agent({.name = n, .tables = {"public." + n}, .brokers = "127.0.0.1:1"});
  expect_refusal(agent, 1, {"cannot reach Kafka at 127.0.0.1:1", "check kafka.brokers"});
  drop_replication_objects(n);
}

TEST_CASE("a role without REPLICATION is refused with the GRANT to run", "[integration][bad-input]") {
  const auto& env = ServiceEnv::get();
  std::string n = unique_name("norepl");
  Sql super(env.pg_superuser_dsn);
  super.exec("CREATE ROLE " + n + " LOGIN PASSWORD 'pw'");
  auto dsn = std::regex_replace(env.pg_dsn, std::regex("user=\\S+"), "user=" + n);
  dsn = std::regex_replace(dsn, std::regex("password=\\S+"), "password=pw");
  Agent agent({.name = n, .tables = {"public.whatever"}, .dsn = dsn});
  expect_refusal(agent, 1, {"role " + n + " may not replicate", "ALTER ROLE"});
  super.exec("DROP ROLE " + n);
}

TEST_CASE("a missing publication that tombsync may not create is refused with the statement",
          "[integration][bad-input]") {
  const auto& env = ServiceEnv::get();
  std::string n = unique_name("nopub");
  Sql sql(env.pg_dsn);
  sql.exec("CREATE TABLE " + n + " (id int PRIMARY KEY)");
  Agent agent({.name = n, .tables = {"public." + n}, .source_yaml = "  create_publication: false\n"});
  expect_refusal(agent, 1, {"publication " + n + " (source.publication) does not exist", "CREATE PUBLICATION"});
}
