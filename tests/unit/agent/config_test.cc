// Config loading: the example file, every validation rule (each error names
// its key path and fits on one line), ${VAR} substitution. The rules of
// source.tables are config_tables_test.cc's.
#include "agent/config/config.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "base/error.h"
#include "base/small_file.h"
#include "tests/unit/agent/config_fixtures.h"

using namespace tombsync;
using namespace tombsync::test;
using Catch::Contains;
using Catch::StartsWith;

namespace {

// Sets (or unsets, with nullopt) an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value->c_str(), 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

std::string example_path() {
  // TOMBSYNC_TEST_DATA is <repo>/tests/data.
  return (std::filesystem::path(TOMBSYNC_TEST_DATA).parent_path().parent_path() / "examples" /
          "tombsync.yaml")
      .string();
}

}  // namespace

TEST_CASE("the example file parses to the documented config", "[config]") {
  ScopedEnv port("TOMBSYNC_PG_PORT", std::nullopt);
  ScopedEnv password("TOMBSYNC_PG_PASSWORD", std::nullopt);
  ScopedEnv brokers("TOMBSYNC_KAFKA_BROKERS", std::nullopt);
  ScopedEnv state("TOMBSYNC_STATE_DIR", std::nullopt);
  const Config c = load_config_file(example_path());

  CHECK(c.source.dsn ==
        "host=127.0.0.1 port=5432 dbname=app user=tombsync password=tombsync");
  CHECK(c.source.slot == "tombsync");
  CHECK(c.source.publication == "tombsync");
  CHECK(c.source.create_publication);
  CHECK(c.source.create_slot);
  CHECK(c.source.status_interval_ms == 1000);
  REQUIRE(c.source.tables.size() == 2);

  const TableConfig& users = c.source.tables[0];
  CHECK(users.name == TableName{"public", "users"});
  CHECK_FALSE(users.deletes);
  CHECK(users.key_columns.empty());
  CHECK_FALSE(users.allow_keyless);
  CHECK_FALSE(users.topic);

  const TableConfig& orders = c.source.tables[1];
  CHECK(orders.name == TableName{"public", "orders"});
  CHECK(orders.deletes == DeletePolicy::kFlag);
  CHECK(orders.key_columns == std::vector<std::string>{"order_id"});

  CHECK(c.kafka.brokers == "127.0.0.1:9092");
  CHECK(c.kafka.topic_prefix == "app");
  CHECK(c.kafka.properties == std::map<std::string, std::string>{{"compression.type", "zstd"}});
  CHECK(c.kafka.connect_timeout_ms == 10000);
  CHECK(c.format == Format::kJson);
  CHECK(c.deletes == DeletePolicy::kBoth);
  CHECK(c.state_dir == "/var/lib/tombsync");
  CHECK(c.log.level == "info");
  CHECK(c.log.format == "text");

  CHECK(c.topic_for(users) == "app.public.users");
  CHECK(c.topic_for(orders) == "app.public.orders");
  CHECK(c.deletes_for(users) == DeletePolicy::kBoth);
  CHECK(c.deletes_for(orders) == DeletePolicy::kFlag);
  CHECK(c.find_table("public", "orders") == &orders);
  CHECK(c.find_table("public", "missing") == nullptr);
}

TEST_CASE("the example file takes the demo services' settings from the environment", "[config]") {
  ScopedEnv port("TOMBSYNC_PG_PORT", "55432");
  ScopedEnv password("TOMBSYNC_PG_PASSWORD", "s3cret");
  ScopedEnv brokers("TOMBSYNC_KAFKA_BROKERS", "127.0.0.1:39092");
  ScopedEnv state("TOMBSYNC_STATE_DIR", "/tmp/demo-state");
  const Config c = load_config_file(example_path());
  CHECK(c.source.dsn == "host=127.0.0.1 port=55432 dbname=app user=tombsync password=s3cret");
  CHECK(c.kafka.brokers == "127.0.0.1:39092");
  CHECK(c.state_dir == "/tmp/demo-state");
}

