// The entry points of config.h (parse_config, load_config_file) and the Parser's walk of the
// document (see config_parser.h): one YAML document whose top level is a mapping, each section
// read into the model, the required keys reported together, then the checks across tables.
// The connectors own the syntax of what they read: connectors/postgres/conninfo.h judges
// source.dsn, connectors/kafka/kafka_properties.h the broker list and the librdkafka
// properties tombsync refuses; the wording of the messages stays the config's.
#include "agent/config/config_parser.h"

#include <yaml-cpp/depthguard.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>

#include "agent/config/config_messages.h"
#include "agent/config/config_names.h"
#include "base/error.h"
#include "base/small_file.h"
#include "connectors/kafka/kafka_properties.h"
#include "connectors/postgres/conninfo.h"

namespace tombsync {
namespace config_internal {
namespace {

// Why a broker list entry is wrong, or "" when it is "host:port" (optionally
// "[v6addr]:port" or prefixed with a librdkafka "PROTOCOL://"); the syntax is
// connectors/kafka/kafka_properties.h's, the wording the config's.
std::string broker_problem(std::string_view entry) {
  const BrokerCheck check = check_broker(entry);
  switch (check.problem) {
    case BrokerProblem::kNone: return "";
    case BrokerProblem::kEmpty: return "an entry is empty";
    case BrokerProblem::kUnclosedBracket: return quote(check.address) + " has an unclosed '['";
    case BrokerProblem::kNoPort: return quote(check.address) + " has no port";
    case BrokerProblem::kInvalidHost: return quote(check.address) + " has no valid host name";
    case BrokerProblem::kInvalidPort:
      return quote(check.address) + " has no valid port (1 to 65535)";
  }
  return "";
}

// Why the config refuses a librdkafka property in kafka.properties or kafka.property_files,
// or "" when the user may set it.
std::string refusal(std::string_view property) {
  const OwnedProperty* owned = find_owned_property(property);
  if (!owned) return "";
  return "tombsync owns this librdkafka property: " + std::string(owned->config_reason);
}

}  // namespace

Config Parser::parse(const std::string& text) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(text);
  } catch (const YAML::DeepRecursion& e) {
    // yaml-cpp's own message for this is "bad file".
    fail(e.mark, "", "invalid YAML: nested too deeply (the parser stops at " + std::to_string(e.depth()) +
                         " levels); a tombsync config needs a few");
  } catch (const YAML::Exception& e) {
    fail(e.mark, "", "invalid YAML: " + e.msg + yaml_hint(text, e.mark, e.msg));
  }
  // "---" alone or a trailing "---" yields null documents; only content counts.
  std::erase_if(docs, [](const YAML::Node& d) { return d.IsNull(); });
  const std::string required = required_list({});
  if (docs.empty()) fail("the file is empty; required keys: " + required);
  if (docs.size() > 1) {
    fail(docs[1], "", "a second YAML document starts here; expected one document (remove the "
                      "\"---\" separator)");
  }
  const YAML::Node& root = docs[0];
  if (!root.IsMap()) {
    fail(root, "", "expected a mapping of keys (" + join(kRootKeys) + ") at the top level, got " +
                       kind_name(root) + "; required keys: " + required);
  }
  const Keys root_keys(kRootKeys);
  const Entries top = entries(root, "", "", &root_keys);

  Config config;
  if (const Value* n = find(top, "source")) {
    parse_source(*n, config.source);
  } else {
    missing_.insert(missing_.end(), {"source.dsn", "source.tables"});
  }
  if (const Value* n = find(top, "kafka")) {
    parse_kafka(*n, config.kafka);
  } else {
    missing_.insert(missing_.end(), {"kafka.brokers", "kafka.topic_prefix"});
  }
  if (const Value* n = find(top, "format")) {
    static constexpr std::array<std::string_view, 3> kNames = {"json", "protobuf", "debezium-json"};
    static constexpr std::array<Format, 3> kValues = {Format::kJson, Format::kProtobuf,
                                                      Format::kDebeziumJson};
    config.format = kValues[one_of(*n, "format", kNames)];
  }
  if (const Value* n = find(top, "deletes")) config.deletes = delete_policy(*n, "deletes");
  if (const Value* n = find(top, "oversized")) config.oversized = oversized_policy(*n, "oversized");
  if (const Value* n = find(top, "ledger")) config.ledger = ledger_mode(*n, "ledger");
  if (const Value* n = find(top, "truncate")) config.truncate = truncate_mode(*n, "truncate");
  if (const Value* n = find(top, "on_slot_loss")) {
    static constexpr std::array<std::string_view, 2> kNames = {"stop", "reconcile"};
    config.on_slot_loss = static_cast<OnSlotLoss>(one_of(*n, "on_slot_loss", kNames));
  }
  if (const Value* n = find(top, "state_dir")) {
    config.state_dir = nonempty(*n, "state_dir", "a directory path, e.g. /var/lib/tombsync");
  } else {
    missing_.push_back("state_dir");
  }
  if (const Value* n = find(top, "log")) parse_log(*n, config.log);
  if (const Value* n = find(top, "snapshot")) {
    static constexpr std::array<std::string_view, 3> kNames = {"initial", "never", "initial_only"};
    config.snapshot = static_cast<SnapshotMode>(one_of(*n, "snapshot", kNames));
  }
  if (const Value* n = find(top, "snapshot_chunk_rows")) {
    config.snapshot_chunk_rows = integer(*n, "snapshot_chunk_rows", 100, 1000000, "rows per snapshot chunk");
  }
  parse_runtime(top, config);

