// `tombsync check` proves what `run` needs on the secure services (issue 16, item 2): with the
// minimal ACLs (Write, Describe, Read, Create on the topic prefix; docs/security.md) and the
// least-privilege Postgres role it fails nothing before the first run, and each missing grant is
// one FAIL line naming the operation, the resource and the kafka-acls command. Its probes write
// nothing: the topic's end offsets do not move.
#include <catch2/catch.hpp>

#include <csignal>
#include <filesystem>

#include "tests/integration/secure_env.h"
#include "tests/integration/secure_probe.h"

using namespace tombsync::it;

namespace {

std::string dump(const CheckRun& r) { return r.out + r.err; }

}  // namespace

TEST_CASE("secure check: minimal ACLs pass before the first run; a removed Write, then Read, is one FAIL line",
          "[secure]") {
  const SecureEnv& env = SecureEnv::get();
  const std::string n = unique_name("seccheck");
  const auto dir = std::filesystem::temp_directory_path() / n;
  std::filesystem::create_directories(dir);
  Sql admin(env.pg_admin_dsn);
  create_granted_table(n);
  const std::string principal = "User:" + env.kafka_user;
  revoke_all_acls(principal);
  grant_acls(principal, minimal_acls(n + "."));
  Agent agent(secure_agent_options(n, {"public." + n}, dir.string()));
  const std::string topic = agent.topic("public." + n);

  // Before the first run: the topic does not exist. Nothing fails; DescribeConfigs (not granted,
  // not needed by run) leaves auto-creation unknown, with the grant that would decide it.
  CheckRun first = run_check(agent);
  INFO(dump(first));
  CHECK(first.code == 0);
  CHECK(first.all("FAIL").empty());
  CHECK(first.all("SKIP").empty());
  CHECK(first.line("UNKNOWN", {"Kafka topic " + topic + " does not exist", "DescribeConfigs --cluster"}));
  CHECK(first.line("PASS", {topic, "Create granted", "nothing created"}));
  // Nothing to probe on a missing topic, and ACLs apply here: never a PASS by inference.
  CHECK(first.line("UNKNOWN", {topic, "Write cannot be probed before the topic exists"}));
  CHECK(first.line("UNKNOWN", {topic, "Read cannot be probed before the topic exists"}));
  CHECK(first.line("PASS", {topic, "Describe granted"}));
  CHECK(first.line("PASS", {"idempotent producer got a producer id"}));
  CHECK(first.line("PASS", {"role tombsync may SELECT from public." + n}));
  CHECK(first.out.find("no item failed") != std::string::npos);

  // The first run creates the topic's partitions, and run passes what check did not fail.
  agent.start();
  agent.wait_streaming();
  admin.exec("INSERT INTO " + n + " SELECT g, 'v' || g FROM generate_series(1, 20) g");
  CHECK(read_topic(topic, 20, std::chrono::seconds(60), secure_admin_client()).size() == 20);
  CHECK(agent.stop(SIGTERM) == 0);

  CheckRun green = run_check(agent);
  INFO(dump(green));
  CHECK(green.code == 0);
  CHECK(green.out.find("check: all ") != std::string::npos);
  CHECK(green.line("PASS", {topic, "Write granted", "nothing written"}));
  CHECK(green.line("PASS", {topic, "Read granted"}));

  // Write removed: one FAIL line naming the operation, the topic and the grant; nothing written.
  const uint64_t end_before = topic_end_offsets(topic, secure_admin_client());
  revoke_acls(principal, {{"topic", n + ".", "prefixed", "Write"}});
  CheckRun no_write = run_check(agent);
  INFO(dump(no_write));
  CHECK(no_write.code == 1);
  CHECK(no_write.line("FAIL", {"Kafka topic " + topic + ": permission denied: " + principal + " may not Write topic " +
                                   topic,
                               "kafka-acls --bootstrap-server " + env.kafka_brokers + " --add --allow-principal " +
                                   principal + " --operation Write --topic " + topic}));
  CHECK(topic_end_offsets(topic, secure_admin_client()) == end_before);

  // Read removed (Write back): the partition tails run reads at start are refused.
  grant_acls(principal, {{"topic", n + ".", "prefixed", "Write"}});
  revoke_acls(principal, {{"topic", n + ".", "prefixed", "Read"}});
  CheckRun no_read = run_check(agent);
  INFO(dump(no_read));
  CHECK(no_read.code == 1);
  CHECK(no_read.line("FAIL", {"permission denied: " + principal + " may not Read topic " + topic,
                              "--operation Read --topic " + topic}));
  CHECK(no_read.line("PASS", {topic, "Write granted"}));
  CHECK(topic_end_offsets(topic, secure_admin_client()) == end_before);

  // Postgres: SELECT revoked from the least-privilege role: the grant with the role's own name.
  grant_acls(principal, {{"topic", n + ".", "prefixed", "Read"}});
  admin.exec("REVOKE SELECT ON " + n + " FROM " + env.pg_user);
  CheckRun no_select = run_check(agent);
  INFO(dump(no_select));
  CHECK(no_select.code == 1);
  CHECK(no_select.line("FAIL", {"GRANT SELECT ON \"public\".\"" + n + "\" TO \"" + env.pg_user + "\""}));
  CHECK(no_select.all("FAIL").size() == 1);

  for (const std::string& secret : {env.pg_password, env.kafka_password})
    for (const CheckRun* r : {&first, &green, &no_write, &no_read, &no_select})
      CHECK(dump(*r).find(secret) == std::string::npos);
  revoke_all_acls(principal);
  admin.exec("DROP TABLE " + n);
}

TEST_CASE("secure check: a pre-created topic with docs/security.md's Write + Read grant passes every item before "
          "the first run",
          "[secure]") {
  const SecureEnv& env = SecureEnv::get();
  const std::string n = unique_name("seccheckpre");
  const auto dir = std::filesystem::temp_directory_path() / n;
  std::filesystem::create_directories(dir);
  Sql admin(env.pg_admin_dsn);
  create_granted_table(n);
  const std::string principal = "User:" + env.kafka_user;
  revoke_all_acls(principal);
  grant_documented_acls({"Write", "Read"}, n + ".", principal);  // the real kafka-acls, as documented
  Agent agent(secure_agent_options(n, {"public." + n}, dir.string()));
  const std::string topic = agent.topic("public." + n);
  create_topic(topic, 3);
  const uint64_t end_before = topic_end_offsets(topic, secure_admin_client());

  CheckRun r = run_check(agent);
  INFO(dump(r));
  CHECK(r.code == 0);
  CHECK(r.out.find("check: all ") != std::string::npos);  // every item PASS: none unknown
  CHECK(r.all("UNKNOWN").empty());
  CHECK(r.line("PASS", {topic, "Describe granted"}));  // implied by Write and Read
  CHECK(r.line("PASS", {topic, "Write granted", "nothing written"}));
  CHECK(r.line("PASS", {topic, "Read granted"}));
  CHECK(r.line("PASS", {"idempotent producer got a producer id"}));  // Write implies it (KIP-679)
  CHECK(topic_end_offsets(topic, secure_admin_client()) == end_before);
  WARN(r.out.substr(r.out.rfind("check: ")));
  revoke_all_acls(principal);
  admin.exec("DROP TABLE " + n);
  std::filesystem::remove_all(dir);
}