TEST_CASE("a minimal config gets every default", "[config]") {
  const Config c = parse_config(with_source(kTables), "test.yaml");
  CHECK(c.source.slot == "tombsync");
  CHECK(c.source.publication == "tombsync");
  CHECK(c.source.create_publication);
  CHECK(c.source.create_slot);
  CHECK(c.source.status_interval_ms == 1000);
  CHECK(c.kafka.properties.empty());
  CHECK(c.kafka.connect_timeout_ms == 10000);
  CHECK(c.format == Format::kJson);
  CHECK(c.deletes == DeletePolicy::kBoth);
  CHECK(c.log.level == "info");
  CHECK(c.log.format == "text");
}

TEST_CASE("every optional key is read", "[config]") {
  const Config c = parse_config(R"(
source:
  dsn: postgresql://tombsync@db/app
  slot: slot_2
  publication: pub_2
  create_publication: false
  create_slot: False
  status_interval_ms: 250
  tables:
    - name: 'sales."Order Items"'
      deletes: tombstone
      key_columns: [order_id, '"LineNo"']
      topic: sales.items
    - name: audit.events
      allow_keyless: true
      deletes: flag
      snapshot: never
kafka:
  brokers: " kafka-1:9092 , SSL://kafka-2:9093,[::1]:9094"
  topic_prefix: prod.app_1
  connect_timeout_ms: 5000
  properties:
    linger.ms: 5
    enable.ssl.certificate.verification: false
    client.id: tombsync
format: protobuf
deletes: flag
state_dir: /data
log:
  level: debug
  format: json
)",
                                "test.yaml");
  CHECK(c.source.dsn == "postgresql://tombsync@db/app");
  CHECK(c.source.slot == "slot_2");
  CHECK(c.source.publication == "pub_2");
  CHECK_FALSE(c.source.create_publication);
  CHECK_FALSE(c.source.create_slot);
  CHECK(c.source.status_interval_ms == 250);
  REQUIRE(c.source.tables.size() == 2);
  const TableConfig& items = c.source.tables[0];
  CHECK(items.name == TableName{"sales", "Order Items"});
  CHECK(items.name.qualified() == "sales.Order Items");
  CHECK(items.name.sql_quoted() == "\"sales\".\"Order Items\"");
  CHECK(items.deletes == DeletePolicy::kTombstone);
  CHECK(items.key_columns == std::vector<std::string>{"order_id", "LineNo"});
  CHECK(c.topic_for(items) == "sales.items");
  const TableConfig& events = c.source.tables[1];
  CHECK(events.allow_keyless);
  CHECK(c.topic_for(events) == "prod.app_1.audit.events");
  CHECK(c.kafka.brokers == "kafka-1:9092,SSL://kafka-2:9093,[::1]:9094");
  CHECK(c.kafka.topic_prefix == "prod.app_1");
  CHECK(c.kafka.connect_timeout_ms == 5000);
  CHECK(c.kafka.properties == std::map<std::string, std::string>{
                                  {"client.id", "tombsync"},
                                  {"enable.ssl.certificate.verification", "false"},
                                  {"linger.ms", "5"}});
  CHECK(c.format == Format::kProtobuf);
  CHECK(c.deletes == DeletePolicy::kFlag);
  CHECK(c.state_dir == "/data");
  CHECK(c.log.level == "debug");
  CHECK(c.log.format == "json");
}

TEST_CASE("malformed YAML is one line with its position", "[config][errors]") {
  const std::string msg = error_of("source:\n  dsn: [unclosed\nkafka: {}\n");
  CHECK_THAT(msg, StartsWith("config test.yaml line "));
  CHECK_THAT(msg, Contains("invalid YAML: "));

  const std::string tab = error_of("source:\n\tdsn: x\n");
  CHECK_THAT(tab, Contains("invalid YAML"));
  CHECK_THAT(tab, Contains("a tab indents line 2"));

  CHECK_THAT(error_of(with_kafka("  properties: { sasl.password: ${PW} }\n")),
             Contains("line 7: invalid YAML: end of map flow not found (inside { } or [ ], quote "
                      "a value that uses ${...}: \"${VAR}\")"));

  CHECK_THAT(error_of(kKafka + "---\n" + kKafka),
             Contains("line 5: a second YAML document starts here"));
}