  if (missing_.size() == 1) fail("missing required key " + required_list(missing_));
  if (!missing_.empty()) fail("missing required keys: " + required_list(missing_));
  check_tables(config);
  return config;
}

// "source.dsn (a libpq conninfo, ...), ..." for `paths`, or for every required key.
std::string Parser::required_list(const std::vector<std::string_view>& paths) const {
  std::string out;
  for (const Required& r : kRequired) {
    if (!paths.empty() && std::find(paths.begin(), paths.end(), r.path) == paths.end()) continue;
    if (!out.empty()) out += ", ";
    out += std::string(r.path) + " (" + std::string(r.form) + ")";
  }
  return out;
}

void Parser::parse_source(const Value& at, Config::Source& source) {
  const YAML::Node& n = at.node;
  if (!mapping(at, "source", "a mapping with dsn, tables and optional settings")) {
    missing_.insert(missing_.end(), {"source.dsn", "source.tables"});
    return;
  }
  const Keys keys(kSourceKeys);
  const Entries e = entries(n, "source", "source", &keys);

  if (const Value* v = find(e, "dsn")) {
    constexpr std::string_view kForm =
        "a libpq conninfo of keyword=value pairs, e.g. \"host=db dbname=app user=tombsync\", "
        "or a postgresql:// URI";
    // The value is never echoed: it may hold a password.
    source.dsn = nonempty(*v, "source.dsn", kForm);
    const pg::DsnCheck check = pg::check_dsn(source.dsn);
    if (check.problem == pg::DsnProblem::kSyntax) {
      fail(*v, "source.dsn", "not a valid conninfo (it stops making sense at character " +
                                 std::to_string(check.offset + 1) + "); expected " +
                                 std::string(kForm));
    }
    if (check.problem == pg::DsnProblem::kBlank) {
      fail(*v, "source.dsn", "is blank; expected " + std::string(kForm));
    }
  } else {
    missing_.push_back("source.dsn");
  }
  if (const Value* v = find(e, "slot")) {
    constexpr std::string_view kForm = "1 to 63 characters from [a-z0-9_]";
    source.slot = scalar(*v, "source.slot", kForm);
    const bool ok = !source.slot.empty() && source.slot.size() <= 63 &&
                    std::all_of(source.slot.begin(), source.slot.end(), [](char c) {
                      return (c >= 'a' && c <= 'z') || is_digit(c) || c == '_';
                    });
    if (!ok) {
      fail(*v, "source.slot", quote(source.slot) + " is not a valid replication slot name; " +
                                  "expected " + std::string(kForm));
    }
  }
  if (const Value* v = find(e, "publication")) {
    // Lower case only, so the name means the same quoted or not in any SQL
    // the agent or an operator writes.
    constexpr std::string_view kForm =
        "a lower-case Postgres identifier: [a-z_] then up to 62 of [a-z0-9_]";
    source.publication = scalar(*v, "source.publication", kForm);
    const std::string& p = source.publication;
    const bool ok = !p.empty() && p.size() <= 63 && !is_digit(p[0]) &&
                    std::all_of(p.begin(), p.end(), [](char c) {
                      return (c >= 'a' && c <= 'z') || is_digit(c) || c == '_';
                    });
    if (!ok) {
      fail(*v, "source.publication",
           quote(p) + " is not a valid publication name; expected " + std::string(kForm));
    }
  }
  if (const Value* v = find(e, "create_publication")) {
    source.create_publication = boolean(*v, "source.create_publication");
  }
  if (const Value* v = find(e, "create_slot")) {
    source.create_slot = boolean(*v, "source.create_slot");
  }
  if (const Value* v = find(e, "tables")) {
    parse_tables(*v, source.tables);
  } else {
    missing_.push_back("source.tables");
  }
  if (const Value* v = find(e, "status_interval_ms")) {
    source.status_interval_ms = integer(*v, "source.status_interval_ms", 100, 60000,
                                        "milliseconds");
  }
  if (const Value* v = find(e, "password_file")) {
    source.password_file = nonempty(*v, "source.password_file", "a file path");
    file_content(*v, "source.password_file");  // fail now, with the line, when it is unreadable
  }
}

