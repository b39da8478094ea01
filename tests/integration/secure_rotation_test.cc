// Password rotation through the secret files while the agent streams, on the secure services
// (issue 16, "Must show"): the server side changes first, then the file (as a Kubernetes Secret
// update lands), then the connections are cut. Streaming goes on, and every change is in Kafka
// exactly once across it.
//  - Postgres: source.password_file is read at every connection (pg_connection.cc), over TLS
//    (verify-full), as a LOGIN REPLICATION role of the test's own.
//  - Kafka: kafka.property_files are read at every producer / tail-reader creation
//    (agent/config/secret_files.h); an authentication failure after the producer had connected
//    ends the session (kafka_sink.h), and the supervisor's next session connects with the file's
//    new content. The SCRAM user is the test's own; the connections are cut from the client side
//    (ss -K): Kafka keeps an authenticated connection when its user's password changes.
#include <catch2/catch.hpp>

#include <signal.h>

#include <filesystem>
#include <regex>

#include "tests/integration/secure_env.h"

using namespace tombsync::it;

namespace {

// A LOGIN REPLICATION role of the test's own on the secure Postgres, member of tombsync (its
// CONNECT and USAGE grants); dropped at the end, which is the restore.
struct PgRole {
  PgRole(Sql& admin_sql, const std::string& role_name, const std::string& password, const std::string& table)
      : admin(admin_sql), name(role_name) {
    admin.exec("CREATE ROLE " + name + " LOGIN REPLICATION PASSWORD '" + password + "' IN ROLE " +
               SecureEnv::get().pg_user);
    admin.exec("GRANT SELECT ON " + table + " TO " + name);
  }
  ~PgRole() {
    try {
      admin.exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '" + name + "'");
      admin.exec("DROP OWNED BY " + name + "; DROP ROLE " + name);
    } catch (...) {
    }
  }
  Sql& admin;
  std::string name;
};

// A SCRAM user of the test's own on the secure broker, with the minimal ACLs on `prefix`.
struct KafkaUser {
  KafkaUser(const std::string& user, const std::string& password, const std::string& prefix) : name(user) {
    set_scram_password(name, password);
    grant_acls("User:" + name, minimal_acls(prefix));
  }
  ~KafkaUser() {
    try {
      revoke_all_acls("User:" + name);
      delete_scram_user(name);
    } catch (...) {
    }
  }
  std::string name;
};

uint64_t end_offsets(const Agent& agent, const std::string& table) {
  return topic_end_offsets(agent.topic(table), secure_admin_client());
}

// Streams on until `records_more` further records reached Kafka, stops the load, and checks every
// change is there exactly once.
void finish_and_count(Agent& agent, const std::string& table, Workload& load, uint64_t records_more,
                      const std::string& what) {
  const uint64_t at = end_offsets(agent, table);
  CHECK(eventually([&] { return end_offsets(agent, table) >= at + records_more; }, std::chrono::seconds(60)));
  const size_t expected = load.stop();
  auto records = read_topic(agent.topic(table), expected, std::chrono::seconds(60), secure_admin_client());
  const Tally t = tally_changes(records);
  WARN(what << ": " << load.transactions() << " transactions, expected " << expected << " records, distinct "
            << t.distinct << ", duplicates " << t.duplicates);
  CHECK(t.distinct == expected);
  CHECK(t.duplicates == 0);
}

}  // namespace