TEST_CASE("an empty file names the required keys", "[config][errors]") {
  for (const std::string text : {"", "\n\n", "# only a comment\n", "---\n"}) {
    const std::string msg = error_of(text);
    CHECK_THAT(msg, Contains("the file is empty"));
    for (const char* key :
         {"source.dsn", "source.tables", "kafka.brokers", "kafka.topic_prefix", "state_dir"}) {
      CHECK_THAT(msg, Contains(key));
    }
  }
  CHECK_THAT(error_of("- a\n- b\n"),
             Contains("line 1: expected a mapping of keys (source, kafka, format, deletes, oversized, "
                      "ledger, truncate, on_slot_loss, state_dir, log, snapshot, snapshot_chunk_rows, snapshot_max_connections, http, "
                      "health, heartbeat, reconnect) at the top level, got a list"));
}

TEST_CASE("missing required keys are named with their form", "[config][errors]") {
  CHECK(error_of("source:\n" + kTables + kKafka + kStateDir) ==
        "config test.yaml: missing required key source.dsn (a libpq conninfo, e.g. "
        "\"host=db dbname=app user=tombsync\")");
  const std::string several = error_of("source:\n" + kDsn + "kafka:\n  topic_prefix: app\n");
  CHECK_THAT(several, Contains("missing required keys: source.tables ("));
  CHECK_THAT(several, Contains("kafka.brokers (\"host:port[,host:port]\")"));
  CHECK_THAT(several, Contains("state_dir ("));
  CHECK_THAT(several, !Contains("source.dsn"));
  // A section with nothing under it is the same as no section.
  CHECK_THAT(error_of("source:\nkafka:\n" + kStateDir),
             Contains("missing required keys: source.dsn"));
  CHECK_THAT(error_of(with_tables("    - dsn: x\n")),
             Contains("line 4: unknown key \"source.tables[0].dsn\""));
  CHECK_THAT(error_of(with_tables("    - deletes: flag\n")),
             Contains("line 4: missing required key source.tables[0].name (\"schema.table\""));
}

TEST_CASE("unknown keys are refused, with a suggestion when one is close", "[config][errors]") {
  CHECK(error_of("kafka:\n  broker: k:9092\n") ==
        "config test.yaml line 2: unknown key \"kafka.broker\" (did you mean \"kafka.brokers\"?)");
  CHECK_THAT(error_of(with_source("  dns: x\n")),
             Contains("line 3: unknown key \"source.dns\" (did you mean \"source.dsn\"?)"));
  CHECK_THAT(error_of(with_top("State-Dir: /x\n")),
             Contains("unknown key \"State-Dir\" (did you mean \"state_dir\"?)"));
  CHECK_THAT(error_of(with_top("log: { levle: debug }\n")),
             Contains("unknown key \"log.levle\" (did you mean \"log.level\"?)"));
  CHECK_THAT(error_of(with_tables("    - name: public.users\n      primary_key: [id]\n")),
             Contains("unknown key \"source.tables[0].primary_key\" (did you mean "
                      "\"source.tables[0].key_columns\"?)"));
  CHECK_THAT(error_of(with_tables("    - name: public.users\n      delete: flag\n")),
             Contains("(did you mean \"source.tables[0].deletes\"?)"));
  // The right key in the wrong section.
  CHECK_THAT(error_of(with_top("brokers: k:9092\n")),
             Contains("unknown key \"brokers\" (did you mean \"kafka.brokers\"?)"));
  CHECK_THAT(error_of(with_kafka("  bootstrap.servers: k:9092\n")),
             Contains("unknown key \"kafka.bootstrap.servers\" (did you mean \"kafka.brokers\"?)"));
  // Nothing close: list what the section takes.
  CHECK_THAT(error_of(with_kafka("  zzz: 1\n")),
             Contains("unknown key \"kafka.zzz\"; expected one of: brokers, topic_prefix, "
                      "properties, connect_timeout_ms"));
  CHECK_THAT(error_of(with_source("  password: x\n")),
             Contains("unknown key \"source.password\": connection settings go in source.dsn"));
}

