#include "tests/integration/secure_env.h"

#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <sstream>

#include "tests/integration/http_client.h"

namespace tombsync::it {
namespace {

std::string need(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0')
    FAIL("the secure test services are not running (" << name << " is not set): run scripts/test, or "
         "tests/services/secure-up and source .services/secure.env");
  return v;
}

rd_kafka_ResourceType_t resource_type(const std::string& r) {
  if (r == "topic") return RD_KAFKA_RESOURCE_TOPIC;
  if (r == "group") return RD_KAFKA_RESOURCE_GROUP;
  if (r == "cluster") return RD_KAFKA_RESOURCE_BROKER;  // librdkafka 2.0's name for Kafka's CLUSTER (4)
  FAIL("unknown ACL resource type " << r);
  return RD_KAFKA_RESOURCE_UNKNOWN;
}

rd_kafka_AclOperation_t operation(const std::string& op) {
  static const std::pair<const char*, rd_kafka_AclOperation_t> ops[] = {
      {"All", RD_KAFKA_ACL_OPERATION_ALL},
      {"Read", RD_KAFKA_ACL_OPERATION_READ},
      {"Write", RD_KAFKA_ACL_OPERATION_WRITE},
      {"Create", RD_KAFKA_ACL_OPERATION_CREATE},
      {"Delete", RD_KAFKA_ACL_OPERATION_DELETE},
      {"Alter", RD_KAFKA_ACL_OPERATION_ALTER},
      {"Describe", RD_KAFKA_ACL_OPERATION_DESCRIBE},
      {"DescribeConfigs", RD_KAFKA_ACL_OPERATION_DESCRIBE_CONFIGS},
      {"AlterConfigs", RD_KAFKA_ACL_OPERATION_ALTER_CONFIGS},
      {"IdempotentWrite", RD_KAFKA_ACL_OPERATION_IDEMPOTENT_WRITE},
  };
  for (const auto& [name, value] : ops)
    if (op == name) return value;
  FAIL("unknown ACL operation " << op);
  return RD_KAFKA_ACL_OPERATION_UNKNOWN;
}

rd_kafka_ResourcePatternType_t pattern_type(const std::string& p) {
  if (p == "literal") return RD_KAFKA_RESOURCE_PATTERN_LITERAL;
  if (p == "prefixed") return RD_KAFKA_RESOURCE_PATTERN_PREFIXED;
  if (p == "any") return RD_KAFKA_RESOURCE_PATTERN_ANY;
  FAIL("unknown ACL pattern type " << p);
  return RD_KAFKA_RESOURCE_PATTERN_UNKNOWN;
}

using Handle = std::unique_ptr<rd_kafka_t, decltype(&rd_kafka_destroy)>;

Handle admin_handle() {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [k, v] : secure_admin_client())
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) FAIL(err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) FAIL(err);
  return Handle(rk, &rd_kafka_destroy);
}

// Waits for the one admin result event of type `type` and FAILs on a request-level error.
std::unique_ptr<rd_kafka_event_t, decltype(&rd_kafka_event_destroy)> wait_result(rd_kafka_queue_t* q,
                                                                                  rd_kafka_event_type_t type) {
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 30000);
  if (!ev) FAIL("no answer from the secure broker's Admin API within 30 s");
  std::unique_ptr<rd_kafka_event_t, decltype(&rd_kafka_event_destroy)> owned(ev, &rd_kafka_event_destroy);
  if (rd_kafka_event_type(ev) != type) FAIL("unexpected admin event " << rd_kafka_event_name(ev));
  if (rd_kafka_event_error(ev)) FAIL("admin request failed: " << rd_kafka_event_error_string(ev));
  return owned;
}

