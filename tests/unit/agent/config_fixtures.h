// Building config files for the config tests (config_test.cc, config_tables_test.cc): a
// minimal valid config with one part replaced, and error_of(), which checks what every
// config error shares.
#pragma once

#include <catch2/catch.hpp>

#include <string>

#include "agent/config/config.h"
#include "base/error.h"

namespace tombsync::test {

// A minimal valid config; tests append or substitute one thing at a time.
inline const std::string kDsn = "  dsn: \"host=db dbname=app user=tombsync\"\n";
inline const std::string kTables = "  tables: [public.users]\n";
inline const std::string kKafka = "kafka:\n  brokers: kafka:9092\n  topic_prefix: app\n";
inline const std::string kStateDir = "state_dir: /tmp/tombsync\n";

inline std::string with_source(const std::string& source_lines) {
  return "source:\n" + kDsn + source_lines + kKafka + kStateDir;
}
inline std::string with_tables(const std::string& table_lines) {
  return "source:\n" + kDsn + "  tables:\n" + table_lines + kKafka + kStateDir;
}
inline std::string with_kafka(const std::string& kafka_lines) {
  return "source:\n" + kDsn + kTables + "kafka:\n  brokers: kafka:9092\n  topic_prefix: app\n" +
         kafka_lines + kStateDir;
}
inline std::string with_top(const std::string& top_lines) {
  return "source:\n" + kDsn + kTables + kKafka + kStateDir + top_lines;
}

// The message of the kConfig error parse_config must throw, after checking
// the properties every config error shares: the kind, one line, the origin.
inline std::string error_of(const std::string& yaml) {
  try {
    parse_config(yaml, "test.yaml");
  } catch (const Error& e) {
    const std::string msg = e.what();
    CHECK(e.kind() == ErrorKind::kConfig);
    CHECK(msg.find('\n') == std::string::npos);
    CHECK(msg.find('\r') == std::string::npos);
    CHECK_THAT(msg, Catch::StartsWith("config test.yaml"));
    return msg;
  }
  FAIL("parse_config accepted:\n" << yaml);
  return "";
}

}  // namespace tombsync::test