TEST_CASE("duplicate keys are refused", "[config][errors]") {
  CHECK_THAT(error_of(with_source("  slot: a\n  slot: b\n")),
             Contains("line 4: duplicate key \"source.slot\" (first at line 3)"));
}

TEST_CASE("wrong types name the key and the expected form", "[config][errors]") {
  CHECK_THAT(error_of(with_source("  slot: [a, b]\n")),
             Contains("line 3: source.slot: expected 1 to 63 characters from [a-z0-9_], got a "
                      "list"));
  CHECK_THAT(error_of(with_source("  slot:\n")),
             Contains("line 3: source.slot: no value given; expected"));
  CHECK_THAT(error_of(with_source("  create_slot: { a: 1 }\n")),
             Contains("source.create_slot: expected true or false, got a mapping"));
  CHECK_THAT(error_of(with_source("  create_publication: yes\n")),
             Contains("source.create_publication: expected true or false, got \"yes\""));
  CHECK_THAT(error_of(with_source("  status_interval_ms: 1s\n")),
             Contains("source.status_interval_ms: expected an integer from 100 to 60000 "
                      "(milliseconds), got \"1s\""));
  CHECK_THAT(error_of(with_source("  status_interval_ms: 99\n")),
             Contains("source.status_interval_ms: 99 is out of range"));
  CHECK_THAT(error_of(with_source("  status_interval_ms: 99999999999999999999\n")),
             Contains("source.status_interval_ms: 99999999999999999999 is out of range"));
  CHECK_THAT(error_of(with_kafka("  connect_timeout_ms: 0\n")),
             Contains("kafka.connect_timeout_ms: 0 is out of range; expected an integer from 100 "
                      "to 300000"));
  CHECK_THAT(error_of("source: [a]\n"),
             Contains("line 1: source: expected a mapping with dsn, tables and optional settings, "
                      "got a list"));
  CHECK_THAT(error_of(with_kafka("  properties: [a]\n")),
             Contains("kafka.properties: expected a mapping of librdkafka properties"));
  CHECK_THAT(error_of("source:\n" + kDsn + "  tables: public.users\n" + kKafka + kStateDir),
             Contains("source.tables: expected a list of tables"));
  CHECK_THAT(error_of(with_tables("    - [public.users]\n")),
             Contains("source.tables[0]: expected \"schema.table\" or a mapping with name: and "
                      "overrides, got a list"));
  CHECK_THAT(error_of("source:\n" + kDsn + "  tables: []\n" + kKafka + kStateDir),
             Contains("source.tables: lists no tables"));
}

TEST_CASE("enums list their allowed values", "[config][errors]") {
  CHECK_THAT(error_of(with_top("format: avro\n")),
             Contains("format: \"avro\" is not allowed; expected one of: json, protobuf"));
  CHECK_THAT(error_of(with_top("deletes: soft\n")),
             Contains("deletes: \"soft\" is not allowed; expected one of: both, flag, tombstone"));
  CHECK_THAT(error_of(with_top("log: { level: trace }\n")),
             Contains("log.level: \"trace\" is not allowed; expected one of: debug, info, warn, "
                      "error"));
  CHECK_THAT(error_of(with_top("log: { format: xml }\n")),
             Contains("log.format: \"xml\" is not allowed; expected one of: text, json"));
  CHECK_THAT(error_of(with_tables("    - name: public.users\n      deletes: FLAG\n")),
             Contains("source.tables[0].deletes: \"FLAG\" is not allowed; expected one of: both, "
                      "flag, tombstone"));
}

TEST_CASE("source names are validated", "[config][errors]") {
  CHECK_THAT(error_of(with_source("  slot: My-Slot\n")),
             Contains("source.slot: \"My-Slot\" is not a valid replication slot name; expected 1 "
                      "to 63 characters from [a-z0-9_]"));
  CHECK_THAT(error_of(with_source("  slot: " + std::string(64, 's') + "\n")),
             Contains("source.slot: \"ssss"));
  CHECK_THAT(error_of(with_source("  slot: \"\"\n")),
             Contains("source.slot: \"\" is not a valid replication slot name"));
  CHECK_THAT(error_of(with_source("  publication: 1pub\n")),
             Contains("source.publication: \"1pub\" is not a valid publication name; expected a "
                      "lower-case Postgres identifier"));
  CHECK_THAT(error_of(with_source("  publication: Pub\n")),
             Contains("source.publication: \"Pub\" is not a valid publication name"));
}

