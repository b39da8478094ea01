// Streaming on the secure services (issue 16, "Must show"): Kafka SASL_SSL + SCRAM-SHA-512 with
// the StandardAuthorizer and only the ACLs docs/security.md lists; Postgres verify-full as the
// least-privilege role tombsync (LOGIN REPLICATION, SELECT on the table, a publication an admin
// made). Secrets come from files. Runs in scripts/test's second pass (`[secure]`).
#include <catch2/catch.hpp>

#include <signal.h>

#include <filesystem>
#include <thread>

#include "tests/integration/secure_env.h"

using namespace tombsync::it;

namespace {

// minimal_acls (secure_env.h) without Create: the topic was made by an admin (docs/security.md).
std::vector<AclSpec> precreated_topic_acls(const std::string& topic_prefix) {
  return {{"topic", topic_prefix, "prefixed", "Write"},
          {"topic", topic_prefix, "prefixed", "Describe"},
          {"topic", topic_prefix, "prefixed", "Read"}};
}

// docs/security.md's commands, run with the real kafka-acls: Write + Read for a pre-created topic
// (Kafka's authorizers imply Describe from Read or Write: AclEntry.implies), plus Create when the
// broker auto-creates it.
void documented_precreated(const std::string& principal, const std::string& prefix) {
  grant_documented_acls({"Write", "Read"}, prefix, principal);
}
void documented_autocreated(const std::string& principal, const std::string& prefix) {
  grant_documented_acls({"Write", "Read", "Create"}, prefix, principal);
}

// Streams a write load with only `acls`, kill -9 the agent while rows flow, restarts it with the
// same permissions (the partition-tail reader runs: Read + Describe, no group), and counts every
// change in Kafka: none lost, none twice.
void kill9_restart_with(const std::string& stem, bool precreate,
                        void (*grant)(const std::string& principal, const std::string& prefix) = nullptr) {
  const SecureEnv& env = SecureEnv::get();
  const std::string n = unique_name(stem);
  const auto dir = std::filesystem::temp_directory_path() / n;
  std::filesystem::create_directories(dir);
  Sql admin(env.pg_admin_dsn);
  create_granted_table(n, "id int PRIMARY KEY, v int");
  const std::string principal = "User:" + env.kafka_user;
  revoke_all_acls(principal);
  if (grant)
    grant(principal, n + ".");
  else
    grant_acls(principal, precreate ? precreated_topic_acls(n + ".") : minimal_acls(n + "."));
  AgentOptions o = secure_agent_options(n, {"public." + n}, dir.string());
  // The producer's defaults are kept (allow.auto.create.topics stays true): an existing topic
  // needs no Create.
  if (precreate) create_topic(o.name + ".public." + n, 3);
  Agent first(o);
  first.start();
  first.wait_streaming();
  Workload load(env.pg_admin_dsn, n);
  CHECK(eventually([&] { return topic_end_offsets(first.topic("public." + n), secure_admin_client()) > 300; },
                   std::chrono::seconds(30)));
  CHECK(first.stop(SIGKILL) == 128 + SIGKILL);  // rows flowing, records in flight
  o.state_dir = first.state_dir();
  Agent second(o);
  second.start();
  second.wait_streaming();
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  const size_t expected = load.stop();
  auto records = read_topic(second.topic("public." + n), expected, std::chrono::seconds(60), secure_admin_client());
  const Tally t = tally_changes(records);
  CHECK(second.stop(SIGTERM) == 0);
  const std::string log = second.log();
  INFO("first run log:\n" << first.log() << "\nsecond run log:\n" << log);
  for (const char* line : {"partitions hold records past the cursor", "caught up with Kafka after the restart"})
    if (auto at = log.find(line); at != std::string::npos) {
      const auto from = log.rfind('\n', at) + 1;
      WARN(log.substr(from, log.find('\n', at) - from));
    }
  WARN(stem << ": " << load.transactions() << " transactions, expected " << expected << " records, distinct "
            << t.distinct << ", duplicates " << t.duplicates << ", read " << records.size());
  CHECK(t.distinct == expected);
  CHECK(t.duplicates == 0);
  CHECK(log.find(env.pg_password) == std::string::npos);
  CHECK(log.find(env.kafka_password) == std::string::npos);
  revoke_all_acls(principal);
  std::filesystem::remove_all(dir);
}

}  // namespace

TEST_CASE("secure: kill -9 mid-stream and a restart with the same minimal ACLs (auto-created topic): nothing "
          "lost, nothing duplicated",
          "[secure]") {
  kill9_restart_with("seck9", false);
}

TEST_CASE("secure: kill -9 and restart on a pre-created topic without the Create ACL: nothing lost, nothing "
          "duplicated",
          "[secure]") {
  kill9_restart_with("seck9pre", true);
}

TEST_CASE("secure: kill -9 and restart on a pre-created topic with docs/security.md's kafka-acls command (Write, "
          "Read): nothing lost, nothing duplicated",
          "[secure]") {
  kill9_restart_with("seck9wr", true, &documented_precreated);
}

TEST_CASE("secure: kill -9 and restart on an auto-created topic with docs/security.md's kafka-acls command (Write, "
          "Read, Create): nothing lost, nothing duplicated",
          "[secure]") {
  kill9_restart_with("seck9doc", false, &documented_autocreated);
}

TEST_CASE("secure: streams over SASL_SSL and verify-full TLS with the minimal ACLs and the least-privilege role",
          "[secure]") {
  const SecureEnv& env = SecureEnv::get();
  const std::string n = unique_name("sec");
  const auto dir = std::filesystem::temp_directory_path() / n;
  std::filesystem::create_directories(dir);
  Sql admin(env.pg_admin_dsn);
  create_granted_table(n);
  revoke_all_acls("User:" + env.kafka_user);
  grant_acls("User:" + env.kafka_user, minimal_acls(n + "."));

  AgentOptions o = secure_agent_options(n, {"public." + n}, dir.string());
  Agent agent(o);
  agent.start();
  agent.wait_streaming();
  admin.exec("INSERT INTO " + n + " SELECT g, 'v' || g FROM generate_series(1, 50) g");
  admin.exec("DELETE FROM " + n + " WHERE id <= 10");
  auto records = read_topic(agent.topic("public." + n), 70, std::chrono::seconds(60), secure_admin_client());
  CHECK(records.size() == 70);  // 50 inserts, 10 flagged deletes, 10 tombstones
  CHECK(agent.stop(SIGTERM) == 0);
  const std::string log = agent.log();
  CHECK(log.find(env.pg_password) == std::string::npos);
  CHECK(log.find(env.kafka_password) == std::string::npos);
  revoke_all_acls("User:" + env.kafka_user);
}