TEST_CASE("secure: Postgres password rotated through source.password_file while streaming over TLS", "[secure]") {
  const SecureEnv& env = SecureEnv::get();
  const std::string n = unique_name("secpgrot");
  const auto dir = std::filesystem::temp_directory_path() / n;
  std::filesystem::create_directories(dir);
  Sql admin(env.pg_admin_dsn);
  admin.exec("CREATE TABLE " + n + " (id int PRIMARY KEY, v int)");
  const std::string first = "pg-first-" + n, second = "pg-second-" + n;
  PgRole role(admin, n + "_r", first, n);
  revoke_all_acls("User:" + env.kafka_user);
  grant_acls("User:" + env.kafka_user, minimal_acls(n + "."));

  AgentOptions o = secure_agent_options(n, {"public." + n}, dir.string());
  o.dsn = std::regex_replace(env.pg_dsn, std::regex("user=\\S+"), "user=" + role.name);
  const std::string pw = write_secret_file(dir.string(), "role-password", first + "\n");
  o.source_yaml = "  password_file: \"" + pw + "\"\n  create_publication: false\n";
  Agent agent(o);
  agent.start();
  agent.wait_streaming();
  Workload load(env.pg_admin_dsn, n);
  REQUIRE(eventually([&] { return end_offsets(agent, "public." + n) > 200; }, std::chrono::seconds(30)));

  admin.exec("ALTER ROLE " + role.name + " PASSWORD '" + second + "'");
  write_secret_file(dir.string(), "role-password", second + "\n");
  admin.exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '" + role.name + "'");
  CHECK(eventually([&] { return agent.log().find("reconnecting in") != std::string::npos; },
                   std::chrono::seconds(20)));
  finish_and_count(agent, "public." + n, load, 300, "Postgres rotation");
  // Streaming again as the role, with the new password (the old one is refused by the server).
  CHECK(admin.scalar("SELECT count(*) FROM pg_stat_replication WHERE usename = '" + role.name + "'") == "1");
  CHECK(agent.stop(SIGTERM) == 0);
  const std::string log = agent.log();
  INFO(log);
  CHECK(log.find(first) == std::string::npos);
  CHECK(log.find(second) == std::string::npos);
  revoke_all_acls("User:" + env.kafka_user);
  std::filesystem::remove_all(dir);
}

TEST_CASE("secure: Kafka SCRAM password rotated through kafka.property_files while streaming: a new producer "
          "reads the file again",
          "[secure]") {
  const SecureEnv& env = SecureEnv::get();
  const std::string n = unique_name("seckrot");
  const auto dir = std::filesystem::temp_directory_path() / n;
  std::filesystem::create_directories(dir);
  Sql admin(env.pg_admin_dsn);
  create_granted_table(n, "id int PRIMARY KEY, v int");
  const std::string first = "kafka-first-" + n, second = "kafka-second-" + n;
  KafkaUser user(n + "_k", first, n + ".");

  AgentOptions o = secure_agent_options(n, {"public." + n}, dir.string());
  const std::string pw = write_secret_file(dir.string(), "kafka-user-password", first + "\n");
  o.kafka_yaml = secure_kafka_yaml(pw, user.name);
  Agent agent(o);
  agent.start();
  agent.wait_streaming();
  Workload load(env.pg_admin_dsn, n);
  REQUIRE(eventually([&] { return end_offsets(agent, "public." + n) > 200; }, std::chrono::seconds(30)));

  set_scram_password(user.name, second);  // the broker refuses `first` from now on
  write_secret_file(dir.string(), "kafka-user-password", second + "\n");
  drop_kafka_connections();  // librdkafka reconnects and authenticates again, with the old password
  CHECK(eventually([&] { return agent.log().find("Kafka refused the credentials") != std::string::npos; },
                   std::chrono::seconds(60)));
  const uint64_t at = end_offsets(agent, "public." + n);
  REQUIRE(eventually([&] { return end_offsets(agent, "public." + n) > at + 200; }, std::chrono::seconds(60)));

  // Again, with the Secret landing only after the reconnection: the sessions started meanwhile
  // fail to authenticate and are retried with back-off, each reading the file again.
  const std::string third = "kafka-third-" + n;
  set_scram_password(user.name, third);
  drop_kafka_connections();
  CHECK(eventually([&] { return agent.log().find("cannot reach Kafka") != std::string::npos; },
                   std::chrono::seconds(60)));
  write_secret_file(dir.string(), "kafka-user-password", third + "\n");
  finish_and_count(agent, "public." + n, load, 300, "Kafka rotation (twice, the second file late)");
  CHECK(agent.stop(SIGTERM) == 0);
  const std::string log = agent.log();
  INFO(log);
  CHECK(log.find(first) == std::string::npos);
  CHECK(log.find(second) == std::string::npos);
  CHECK(log.find(third) == std::string::npos);
  for (size_t p = log.find("connection lost"); p != std::string::npos; p = log.find("connection lost", p + 1)) {
    const size_t from = log.rfind('\n', p) + 1;
    WARN(log.substr(from, log.find('\n', p) - from));  // the supervisor's line per ended session
  }
  std::filesystem::remove_all(dir);
}