TEST_CASE("the dsn is checked without echoing it", "[config][errors]") {
  const std::string bad = error_of(
      "source:\n  dsn: \"host=db password=hunter2 oops\"\n" + kTables + kKafka + kStateDir);
  CHECK_THAT(bad, Contains("line 2: source.dsn: not a valid conninfo (it stops making sense at "
                           "character 26); expected a libpq conninfo of keyword=value pairs"));
  CHECK_THAT(bad, !Contains("hunter2"));
  CHECK_THAT(error_of("source:\n  dsn: \"host='db\"\n" + kTables + kKafka + kStateDir),
             Contains("source.dsn: not a valid conninfo"));
  CHECK_THAT(error_of("source:\n  dsn: \"\"\n" + kTables + kKafka + kStateDir),
             Contains("source.dsn: is empty; expected a libpq conninfo"));
  CHECK_THAT(error_of("source:\n  dsn: \"  \"\n" + kTables + kKafka + kStateDir),
             Contains("source.dsn: is blank"));
  CHECK_THAT(error_of("source:\n  dsn: [host=db]\n" + kTables + kKafka + kStateDir),
             Contains("source.dsn: expected a libpq conninfo"));
  const Config quoted = parse_config(
      "source:\n  dsn: \"host=db password='a b\\\\' c' dbname = app\"\n" + kTables + kKafka +
          kStateDir,
      "test.yaml");
  CHECK(quoted.source.dsn == "host=db password='a b\\' c' dbname = app");
}

TEST_CASE("kafka brokers and topic prefix are validated", "[config][errors]") {
  const auto brokers = [](const std::string& value) {
    return error_of("source:\n" + kDsn + kTables + "kafka:\n  brokers: \"" + value +
                    "\"\n  topic_prefix: app\n" + kStateDir);
  };
  CHECK_THAT(brokers("kafka"), Contains("kafka.brokers: \"kafka\" has no port; expected "
                                        "\"host:port[,host:port]\""));
  CHECK_THAT(brokers("kafka:0"), Contains("kafka.brokers: \"kafka:0\" has no valid port"));
  CHECK_THAT(brokers("kafka:99999"), Contains("has no valid port (1 to 65535)"));
  CHECK_THAT(brokers("a:9092,,b:9092"), Contains("kafka.brokers: an entry is empty"));
  CHECK_THAT(brokers(":9092"), Contains("kafka.brokers: \":9092\" has no valid host name"));
  CHECK_THAT(brokers("[::1:9092"), Contains("has an unclosed '['"));
  CHECK_THAT(brokers(""), Contains("kafka.brokers: is empty"));
  CHECK_THAT(error_of("source:\n" + kDsn + kTables +
                      "kafka:\n  brokers: [a:9092]\n  topic_prefix: app\n" + kStateDir),
             Contains("kafka.brokers: expected \"host:port[,host:port]\""));
  CHECK_THAT(error_of("source:\n" + kDsn + kTables +
                      "kafka:\n  brokers: a:9092\n  topic_prefix: my/app\n" + kStateDir),
             Contains("kafka.topic_prefix: \"my/app\" is not a valid topic prefix; expected 1 or "
                      "more characters from [A-Za-z0-9._-]"));
}