void Parser::parse_kafka(const Value& at, Config::Kafka& kafka) {
  const YAML::Node& n = at.node;
  if (!mapping(at, "kafka", "a mapping with brokers, topic_prefix and optional settings")) {
    missing_.insert(missing_.end(), {"kafka.brokers", "kafka.topic_prefix"});
    return;
  }
  const Keys keys(kKafkaKeys);
  const Entries e = entries(n, "kafka", "kafka", &keys);
  if (const Value* v = find(e, "brokers")) {
    constexpr std::string_view kForm =
        "\"host:port[,host:port]\", e.g. \"kafka-1:9092,kafka-2:9092\"";
    const std::string text = nonempty(*v, "kafka.brokers", kForm);
    // Stored without whitespace: librdkafka splits on commas only.
    std::string normalized;
    for (std::string_view entry : split_broker_list(text)) {
      if (const std::string problem = broker_problem(entry); !problem.empty()) {
        fail(*v, "kafka.brokers", problem + "; expected " + std::string(kForm));
      }
      if (!normalized.empty()) normalized += ',';
      normalized += entry;
    }
    kafka.brokers = normalized;
  } else {
    missing_.push_back("kafka.brokers");
  }
  if (const Value* v = find(e, "topic_prefix")) {
    constexpr std::string_view kForm = "1 or more characters from [A-Za-z0-9._-], e.g. app";
    kafka.topic_prefix = nonempty(*v, "kafka.topic_prefix", kForm);
    if (!valid_topic(kafka.topic_prefix)) {
      fail(*v, "kafka.topic_prefix",
           quote(kafka.topic_prefix) + " is not a valid topic prefix; expected " +
               std::string(kForm));
    }
  } else {
    missing_.push_back("kafka.topic_prefix");
  }
  if (const Value* v = find(e, "properties")) parse_properties(*v, kafka.properties);
  if (const Value* v = find(e, "property_files")) {
    if (mapping(*v, "kafka.property_files",
                "a mapping of librdkafka property to file, e.g. { sasl.password: /secrets/kafka }")) {
      for (const auto& [key, file] : entries(v->node, "kafka.property_files", "properties", nullptr)) {
        const std::string path = "kafka.property_files." + key;
        if (const std::string refused = refusal(key); !refused.empty()) fail(file, path, refused);
        if (kafka.properties.count(key)) {
          fail(file, path, "is also set in kafka.properties; keep one of the two");
        }
        kafka.property_files[key] = nonempty(file, path, "a file path");
        kafka.properties[key] = file_content(file, path);
      }
    }
  }
  if (const Value* v = find(e, "connect_timeout_ms")) {
    kafka.connect_timeout_ms = integer(*v, "kafka.connect_timeout_ms", 100, 300000,
                                       "milliseconds");
  }
}

void Parser::parse_properties(const Value& at, std::map<std::string, std::string>& properties) {
  const YAML::Node& n = at.node;
  if (!mapping(at, "kafka.properties",
               "a mapping of librdkafka properties, e.g. { compression.type: zstd }")) {
    return;
  }
  for (const auto& [key, value] : entries(n, "kafka.properties", "properties", nullptr)) {
    const std::string path = "kafka.properties." + key;
    if (const std::string refused = refusal(key); !refused.empty()) fail(value, path, refused);
    if (key == "ssl.key.pem")  // docs/security.md: keys come from files, never from the config text
      fail(value, path, "a private key is not accepted in the config text; give its file with "
                        "kafka.properties.ssl.key.location, or kafka.property_files.ssl.key.pem");
    // Values are never echoed: sasl.password and ssl.key.password live here.
    properties[key] = scalar(value, path, "a string, number or boolean");
  }
}

