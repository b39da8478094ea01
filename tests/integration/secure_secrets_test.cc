// No secret in any output (issue 16, "Must show"): with librdkafka's debug logging on
// (kafka.properties debug: all) and --log-level debug, the agent's log, /metrics,
// `tombsync status --json` and `tombsync check` (text and JSON) hold neither password: the
// Postgres one (source.password_file) nor the Kafka SCRAM one (kafka.property_files). The
// private-key counterpart is in secure_mtls_test.cc.
#include <catch2/catch.hpp>

#include <signal.h>

#include <filesystem>

#include "tests/integration/secure_env.h"

using namespace tombsync::it;

TEST_CASE("secure: no password in the debug log, /metrics, status --json or check, SCRAM on both sides",
          "[secure]") {
  const SecureEnv& env = SecureEnv::get();
  const std::string n = unique_name("secnoleak");
  const auto dir = std::filesystem::temp_directory_path() / n;
  std::filesystem::create_directories(dir);
  Sql admin(env.pg_admin_dsn);
  create_granted_table(n);
  const std::string principal = "User:" + env.kafka_user;
  revoke_all_acls(principal);
  grant_acls(principal, minimal_acls(n + "."));
  AgentOptions o = secure_agent_options(n, {"public." + n}, dir.string());
  o.kafka_yaml = secure_kafka_yaml(dir.string() + "/kafka-password", "", "    debug: all\n");
  o.extra_yaml = "http: {address: \"127.0.0.1:0\"}\n";
  Agent agent(o);
  agent.start();
  agent.wait_streaming();
  admin.exec("INSERT INTO " + n + " SELECT g, 'v' || g FROM generate_series(1, 20) g");
  CHECK(read_topic(agent.topic("public." + n), 20, std::chrono::seconds(30), secure_admin_client()).size() == 20);
  const std::string out = operator_outputs(agent);
  CHECK(agent.stop(SIGTERM) == 0);
  const std::string all = out + "\n== log after stop\n" + agent.log();
  // librdkafka's debug lines are there (SASL handshake included), so the check is not vacuous.
  CHECK(all.find("librdkafka") != std::string::npos);
  CHECK(all.find("SCRAM") != std::string::npos);
  WARN("scanned " << all.size() << " bytes of operator output for the two passwords");
  INFO(all.substr(0, 20000));
  CHECK(all.find(env.pg_password) == std::string::npos);
  CHECK(all.find(env.kafka_password) == std::string::npos);
  revoke_all_acls(principal);
  std::filesystem::remove_all(dir);
}