TEST_CASE("librdkafka properties that tombsync owns are refused", "[config][errors]") {
  for (const char* key : {"enable.idempotence", "acks", "request.required.acks"}) {
    const std::string msg = error_of(with_kafka("  properties:\n    " + std::string(key) +
                                                ": \"1\"\n"));
    CHECK_THAT(msg, Contains("kafka.properties." + std::string(key) +
                             ": tombsync owns this librdkafka property: tombsync always produces "
                             "with acks=all and enable.idempotence=true"));
  }
  for (const char* key : {"bootstrap.servers", "metadata.broker.list"}) {
    CHECK_THAT(error_of(with_kafka("  properties: { " + std::string(key) + ": k:9092 }\n")),
               Contains("kafka.properties." + std::string(key) +
                        ": tombsync owns this librdkafka property: set kafka.brokers instead"));
  }
  CHECK_THAT(error_of(with_kafka("  properties: { partitioner: random }\n")),
             Contains("kafka.properties.partitioner: tombsync owns this librdkafka property: "
                      "tombsync always uses murmur2_random"));
  CHECK_THAT(error_of(with_kafka("  properties: { delivery.report.only.error: true }\n")),
             Contains("kafka.properties.delivery.report.only.error: tombsync owns this"));
  CHECK_THAT(error_of(with_kafka("  properties: { linger.ms: [5] }\n")),
             Contains("kafka.properties.linger.ms: expected a string, number or boolean, got a "
                      "list"));
  CHECK_THAT(error_of(with_kafka("  properties:\n    linger.ms:\n")),
             Contains("line 8: kafka.properties.linger.ms: no value given"));
  CHECK_THAT(error_of(with_kafka("  properties: { a: 1, a: 2 }\n")),
             Contains("duplicate key \"kafka.properties.a\""));
  const Config empty = parse_config(with_kafka("  properties:\n"), "test.yaml");
  CHECK(empty.kafka.properties.empty());
}

TEST_CASE("${VAR} substitution happens in every string scalar", "[config][env]") {
  ScopedEnv pw("TOMBSYNC_TEST_PW", "p@ss: #word");  // YAML-special text stays literal
  ScopedEnv slot("TOMBSYNC_TEST_SLOT", "from_env");
  ScopedEnv empty("TOMBSYNC_TEST_EMPTY", "");
  ScopedEnv unset("TOMBSYNC_TEST_UNSET", std::nullopt);
  ScopedEnv ms("TOMBSYNC_TEST_MS", "750");
  const Config c = parse_config(R"(
source:
  dsn: "host=db password='${TOMBSYNC_TEST_PW}' port=${TOMBSYNC_TEST_UNSET:-5432}"
  slot: ${TOMBSYNC_TEST_SLOT}
  publication: ${TOMBSYNC_TEST_EMPTY:-pub}_${TOMBSYNC_TEST_UNSET:-x}
  create_slot: ${TOMBSYNC_TEST_UNSET:-false}
  status_interval_ms: ${TOMBSYNC_TEST_MS}
  tables: ["${TOMBSYNC_TEST_UNSET:-public}.users"]
kafka:
  brokers: ${TOMBSYNC_TEST_UNSET:-k:9092}
  topic_prefix: app
  properties:
    sasl.password: "${TOMBSYNC_TEST_PW}"
    client.id: "cost$$5 and $5 ${TOMBSYNC_TEST_EMPTY}"
state_dir: /var/${TOMBSYNC_TEST_UNSET:-}lib
)",
                                "test.yaml");
  CHECK(c.source.dsn == "host=db password='p@ss: #word' port=5432");
  CHECK(c.source.slot == "from_env");
  // ":-" also replaces a variable that is set but empty, as in the shell.
  CHECK(c.source.publication == "pub_x");
  CHECK_FALSE(c.source.create_slot);
  CHECK(c.source.status_interval_ms == 750);
  CHECK(c.source.tables.at(0).name == TableName{"public", "users"});
  CHECK(c.kafka.brokers == "k:9092");
  CHECK(c.kafka.properties.at("sasl.password") == "p@ss: #word");
  // $$ is a literal $; a $ before anything but { or $ is kept as written.
  CHECK(c.kafka.properties.at("client.id") == "cost$5 and $5 ");
  CHECK(c.state_dir == "/var/lib");
  // Keys are never substituted.
  CHECK_THAT(error_of(with_top("${TOMBSYNC_TEST_SLOT}: x\n")),
             Contains("unknown key \"${TOMBSYNC_TEST_SLOT}\""));
  // $${VAR} is the literal text ${VAR}.
  const Config literal = parse_config(with_kafka("  properties: { client.id: \"$${HOME}\" }\n"),
                                      "test.yaml");
  CHECK(literal.kafka.properties.at("client.id") == "${HOME}");
}

