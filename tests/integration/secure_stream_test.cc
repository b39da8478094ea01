// Streaming on the secure services (issue 16, "Must show"): Kafka SASL_SSL + SCRAM-SHA-512 with
// the StandardAuthorizer and only the ACLs docs/security.md lists; Postgres verify-full as the
// least-privilege role tombsync (LOGIN REPLICATION, SELECT on the table, a publication an admin
// made). Secrets come from files. Runs in scripts/test's second pass (`[secure]`).
#include <catch2/catch.hpp>

#include <filesystem>

#include "tests/integration/secure_env.h"

using namespace tombsync::it;

namespace {

// docs/security.md "Kafka ACLs", topics auto-created by tombsync's produce requests.
std::vector<AclSpec> minimal_acls(const std::string& topic_prefix) {
  return {{"topic", topic_prefix, "prefixed", "Write"},
          {"topic", topic_prefix, "prefixed", "Describe"},
          {"topic", topic_prefix, "prefixed", "Read"},
          {"topic", topic_prefix, "prefixed", "Create"}};
}

}  // namespace

TEST_CASE("secure: streams over SASL_SSL and verify-full TLS with the minimal ACLs and the least-privilege role",
          "[secure]") {
  const SecureEnv& env = SecureEnv::get();
  const std::string n = unique_name("sec");
  const auto dir = std::filesystem::temp_directory_path() / n;
  std::filesystem::create_directories(dir);
  Sql admin(env.pg_admin_dsn);
  admin.exec("CREATE TABLE " + n + " (id int PRIMARY KEY, v text)");
  admin.exec("GRANT SELECT ON " + n + " TO " + env.pg_user);
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