void create_acls(const std::string& principal, const std::vector<AclSpec>& acls) {
  Handle rk = admin_handle();
  char err[512];
  std::vector<rd_kafka_AclBinding_t*> bindings;
  for (const auto& a : acls) {
    std::string name = a.resource == "cluster" ? "kafka-cluster" : a.name;
    rd_kafka_ResourceType_t type = resource_type(a.resource);
    auto* b = rd_kafka_AclBinding_new(type, name.c_str(), pattern_type(a.pattern), principal.c_str(), "*",
                                      operation(a.operation), RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW, err, sizeof err);
    if (!b) FAIL("ACL binding: " << err);
    bindings.push_back(b);
  }
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk.get());
  rd_kafka_CreateAcls(rk.get(), bindings.data(), bindings.size(), nullptr, q);
  auto ev = wait_result(q, RD_KAFKA_EVENT_CREATEACLS_RESULT);
  size_t n = 0;
  const rd_kafka_acl_result_t** results =
      rd_kafka_CreateAcls_result_acls(rd_kafka_event_CreateAcls_result(ev.get()), &n);
  for (size_t i = 0; i < n; ++i)
    if (const rd_kafka_error_t* e = rd_kafka_acl_result_error(results[i]))
      FAIL("CreateAcls: " << rd_kafka_error_string(e));
  ev.reset();
  rd_kafka_queue_destroy(q);
  rd_kafka_AclBinding_destroy_array(bindings.data(), bindings.size());
}

void delete_acls(std::vector<rd_kafka_AclBindingFilter_t*> filters) {
  Handle rk = admin_handle();
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk.get());
  rd_kafka_DeleteAcls(rk.get(), filters.data(), filters.size(), nullptr, q);
  auto ev = wait_result(q, RD_KAFKA_EVENT_DELETEACLS_RESULT);
  size_t n = 0;
  const rd_kafka_DeleteAcls_result_response_t** responses =
      rd_kafka_DeleteAcls_result_responses(rd_kafka_event_DeleteAcls_result(ev.get()), &n);
  for (size_t i = 0; i < n; ++i)
    if (const rd_kafka_error_t* e = rd_kafka_DeleteAcls_result_response_error(responses[i]))
      FAIL("DeleteAcls: " << rd_kafka_error_string(e));
  ev.reset();
  rd_kafka_queue_destroy(q);
  rd_kafka_AclBinding_destroy_array(filters.data(), filters.size());
}

}  // namespace

const SecureEnv& SecureEnv::get() {
  static const SecureEnv env = [] {
    SecureEnv e;
    e.kafka_brokers = need("TOMBSYNC_KAFKA_SECURE_BROKERS");
    e.kafka_mtls_brokers = need("TOMBSYNC_KAFKA_SECURE_MTLS_BROKERS");
    e.kafka_wronghost_brokers = need("TOMBSYNC_KAFKA_SECURE_WRONGHOST_BROKERS");
    e.kafka_untrusted_brokers = need("TOMBSYNC_KAFKA_SECURE_UNTRUSTED_BROKERS");
    e.kafka_user = need("TOMBSYNC_KAFKA_SECURE_USER");
    e.kafka_password = need("TOMBSYNC_KAFKA_SECURE_PASSWORD");
    e.admin_user = need("TOMBSYNC_KAFKA_SECURE_ADMIN_USER");
    e.admin_password = need("TOMBSYNC_KAFKA_SECURE_ADMIN_PASSWORD");
    e.ca = need("TOMBSYNC_TLS_CA");
    e.untrusted_ca = need("TOMBSYNC_TLS_UNTRUSTED_CA");
    e.client_cert = need("TOMBSYNC_TLS_CLIENT_CERT");
    e.client_key = need("TOMBSYNC_TLS_CLIENT_KEY");
    e.untrusted_client_cert = need("TOMBSYNC_TLS_UNTRUSTED_CLIENT_CERT");
    e.untrusted_client_key = need("TOMBSYNC_TLS_UNTRUSTED_CLIENT_KEY");
    e.pg_host = need("TOMBSYNC_PG_SECURE_HOST");
    e.pg_port = need("TOMBSYNC_PG_SECURE_PORT");
    e.pg_dsn = need("TOMBSYNC_PG_SECURE_DSN");
    e.pg_cert_dsn = need("TOMBSYNC_PG_SECURE_CERT_DSN");
    e.pg_password = need("TOMBSYNC_PG_SECURE_PASSWORD");
    e.pg_admin_dsn = need("TOMBSYNC_PG_SECURE_ADMIN_DSN");
    e.pg_publication = need("TOMBSYNC_PG_SECURE_PUBLICATION");
    e.pg_user = need("TOMBSYNC_PG_SECURE_USER");
    e.pg_cert_user = need("TOMBSYNC_PG_SECURE_CERT_USER");
    return e;
  }();
  return env;
}