TEST_CASE("substitution errors name the variable and the key", "[config][env][errors]") {
  ScopedEnv unset("TOMBSYNC_TEST_UNSET", std::nullopt);
  CHECK(error_of("source:\n  dsn: \"password=${TOMBSYNC_TEST_UNSET}\"\n" + kTables + kKafka +
                 kStateDir) ==
        "config test.yaml line 2: source.dsn: environment variable TOMBSYNC_TEST_UNSET is not "
        "set; set it, or write ${TOMBSYNC_TEST_UNSET:-default} to give a default ($$ writes a "
        "literal $)");
  CHECK_THAT(error_of(with_kafka("  properties: { sasl.password: \"${TOMBSYNC_TEST_UNSET}\" }\n")),
             Contains("kafka.properties.sasl.password: environment variable TOMBSYNC_TEST_UNSET "
                      "is not set"));
  CHECK_THAT(error_of(with_source("  slot: ${TOMBSYNC_TEST_UNSET\n")),
             Contains("source.slot: \"${\" is not closed"));
  CHECK_THAT(error_of(with_source("  slot: ${1BAD:-secret}\n")),
             Contains("source.slot: \"1BAD\" is not a valid environment variable name"));
  CHECK_THAT(error_of(with_source("  slot: ${1BAD:-secret}\n")), !Contains("secret"));
  CHECK_THAT(error_of(with_source("  slot: ${}\n")),
             Contains("source.slot: \"\" is not a valid environment variable name"));
  // Substitution runs before validation: the value from the environment is checked.
  ScopedEnv bad("TOMBSYNC_TEST_BAD", "Bad-Slot");
  CHECK_THAT(error_of(with_source("  slot: ${TOMBSYNC_TEST_BAD}\n")),
             Contains("source.slot: \"Bad-Slot\" is not a valid replication slot name"));
}

TEST_CASE("load_config_file reports a file it cannot read", "[config][errors]") {
  const std::string missing = "/nonexistent/tombsync.yaml";
  try {
    load_config_file(missing);
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kConfig);
    CHECK(std::string(e.what()) ==
          "config /nonexistent/tombsync.yaml: cannot read the file: No such file or directory");
  }
  try {
    load_config_file(std::filesystem::path(example_path()).parent_path().string());
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kConfig);
    CHECK_THAT(e.what(), Contains("the file is not a regular file (a directory)"));
  }
}

TEST_CASE("load_config_file reads at most 1 MiB and never a device", "[config][errors]") {
  try {
    load_config_file("/dev/zero");  // read whole, this grew the process without bound
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kConfig);
    CHECK(std::string(e.what()) == "config /dev/zero: the file is not a regular file (a character device)");
  }
  const auto big = std::filesystem::temp_directory_path() / "tombsync-config-too-large.yaml";
  {
    std::ofstream f(big);
    f << "# " << std::string(kMaxConfigFileBytes, 'x') << "\n";
  }
  try {
    load_config_file(big.string());
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kConfig);
    CHECK_THAT(e.what(), Contains("the file is larger than 1048576 bytes"));
  }
  std::filesystem::remove(big);
}

TEST_CASE("enum names print as the config spells them", "[config]") {
  CHECK(std::string(to_string(DeletePolicy::kBoth)) == "both");
  CHECK(std::string(to_string(DeletePolicy::kFlag)) == "flag");
  CHECK(std::string(to_string(DeletePolicy::kTombstone)) == "tombstone");
  CHECK(std::string(to_string(Format::kJson)) == "json");
  CHECK(std::string(to_string(Format::kProtobuf)) == "protobuf");
}

namespace tombsync {
namespace {

TEST_CASE("deeply nested YAML is refused naming the nesting, not as a bad file", "[config][errors]") {
  const std::string deep = "source: " + std::string(100000, '[') + std::string(100000, ']') + "\n";
  try {
    parse_config(deep, "t.yaml");
    FAIL("accepted 100,000 levels of nesting");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kConfig);
    CHECK_THAT(e.what(), Catch::Contains("invalid YAML: nested too deeply"));
    CHECK_THAT(e.what(), !Catch::Contains("bad file"));
  }
}

}  // namespace
}  // namespace tombsync
