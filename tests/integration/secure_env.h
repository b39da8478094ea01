// Helpers for tests against the SECURE services started by tests/services/secure-up
// (docs/testing.md "Secure services"): a Kafka 3.9 broker with SASL_SSL (SCRAM-SHA-512), mTLS
// and the StandardAuthorizer (deny by default), and a Postgres with ssl=on and hostssl-only
// access for the least-privilege role tombsync. Tests that use them carry the `[secure]` tag;
// scripts/test runs them in a second pass after secure-up.
//
// Thread: test thread only. Every helper FAILs the test when the secure services are not up.
#pragma once

#include <atomic>
#include <string>
#include <thread>
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

// The `kafka:` section lines (after brokers/topic_prefix) for tombsync over SASL_SSL as `user`
// (default: the tombsync SCRAM user), the password taken from `password_file` through
// kafka.property_files. `extra_properties` are more `    key: value` lines for kafka.properties
// (e.g. "    debug: all\n").
std::string secure_kafka_yaml(const std::string& password_file, const std::string& user = "",
                              const std::string& extra_properties = "");
// The same for the mTLS listener (security.protocol SSL): the client certificate and key by file
// path (ssl.certificate.location / ssl.key.location); no SASL, the principal is the cert's CN.
std::string mtls_kafka_yaml(const std::string& cert, const std::string& key,
                            const std::string& extra_properties = "");

// Creates `topic` with `partitions` partitions as admin (the pre-created-topic deployment);
// FAILs on any error, "already exists" included.
void create_topic(const std::string& topic, int partitions);

// Sets (creates, or rotates) the SCRAM-SHA-512 password of a Kafka user, and deletes the user's
// SCRAM credential, with tests/services/kafka-secure-tool configs (a JVM, ~2-4 s a call;
// librdkafka 2.0.2 has no AlterUserScramCredentials). The broker applies it to new
// authentications at once; connections already authenticated keep going.
void set_scram_password(const std::string& user, const std::string& password);
void delete_scram_user(const std::string& user);
// Drops every client connection to the secure broker's SASL_SSL listener, from the client side
// (`ss -K`, as root: a network drop); each client reconnects and must authenticate again. Used
// instead of restarting the broker: quicker (no 6-20 s restart), and once in the runs of this
// change a restarted secure broker refused every SCRAM user, admin included, until its data was
// recreated (not reproduced since; reported to the lead).
void drop_kafka_connections();

// A write load on a table `(id int PRIMARY KEY, v int)` of the secure Postgres, as the admin, on
// a thread of its own from construction to stop(): each transaction inserts 2 rows and updates 1;
// every 10th also deletes one (2 records: flagged delete and tombstone). A few ms between
// transactions, so that rows flow while the test kills, rotates or restarts something.
class Workload {
 public:
  Workload(const std::string& dsn, const std::string& table);
  ~Workload();
  // Stops after the transaction in hand; returns how many Kafka records the committed
  // transactions must produce.
  size_t stop();
  size_t transactions() const { return transactions_.load(); }

 private:
  void run(std::string dsn, std::string table);
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> transactions_{0};
  size_t records_ = 0;
  std::string error_;
  std::thread thread_;
};

// Records counted by change: identified by the headers tombsync.lsn and tombsync.op (a delete
// and its tombstone share the LSN, not the op), as tests/integration/restart_test.cc does.
struct Tally {
  size_t distinct = 0;
  size_t duplicates = 0;
};
Tally tally_changes(const std::vector<KafkaRecord>& records);

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

// docs/security.md's set for auto-created topics, with Describe listed: Write, Describe, Read
// and Create on `topic_prefix` (prefixed).
std::vector<AclSpec> minimal_acls(const std::string& topic_prefix);

// Creates table public.<name> (`columns`) as the superuser and grants SELECT on it to the
// least-privilege role: what an admin does for every table tombsync streams.
void create_granted_table(const std::string& name, const std::string& columns = "id int PRIMARY KEY, v text");

// Grants exactly what docs/security.md tells an operator to run: the `kafka-acls ... --add`
// command there whose --operation set is `operations`, run with the real kafka-acls
// (tests/services/kafka-acl) after replacing the docs' --bootstrap-server/--command-config by the
// secure broker's, the docs' prefix `app.` by `topic_prefix` and `User:tombsync` by `principal`.
// FAILs when the docs hold no such command or kafka-acls fails: the recipe and the test cannot
// drift apart. One JVM start, about 3 s.
void grant_documented_acls(const std::vector<std::string>& operations, const std::string& topic_prefix,
                           const std::string& principal);

// Everything an operator sees of a running agent started with `http: {address: "127.0.0.1:0"}`:
// its log so far, /metrics, and the output (stdout and stderr) of `tombsync status --json` and
// `tombsync check` (text, then --json) on its config, whatever their exit status. For the
// no-secret-in-any-output checks.
std::string operator_outputs(const Agent& agent);

// The base64 lines of a PEM file (the -----BEGIN/END----- lines left out): what must never
// appear in an output when the file is a private key.
std::vector<std::string> pem_body_lines(const std::string& path);

}  // namespace tombsync::it