void Parser::parse_log(const Value& at, Config::Log& log) {
  const YAML::Node& n = at.node;
  if (!mapping(at, "log", "a mapping with level and format")) return;
  const Keys keys(kLogKeys);
  const Entries e = entries(n, "log", "log", &keys);
  if (const Value* v = find(e, "level")) {
    static constexpr std::array<std::string_view, 4> kNames = {"debug", "info", "warn", "error"};
    log.level = std::string(kNames[one_of(*v, "log.level", kNames)]);
  }
  if (const Value* v = find(e, "format")) {
    static constexpr std::array<std::string_view, 2> kNames = {"text", "json"};
    log.format = std::string(kNames[one_of(*v, "log.format", kNames)]);
  }
}

// The daemon's own settings: HTTP endpoints, health thresholds, heartbeat,
// reconnection and snapshot parallelism.
void Parser::parse_runtime(const Entries& top, Config& config) {
  if (const Value* n = find(top, "snapshot_max_connections")) {
    config.snapshot_max_connections =
        integer(*n, "snapshot_max_connections", 1, 16, "tables snapshotted at once");
  }
  auto section = [&](std::string_view name, Keys keys) -> std::optional<Entries> {
    const Value* n = find(top, name);
    if (!n || !mapping(*n, std::string(name), "a mapping of " + join(keys))) return std::nullopt;
    return entries(n->node, std::string(name), name, &keys);
  };
  if (auto e = section("http", Keys(kHttpKeys))) {
    if (const Value* v = find(*e, "address")) {
      constexpr std::string_view kForm = "\"host:port\", e.g. \"0.0.0.0:9187\" (empty: no HTTP server)";
      config.http.address = scalar(*v, "http.address", kForm);
      const size_t colon = config.http.address.rfind(':');
      int port = -1;
      if (colon != std::string::npos) {
        const std::string_view p = std::string_view(config.http.address).substr(colon + 1);
        const auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
        if (ec != std::errc() || end != p.data() + p.size()) port = -1;
      }
      if (!config.http.address.empty() && (port < 0 || port > 65535)) {
        fail(*v, "http.address", quote(config.http.address) + " is not valid; expected " + std::string(kForm));
      }
    }
  }
  if (auto e = section("health", Keys(kHealthKeys))) {
    if (const Value* v = find(*e, "max_lag_bytes")) config.health.max_lag_bytes = byte_size(*v, "health.max_lag_bytes");
    if (const Value* v = find(*e, "kafka_stall_ms")) {
      config.health.kafka_stall_ms = integer(*v, "health.kafka_stall_ms", 1000, 3600000, "milliseconds");
    }
  }
  if (auto e = section("heartbeat", Keys(kHeartbeatKeys))) {
    if (const Value* v = find(*e, "interval")) {
      config.heartbeat.interval_ms = duration_ms(*v, "heartbeat.interval", 24 * 3600 * 1000);
    }
  }
  if (auto e = section("reconnect", Keys(kReconnectKeys))) {
    if (const Value* v = find(*e, "initial_backoff_ms")) {
      config.reconnect.initial_backoff_ms = integer(*v, "reconnect.initial_backoff_ms", 10, 600000, "milliseconds");
    }
    if (const Value* v = find(*e, "max_backoff_ms")) {
      config.reconnect.max_backoff_ms = integer(*v, "reconnect.max_backoff_ms", 10, 3600000, "milliseconds");
    }
    if (const Value* v = find(*e, "max_attempts")) {
      config.reconnect.max_attempts = integer(*v, "reconnect.max_attempts", 0, 1000000, "0 retries forever");
    }
    if (config.reconnect.max_backoff_ms < config.reconnect.initial_backoff_ms) {
      fail(find(top, "reconnect")->mark, "reconnect", "max_backoff_ms is smaller than initial_backoff_ms");
    }
  }
}

}  // namespace config_internal

Config parse_config(const std::string& yaml_text, const std::string& origin) {
  return config_internal::Parser(origin).parse(yaml_text);
}

Config load_config_file(const std::string& path) {
  // Bounded, like every file the config names (base/small_file.h): `--config /dev/zero` or a
  // huge file is one line, never unbounded memory.
  std::string why;
  std::optional<std::string> text = read_small_file(path, kMaxConfigFileBytes, why);
  if (!text) {  // why: "is not a regular file (...)", "is larger than ...", or the system's reason
    throw Error(ErrorKind::kConfig, "config " + path + ": " + (why.rfind("is ", 0) == 0 ? "the file " : "cannot read the file: ") + why);
  }
  return parse_config(*text, path);
}

}  // namespace tombsync
