// Helpers for tests against the SECURE services started by tests/services/secure-up
// (docs/testing.md "Secure services"): a Kafka 3.9 broker with SASL_SSL (SCRAM-SHA-512), mTLS
// and the StandardAuthorizer (deny by default), and a Postgres with ssl=on and hostssl-only
// access for the least-privilege role tombsync. Tests that use them carry the `[secure]` tag;
// scripts/test runs them in a second pass after secure-up.
//
// Thread: test thread only. Every helper FAILs the test when the secure services are not up.
#pragma once

#include <string>
#include <vector>

#include "tests/integration/harness.h"

namespace tombsync::it {

struct SecureEnv {
  // Kafka listeners (host:port) and the tombsync / admin SCRAM credentials.
  std::string kafka_brokers;            // SASL_SSL, broker cert for 127.0.0.1
  std::string kafka_mtls_brokers;       // SSL with client certificates required
  std::string kafka_wronghost_brokers;  // SASL_SSL, certificate for another host name
  std::string kafka_untrusted_brokers;  // SASL_SSL, certificate from an untrusted CA
  std::string kafka_user, kafka_password, admin_user, admin_password;
  // TLS material made by tests/services/secure-ca.
  std::string ca, untrusted_ca, client_cert, client_key, untrusted_client_cert, untrusted_client_key;
  // Postgres: `pg_dsn` is verify-full as tombsync WITHOUT a password (give it by password_file);
  // `pg_cert_dsn` authenticates tombsync_cert by client certificate; `pg_admin_dsn` is the
  // superuser over the local socket (for setup SQL and grants).
  std::string pg_host, pg_port, pg_dsn, pg_cert_dsn, pg_password, pg_admin_dsn, pg_publication;
  std::string pg_user, pg_cert_user;
  static const SecureEnv& get();
};

// librdkafka properties of a test client talking SASL_SSL to the secure broker as admin (a super
// user), for reading topics and checking offsets with read_topic / topic_end_offsets.
KafkaClientProps secure_admin_client();

// Writes `content` to a fresh mode-0600 file under `dir` and returns its path (a secret file as
// a Kubernetes Secret volume would hold it; overwrite it to rotate).
std::string write_secret_file(const std::string& dir, const std::string& name, const std::string& content);

// The `kafka:` section lines (after brokers/topic_prefix) for tombsync over SASL_SSL as the
// tombsync user, the password taken from `password_file` through kafka.property_files.
std::string secure_kafka_yaml(const std::string& password_file);

// AgentOptions for an agent on both secure services: Postgres verify-full as tombsync with
// `source.password_file`, the admin-made publication, Kafka SASL_SSL with the password in a
// property file. The password files are written under `secret_dir` (see write_secret_file).
AgentOptions secure_agent_options(const std::string& name, const std::vector<std::string>& tables,
                                  const std::string& secret_dir);

// Kafka ACLs on the secure broker, changed as admin through the Admin API (a call takes about
// 0.1 s; tests/services/kafka-acl starts a JVM per call). `resource` is "topic", "group" or
// "cluster" (tombsync uses no transactions, so no transactional-id ACL); `pattern` "literal" or "prefixed"; `operation` a Kafka ACL
// operation name as kafka-acls spells it ("Write", "Read", "Describe", "Create",
// "IdempotentWrite", "DescribeConfigs", "All"). Grants are ALLOW for `principal` from any host.
struct AclSpec {
  std::string resource, name, pattern, operation;
};
void grant_acls(const std::string& principal, const std::vector<AclSpec>& acls);
void revoke_acls(const std::string& principal, const std::vector<AclSpec>& acls);
// Removes every ACL of `principal` (tests start from no permission).
void revoke_all_acls(const std::string& principal);

}  // namespace tombsync::it