KafkaClientProps secure_admin_client() {
  const SecureEnv& e = SecureEnv::get();
  return {{"bootstrap.servers", e.kafka_brokers},
          {"security.protocol", "SASL_SSL"},
          {"sasl.mechanisms", "SCRAM-SHA-512"},
          {"sasl.username", e.admin_user},
          {"sasl.password", e.admin_password},
          {"ssl.ca.location", e.ca}};
}

std::string write_secret_file(const std::string& dir, const std::string& name, const std::string& content) {
  std::string path = dir + "/" + name;
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()));
  ::close(fd);
  REQUIRE(::rename(tmp.c_str(), path.c_str()) == 0);  // atomic, as a Secret volume update is
  return path;
}

std::string secure_kafka_yaml(const std::string& password_file, const std::string& user,
                              const std::string& extra_properties) {
  const SecureEnv& e = SecureEnv::get();
  return "  properties:\n"
         "    security.protocol: SASL_SSL\n"
         "    sasl.mechanisms: SCRAM-SHA-512\n"
         "    sasl.username: " + (user.empty() ? e.kafka_user : user) + "\n"
         "    ssl.ca.location: \"" + e.ca + "\"\n" + extra_properties +
         "  property_files:\n"
         "    sasl.password: \"" + password_file + "\"\n";
}

std::string mtls_kafka_yaml(const std::string& cert, const std::string& key, const std::string& extra_properties) {
  const SecureEnv& e = SecureEnv::get();
  return "  properties:\n"
         "    security.protocol: SSL\n"
         "    ssl.ca.location: \"" + e.ca + "\"\n"
         "    ssl.certificate.location: \"" + cert + "\"\n"
         "    ssl.key.location: \"" + key + "\"\n" + extra_properties;
}

void create_topic(const std::string& topic, int partitions) {
  create_topic_with(secure_admin_client(), topic, partitions);
}

namespace {
// stdout and stderr of a command, whatever its exit status (check exits 1 when an item fails).
std::string output_of(const std::string& cmd) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int status = pclose(p);
  return out + "\n[exit status " + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + "]\n";
}
}  // namespace

namespace {
std::string services_script(const std::string& name) {
  return std::string(TOMBSYNC_SOURCE_DIR) + "/tests/services/" + name;
}
}  // namespace

std::vector<AclSpec> minimal_acls(const std::string& topic_prefix) {
  return {{"topic", topic_prefix, "prefixed", "Write"},
          {"topic", topic_prefix, "prefixed", "Describe"},
          {"topic", topic_prefix, "prefixed", "Read"},
          {"topic", topic_prefix, "prefixed", "Create"}};
}

void create_granted_table(const std::string& name, const std::string& columns) {
  const SecureEnv& env = SecureEnv::get();
  Sql admin(env.pg_admin_dsn);
  admin.exec("CREATE TABLE " + name + " (" + columns + ")");
  admin.exec("GRANT SELECT ON " + name + " TO " + env.pg_user);
}

