// Hints that point at the right setting (issue 16, item 3), against the real secure services:
// each failure is one line, from `check` and from `run`, naming the cause and the setting, with
// the client library's reason; never kafka.brokers for a refused login, never a secret.
#include <catch2/catch.hpp>

#include <filesystem>
#include <regex>

#include "tests/integration/secure_env.h"
#include "tests/integration/secure_probe.h"

using namespace tombsync::it;

namespace {

struct Setup {
  const SecureEnv& env = SecureEnv::get();
  std::string n = unique_name("sechint");
  std::filesystem::path dir = std::filesystem::temp_directory_path() / n;
  Setup() {
    std::filesystem::create_directories(dir);
    Sql admin(env.pg_admin_dsn);
    admin.exec("CREATE TABLE " + n + " (id int PRIMARY KEY)");
    admin.exec("GRANT SELECT ON " + n + " TO " + env.pg_user);
  }
  AgentOptions options() const { return secure_agent_options(n, {"public." + n}, dir.string()); }
};

// The one line of `check` (a FAIL) and of `run` (its last error line) holding every part.
void expect_both(Agent& agent, const std::vector<std::string>& parts, const std::string& not_part) {
  const SecureEnv& env = SecureEnv::get();
  CheckRun c = run_check(agent);
  INFO("check:\n" << c.out << c.err);
  CHECK(c.code == 1);
  auto line = c.line("FAIL", parts);
  REQUIRE(line);
  CHECK(line->find(not_part) == std::string::npos);
  CHECK(agent.run_to_exit(std::chrono::seconds(60)) == 1);
  const std::string log = agent.log();
  INFO("run:\n" << log);
  bool found = false;
  std::istringstream in(log);
  for (std::string l; std::getline(in, l);) {
    bool every = true;
    for (const auto& p : parts) every = every && l.find(p) != std::string::npos;
    if (every) {
      found = true;
      CHECK(l.find(not_part) == std::string::npos);
    }
  }
  CHECK(found);
  for (const std::string& secret : {env.pg_password, env.kafka_password}) {
    CHECK((c.out + c.err).find(secret) == std::string::npos);
    CHECK(log.find(secret) == std::string::npos);
  }
}

}  // namespace

TEST_CASE("secure hints: a wrong Kafka password points at the sasl settings and the password file", "[secure]") {
  Setup s;
  AgentOptions o = s.options();
  o.kafka_yaml = secure_kafka_yaml(write_secret_file(s.dir.string(), "kafka-wrong", "not-the-password\n"));
  Agent agent(o);
  expect_both(agent,
              {"SASL authentication error", "Kafka refused the SASL login: check kafka.properties.sasl.username (" +
                                                s.env.kafka_user + ") and kafka.properties.sasl.mechanisms "
                                                "(SCRAM-SHA-512)", "the sasl.password file in kafka.property_files"},
              "check kafka.brokers");
}

TEST_CASE("secure hints: a Kafka certificate for another host, or from an untrusted CA, names both causes",
          "[secure]") {
  Setup s;
  for (const std::string& brokers : {s.env.kafka_wronghost_brokers, s.env.kafka_untrusted_brokers}) {
    INFO("brokers " << brokers);
    AgentOptions o = s.options();
    o.brokers = brokers;
    Agent agent(o);
    expect_both(agent,
                {"certificate verify failed", "the host name in kafka.brokers must be one the certificate names",
                 "kafka.properties.ssl.ca.location (" + s.env.ca + ") must hold the CA that signed it"},
                "check kafka.brokers");
  }
}

TEST_CASE("secure hints: a wrong Postgres password from source.password_file names the file", "[secure]") {
  Setup s;
  AgentOptions o = s.options();
  const std::string file = write_secret_file(s.dir.string(), "pg-wrong", "not-the-password\n");
  o.source_yaml = "  password_file: \"" + file + "\"\n  create_publication: false\n";
  Agent agent(o);
  expect_both(agent,
              {"password authentication failed for user \"" + s.env.pg_user + "\"",
               "the password in source.password_file " + file},
              "check the user and password in source.dsn");
}

TEST_CASE("secure hints: a Postgres certificate for another host names the host in source.dsn", "[secure]") {
  Setup s;
  Agent agent(s.options());
  ServedPgCert wrong("wronghost");  // restored to `server` at the end of the case, also on failure
  expect_both(agent,
              {"does not match host name \"" + s.env.pg_host + "\"",
               "the server's TLS certificate does not name the host in source.dsn", "host= of source.dsn"},
              "check source.dsn;");
}

TEST_CASE("secure hints: a Postgres certificate from an untrusted CA names sslrootcert", "[secure]") {
  Setup s;
  AgentOptions o = s.options();
  o.dsn = std::regex_replace(s.env.pg_dsn, std::regex("sslrootcert=\\S+"), "sslrootcert=" + s.env.untrusted_ca);
  Agent agent(o);
  expect_both(agent,
              {"certificate verify failed", "not signed by a CA in sslrootcert (source.dsn)",
               "point sslrootcert at the CA that signed the server's certificate"},
              "check source.dsn;");
}
