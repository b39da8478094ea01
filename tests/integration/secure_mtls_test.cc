// Client certificates (mTLS) on both sides, on the secure services (issue 16, "Must show"):
// Postgres authenticates tombsync_cert by its certificate (sslcert/sslkey in source.dsn, the
// `cert` pg_hba method), Kafka by the client certificate on the SSL listener
// (ssl.certificate.location / ssl.key.location; the principal is the CN, User:tombsync, by the
// broker's ssl.principal.mapping.rules). Keys come from files; the key's body appears in no
// output, with librdkafka's debug logging on. An untrusted client certificate is refused with
// one error line on each side.
#include <catch2/catch.hpp>

#include <signal.h>

#include <filesystem>
#include <regex>
#include <sstream>

#include "tests/integration/secure_env.h"

using namespace tombsync::it;

namespace {

// An agent on the certificate DSN and the mTLS listener; `kafka_yaml` gives the key.
AgentOptions mtls_options(const std::string& n, const std::string& kafka_yaml) {
  const SecureEnv& env = SecureEnv::get();
  AgentOptions o;
  o.name = n;
  o.tables = {"public." + n};
  o.dsn = env.pg_cert_dsn;
  o.publication = env.pg_publication;
  o.admin_dsn = env.pg_admin_dsn;
  o.brokers = env.kafka_mtls_brokers;
  o.source_yaml = "  create_publication: false\n";
  o.kafka_yaml = kafka_yaml;
  o.extra_yaml = "http: {address: \"127.0.0.1:0\"}\n";
  return o;
}

// Streams 50 inserts and 10 deletes (70 records) through `o`, then scans every output for the
// client key's body.
void stream_and_scan(const AgentOptions& o, const std::string& what) {
  const SecureEnv& env = SecureEnv::get();
  Sql admin(env.pg_admin_dsn);
  Agent agent(o);
  agent.start();
  agent.wait_streaming();
  admin.exec("INSERT INTO " + o.name + " SELECT g, 'v' || g FROM generate_series(1, 50) g");
  admin.exec("DELETE FROM " + o.name + " WHERE id <= 10");
  auto records = read_topic(agent.topic("public." + o.name), 70, std::chrono::seconds(60), secure_admin_client());
  CHECK(records.size() == 70);
  // Both sides authenticated by certificate: the walsender runs as tombsync_cert.
  CHECK(admin.scalar("SELECT count(*) FROM pg_stat_replication WHERE usename = '" + env.pg_cert_user +
                     "' AND application_name <> 'x'") != "0");
  const std::string out = operator_outputs(agent);
  CHECK(agent.stop(SIGTERM) == 0);
  const std::string all = out + "\n== log after stop\n" + agent.log();
  CHECK(all.find("librdkafka") != std::string::npos);  // the debug lines are there
  size_t hits = 0;
  for (const std::string& line : pem_body_lines(env.client_key)) hits += all.find(line) != std::string::npos;
  WARN(what << ": scanned " << all.size() << " bytes of operator output, key body lines found: " << hits);
  INFO(all.substr(0, 20000));
  CHECK(hits == 0);
}

// The error-level lines of a text log ("<timestamp> error <message>").
std::vector<std::string> error_lines(const std::string& log) {
  std::vector<std::string> lines;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    const size_t space = line.find(' ');
    if (space != std::string::npos && line.compare(space + 1, 6, "error ") == 0) lines.push_back(line);
  }
  return lines;
}

}  // namespace

TEST_CASE("secure: mTLS on both sides (sslcert/sslkey, ssl.certificate.location/ssl.key.location) streams; the "
          "key appears in no output",
          "[secure]") {
  const SecureEnv& env = SecureEnv::get();
  const std::string n = unique_name("secmtls");
  Sql admin(env.pg_admin_dsn);
  create_granted_table(n);  // tombsync_cert is a member of tombsync
  revoke_all_acls("User:" + env.kafka_user);
  grant_acls("User:" + env.kafka_user, minimal_acls(n + "."));  // the certificate's CN maps to it
  stream_and_scan(mtls_options(n, mtls_kafka_yaml(env.client_cert, env.client_key, "    debug: all\n")),
                  "mTLS, key by ssl.key.location");
  revoke_all_acls("User:" + env.kafka_user);
}

TEST_CASE("secure: mTLS with the key's PEM given through kafka.property_files.ssl.key.pem: the key appears in no "
          "output",
          "[secure]") {
  const SecureEnv& env = SecureEnv::get();
  const std::string n = unique_name("secmtlspem");
  Sql admin(env.pg_admin_dsn);
  create_granted_table(n);
  revoke_all_acls("User:" + env.kafka_user);
  grant_acls("User:" + env.kafka_user, minimal_acls(n + "."));
  const std::string yaml = "  properties:\n"
                           "    security.protocol: SSL\n"
                           "    ssl.ca.location: \"" + env.ca + "\"\n"
                           "    ssl.certificate.location: \"" + env.client_cert + "\"\n"
                           "    debug: all\n"
                           "  property_files:\n"
                           "    ssl.key.pem: \"" + env.client_key + "\"\n";
  stream_and_scan(mtls_options(n, yaml), "mTLS, key by kafka.property_files.ssl.key.pem");
  revoke_all_acls("User:" + env.kafka_user);
}

TEST_CASE("secure: an untrusted client certificate is refused on each side with one error line", "[secure]") {
  const SecureEnv& env = SecureEnv::get();
  const std::string n = unique_name("secbadcert");
  Sql admin(env.pg_admin_dsn);
  create_granted_table(n);
  revoke_all_acls("User:" + env.kafka_user);
  grant_acls("User:" + env.kafka_user, minimal_acls(n + "."));

  SECTION("Kafka") {
    Agent agent(mtls_options(n, mtls_kafka_yaml(env.untrusted_client_cert, env.untrusted_client_key)));
    CHECK(agent.run_to_exit() == 1);
    const std::string log = agent.log();
    const auto errors = error_lines(log);
    INFO(log);
    REQUIRE(errors.size() == 1);
    WARN("Kafka, untrusted client certificate: " << errors[0]);
    CHECK_THAT(errors[0], Catch::Contains(env.kafka_mtls_brokers));
    // The hint names the setting that holds the refused certificate, not kafka.brokers.
    CHECK_THAT(errors[0], Catch::Contains("the broker refused tombsync's client certificate (mTLS): "
                                          "kafka.properties.ssl.certificate.location (" +
                                          env.untrusted_client_cert + ")"));
    CHECK_THAT(errors[0], !Catch::Contains("check kafka.brokers"));
    CHECK_THAT(errors[0], !Catch::Contains(" within "));  // a refused certificate ends the wait at once
  }
  SECTION("Postgres") {
    AgentOptions o = mtls_options(n, mtls_kafka_yaml(env.client_cert, env.client_key));
    o.dsn = std::regex_replace(std::regex_replace(env.pg_cert_dsn, std::regex("sslcert=\\S+"),
                                                  "sslcert=" + env.untrusted_client_cert),
                               std::regex("sslkey=\\S+"), "sslkey=" + env.untrusted_client_key);
    Agent agent(o);
    CHECK(agent.run_to_exit() == 1);
    const std::string log = agent.log();
    const auto errors = error_lines(log);
    INFO(log);
    REQUIRE(errors.size() == 1);
    WARN("Postgres, untrusted client certificate: " << errors[0]);
    CHECK_THAT(errors[0], Catch::Contains("SSL error"));
    CHECK_THAT(errors[0], Catch::Contains("the server refused tombsync's client certificate: sslcert in source.dsn"));
  }
  revoke_all_acls("User:" + env.kafka_user);
}