namespace {
// Every `kafka-acls ... --add` command in docs/security.md's sh blocks, continuation lines
// joined, split on blanks (the documented commands use no quoting).
std::vector<std::vector<std::string>> documented_acl_commands() {
  std::ifstream in(std::string(TOMBSYNC_SOURCE_DIR) + "/docs/security.md");
  REQUIRE(in.good());
  std::vector<std::vector<std::string>> commands;
  std::string line, joined;
  bool in_sh = false;
  while (std::getline(in, line)) {
    if (line.rfind("```", 0) == 0) {
      in_sh = !in_sh && line == "```sh";
      continue;
    }
    if (!in_sh || (joined.empty() && line.rfind("kafka-acls ", 0) != 0)) continue;
    const bool continued = !line.empty() && line.back() == '\\';
    joined += continued ? line.substr(0, line.size() - 1) : line;
    if (continued) continue;
    std::istringstream words(joined);
    std::vector<std::string> args{std::istream_iterator<std::string>(words), std::istream_iterator<std::string>()};
    if (std::find(args.begin(), args.end(), "--add") != args.end()) commands.push_back(args);
    joined.clear();
  }
  return commands;
}

std::vector<std::string> operations_of(const std::vector<std::string>& args) {
  std::vector<std::string> ops;
  for (size_t i = 0; i + 1 < args.size(); ++i)
    if (args[i] == "--operation") ops.push_back(args[i + 1]);
  std::sort(ops.begin(), ops.end());
  return ops;
}
}  // namespace

void grant_documented_acls(const std::vector<std::string>& operations, const std::string& topic_prefix,
                           const std::string& principal) {
  std::vector<std::string> wanted = operations;
  std::sort(wanted.begin(), wanted.end());
  for (const auto& args : documented_acl_commands()) {
    if (operations_of(args) != wanted) continue;
    std::string cmd = services_script("kafka-acl");
    for (size_t i = 1; i < args.size(); ++i) {  // args[0] is kafka-acls
      if (args[i] == "--bootstrap-server" || args[i] == "--command-config") {
        ++i;  // the tool fills in the secure broker and the admin's properties
        continue;
      }
      cmd += " '" + (args[i] == "app." ? topic_prefix : args[i] == "User:tombsync" ? principal : args[i]) + "'";
    }
    const std::string out = output_of(cmd);
    INFO(cmd << "\n" << out);
    REQUIRE(out.find("[exit status 0]") != std::string::npos);
    return;
  }
  FAIL("docs/security.md has no `kafka-acls --add` command with exactly these operations");
}

void set_scram_password(const std::string& user, const std::string& password) {
  run_capture(services_script("kafka-secure-tool") + " configs --alter --entity-type users --entity-name " + user +
              " --add-config 'SCRAM-SHA-512=[password=" + password + "]' 2>&1");
}

void delete_scram_user(const std::string& user) {
  run_capture(services_script("kafka-secure-tool") + " configs --alter --entity-type users --entity-name " + user +
              " --delete-config SCRAM-SHA-512 2>&1");
}

void drop_kafka_connections() {
  const std::string port = SecureEnv::get().kafka_brokers.substr(SecureEnv::get().kafka_brokers.rfind(':') + 1);
  const std::string killed = run_capture("ss -K -tn '( dport = :" + port + " )' 2>&1");
  // The header line, then one line per connection killed.
  if (std::count(killed.begin(), killed.end(), '\n') < 2) FAIL("ss -K dropped no connection to port " << port << ":\n" << killed);
}

Workload::Workload(const std::string& dsn, const std::string& table)
    : thread_([this, dsn, table] { run(dsn, table); }) {}

Workload::~Workload() {
  if (thread_.joinable()) stop();
}

void Workload::run(std::string dsn, std::string table) {
  try {
    Sql sql(dsn);
    for (size_t i = 0; !stopping_.load(); ++i) {
      const std::string a = std::to_string(2 * i), b = std::to_string(2 * i + 1);
      std::string stmt = "BEGIN; INSERT INTO " + table + " VALUES (" + a + ", 0), (" + b + ", 0); UPDATE " + table +
                         " SET v = v + 1 WHERE id = " + a + ";";
      size_t records = 3;
      if (i % 10 == 9) {
        stmt += " DELETE FROM " + table + " WHERE id = " + b + ";";
        records += 2;
      }
      sql.exec(stmt + " COMMIT;");
      records_ += records;
      transactions_.fetch_add(1);
      std::this_thread::sleep_for(std::chrono::milliseconds(4));
    }
  } catch (const std::exception& e) {
    error_ = e.what();
  }
}

