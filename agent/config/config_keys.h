// The shape of the config file, shared by the parser (config_parser.cc, config_tables.cc) and
// its messages (config_messages.cc): the keys each section allows, the required keys with the
// form each expects, and the forms several messages name. Private to tombsync_config.
// A new key goes here, in its section's parser, in config.h's model and in
// docs/configuration.md.
#pragma once

#include <array>
#include <span>
#include <string_view>

namespace tombsync::config_internal {

// A section's allowed keys, in the order messages list them.
using Keys = std::span<const std::string_view>;

inline constexpr std::array<std::string_view, 17> kRootKeys = {
    "source", "kafka", "format", "deletes", "oversized", "ledger", "truncate", "on_slot_loss", "state_dir", "log", "snapshot", "snapshot_chunk_rows",
    "snapshot_max_connections", "http", "health", "heartbeat", "reconnect"};
inline constexpr std::array<std::string_view, 8> kSourceKeys = {
    "dsn", "slot", "publication", "create_publication", "create_slot", "tables",
    "status_interval_ms", "password_file"};
inline constexpr std::array<std::string_view, 5> kKafkaKeys = {
    "brokers", "topic_prefix", "properties", "connect_timeout_ms", "property_files"};
inline constexpr std::array<std::string_view, 2> kLogKeys = {"level", "format"};
inline constexpr std::array<std::string_view, 1> kHttpKeys = {"address"};
inline constexpr std::array<std::string_view, 2> kHealthKeys = {"max_lag_bytes",
                                                               "kafka_stall_ms"};
inline constexpr std::array<std::string_view, 1> kHeartbeatKeys = {"interval"};
inline constexpr std::array<std::string_view, 3> kReconnectKeys = {
    "initial_backoff_ms", "max_backoff_ms", "max_attempts"};
inline constexpr std::array<std::string_view, 13> kTableKeys = {
    "name", "deletes", "key_columns", "allow_keyless", "topic", "snapshot",
    "soft_delete_column", "redact_on_delete", "redact_mode", "oversized", "ledger", "truncate",
    "complete_rows"};

// One hint per required key: the expected form, for "missing required key" messages.
struct Required {
  std::string_view path;
  std::string_view form;
};
inline constexpr std::array<Required, 5> kRequired = {{
    {"source.dsn", "a libpq conninfo, e.g. \"host=db dbname=app user=tombsync\""},
    {"source.tables", "a list of \"schema.table\", e.g. [public.users]"},
    {"kafka.brokers", "\"host:port[,host:port]\""},
    {"kafka.topic_prefix", "topics are <prefix>.<schema>.<table>, e.g. app"},
    {"state_dir", "a directory for the cursor store, e.g. /var/lib/tombsync"},
}};

inline constexpr std::string_view kTopicForm = "1 to 249 characters from [A-Za-z0-9._-]";
inline constexpr std::string_view kTableForm = "\"schema.table\"";

}  // namespace tombsync::config_internal