size_t Workload::stop() {
  stopping_.store(true);
  thread_.join();
  if (!error_.empty()) FAIL("the workload failed: " << error_);
  return records_;
}

Tally tally_changes(const std::vector<KafkaRecord>& records) {
  std::map<std::pair<std::string, std::string>, int> seen;
  Tally t;
  for (const auto& r : records) {
    auto& n = seen[{r.headers.at("tombsync.lsn"), r.headers.at("tombsync.op")}];
    if (++n > 1) ++t.duplicates;
  }
  t.distinct = seen.size();
  return t;
}

AgentOptions secure_agent_options(const std::string& name, const std::vector<std::string>& tables,
                                  const std::string& secret_dir) {
  const SecureEnv& e = SecureEnv::get();
  AgentOptions o;
  o.name = name;
  o.tables = tables;
  o.dsn = e.pg_dsn;
  o.publication = e.pg_publication;
  o.admin_dsn = e.pg_admin_dsn;
  o.brokers = e.kafka_brokers;
  std::string pg_file = write_secret_file(secret_dir, "pg-password", e.pg_password + "\n");
  std::string kafka_file = write_secret_file(secret_dir, "kafka-password", e.kafka_password + "\n");
  o.source_yaml = "  password_file: \"" + pg_file + "\"\n"
                  "  create_publication: false\n";
  o.kafka_yaml = secure_kafka_yaml(kafka_file);
  return o;
}

void grant_acls(const std::string& principal, const std::vector<AclSpec>& acls) { create_acls(principal, acls); }

void revoke_acls(const std::string& principal, const std::vector<AclSpec>& acls) {
  char err[512];
  std::vector<rd_kafka_AclBindingFilter_t*> filters;
  for (const auto& a : acls) {
    std::string name = a.resource == "cluster" ? "kafka-cluster" : a.name;
    rd_kafka_ResourceType_t type = resource_type(a.resource);
    auto* f = rd_kafka_AclBindingFilter_new(type, name.c_str(), pattern_type(a.pattern), principal.c_str(), nullptr,
                                            operation(a.operation), RD_KAFKA_ACL_PERMISSION_TYPE_ANY, err, sizeof err);
    if (!f) FAIL("ACL filter: " << err);
    filters.push_back(f);
  }
  delete_acls(std::move(filters));
}

void revoke_all_acls(const std::string& principal) {
  char err[512];
  auto* f = rd_kafka_AclBindingFilter_new(RD_KAFKA_RESOURCE_ANY, nullptr, RD_KAFKA_RESOURCE_PATTERN_ANY,
                                          principal.c_str(), nullptr, RD_KAFKA_ACL_OPERATION_ANY,
                                          RD_KAFKA_ACL_PERMISSION_TYPE_ANY, err, sizeof err);
  if (!f) FAIL("ACL filter: " << err);
  delete_acls({f});
}


std::string operator_outputs(const Agent& agent) {
  const int port = http_port(agent);
  const HttpResult metrics = http_get(port, "/metrics");
  CHECK(metrics.status == 200);
  const std::string bin = TOMBSYNC_BINARY, config = " --config '" + agent.config_path() + "'";
  std::string status = output_of(bin + " status --json" + config);
  std::string check = output_of(bin + " check" + config + " --log-level debug");
  std::string check_json = output_of(bin + " check --json" + config + " --log-level debug");
  CHECK(status.find("\"slot\"") != std::string::npos);  // real outputs, not an error each
  CHECK(check.find("PASS") != std::string::npos);
  return "== log\n" + agent.log() + "\n== /metrics\n" + metrics.body + "\n== status --json\n" + status +
         "\n== check\n" + check + "\n== check --json\n" + check_json;
}

std::vector<std::string> pem_body_lines(const std::string& path) {
  std::ifstream f(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(f, line);)
    if (!line.empty() && line.rfind("-----", 0) != 0) lines.push_back(line);
  REQUIRE_FALSE(lines.empty());
  return lines;
}

}  // namespace tombsync::it
