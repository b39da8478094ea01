// The daemon's settings in the config: http, health, heartbeat, reconnect,
// snapshot_max_connections, and secrets read from files (password_file,
// kafka.property_files), whose content never appears in an error.
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "agent/config/config.h"
#include "base/error.h"
#include "base/small_file.h"

namespace tombsync {
namespace {

const std::string kBase =
    "source:\n  dsn: \"host=db dbname=app\"\n  tables: [public.users]\n"
    "kafka:\n  brokers: kafka:9092\n  topic_prefix: app\nstate_dir: /tmp/tombsync\n";

std::string error_of(const std::string& yaml) {
  try {
    parse_config(yaml, "t.yaml");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kConfig);
    return e.what();
  }
  FAIL("accepted:\n" << yaml);
  return "";
}

std::string secret_file(const std::string& name, const std::string& content) {
  auto path = std::filesystem::temp_directory_path() / ("tombsync-test-" + name);
  std::ofstream(path) << content;
  return path.string();
}

}  // namespace

TEST_CASE("runtime settings have defaults and parse", "[config]") {
  Config d = parse_config(kBase, "t.yaml");
  CHECK(d.http.address.empty());
  CHECK(d.health.max_lag_bytes == (int64_t{1} << 30));
  CHECK(d.heartbeat.interval_ms == 0);
  CHECK(d.reconnect.max_attempts == 0);
  CHECK(d.snapshot_max_connections == 2);

  Config c = parse_config(kBase +
                              "http: {address: \"0.0.0.0:9187\"}\n"
                              "health: {max_lag_bytes: 512MiB, kafka_stall_ms: 5000}\n"
                              "heartbeat: {interval: 10s}\n"
                              "reconnect: {initial_backoff_ms: 100, max_backoff_ms: 2000, max_attempts: 5}\n"
                              "snapshot_max_connections: 4\n"
                              "format: debezium-json\n",
                          "t.yaml");
  CHECK(c.http.address == "0.0.0.0:9187");
  CHECK(c.health.max_lag_bytes == 512 * 1024 * 1024);
  CHECK(c.health.kafka_stall_ms == 5000);
  CHECK(c.heartbeat.interval_ms == 10000);
  CHECK(c.reconnect.initial_backoff_ms == 100);
  CHECK(c.reconnect.max_backoff_ms == 2000);
  CHECK(c.reconnect.max_attempts == 5);
  CHECK(c.snapshot_max_connections == 4);
  CHECK(c.format == Format::kDebeziumJson);
  CHECK(parse_config(kBase + "heartbeat: {interval: 1m}\n", "t").heartbeat.interval_ms == 60000);
  CHECK(parse_config(kBase + "heartbeat: {interval: 0}\n", "t").heartbeat.interval_ms == 0);
}

TEST_CASE("runtime settings: bad values name the key and the form", "[config]") {
  CHECK_THAT(error_of(kBase + "http: {address: nope}\n"), Catch::Contains("http.address: \"nope\" is not valid"));
  CHECK_THAT(error_of(kBase + "heartbeat: {interval: 10}\n"), Catch::Contains("a duration such as 500ms"));
  CHECK_THAT(error_of(kBase + "heartbeat: {interval: 5ms}\n"), Catch::Contains("shorter than the minimum"));
  CHECK_THAT(error_of(kBase + "health: {max_lag_bytes: lots}\n"), Catch::Contains("not a positive byte count"));
  CHECK_THAT(error_of(kBase + "reconnect: {initial_backoff_ms: 5000, max_backoff_ms: 1000}\n"),
             Catch::Contains("max_backoff_ms is smaller than initial_backoff_ms"));
  CHECK_THAT(error_of(kBase + "snapshot_max_connections: 0\n"), Catch::Contains("from 1 to 16"));
  CHECK_THAT(error_of(kBase + "heartbeat: {every: 1s}\n"), Catch::Contains("heartbeat.every"));
}

TEST_CASE("secrets from files: read, trimmed, never echoed", "[config]") {
  const std::string pw = secret_file("pw", "s3cret-pg\n");
  const std::string sasl = secret_file("sasl", "s3cret-kafka");
  Config c = parse_config("source:\n  dsn: \"host=db dbname=app\"\n  password_file: " + pw +
                              "\n  tables: [public.users]\n"
                              "kafka:\n  brokers: kafka:9092\n  topic_prefix: app\n"
                              "  property_files: {sasl.password: " + sasl + "}\nstate_dir: /tmp/t\n",
                          "t.yaml");
  CHECK(c.source.password_file == pw);
  CHECK(c.kafka.properties.at("sasl.password") == "s3cret-kafka");

  const std::string missing = error_of(
      "source:\n  dsn: \"host=db\"\n  password_file: /nonexistent/pw\n  tables: [public.users]\n"
      "kafka:\n  brokers: kafka:9092\n  topic_prefix: app\nstate_dir: /tmp/t\n");
  CHECK_THAT(missing, Catch::Contains("source.password_file: cannot open \"/nonexistent/pw\""));
  const std::string twice = error_of(
      kBase.substr(0, kBase.find("state_dir")) + "  properties: {sasl.password: x}\n  property_files: {sasl.password: " +
      sasl + "}\nstate_dir: /tmp/t\n");
  CHECK_THAT(twice, Catch::Contains("is also set in kafka.properties"));
  CHECK(twice.find("s3cret") == std::string::npos);
  const std::string owned = error_of(kBase.substr(0, kBase.find("state_dir")) + "  property_files: {acks: " + sasl +
                                     "}\nstate_dir: /tmp/t\n");
  CHECK_THAT(owned, Catch::Contains("tombsync owns this librdkafka property"));
  std::remove(pw.c_str());
  std::remove(sasl.c_str());
}

}  // namespace tombsync

namespace tombsync {
namespace {

TEST_CASE("a secret file that is a device, a directory or too large is refused with one line", "[config][secrets]") {
  auto with_pw = [](const std::string& file) {
    return error_of("source:\n  dsn: \"host=db\"\n  password_file: " + file +
                    "\n  tables: [public.users]\nkafka:\n  brokers: k:9092\n  topic_prefix: app\nstate_dir: /tmp/t\n");
  };
  CHECK_THAT(with_pw("/dev/zero"), Catch::Contains("source.password_file: cannot open \"/dev/zero\": is not a regular "
                                                   "file (a character device)"));
  CHECK_THAT(with_pw("/tmp"), Catch::Contains("is not a regular file (a directory)"));
  const std::string big = (std::filesystem::temp_directory_path() / "tombsync-big-secret").string();
  {
    std::ofstream out(big, std::ios::binary);
    out << std::string(kMaxSecretFileBytes + 1, 'x');
  }
  const std::string msg = with_pw(big);
  CHECK_THAT(msg, Catch::Contains("is larger than 65536 bytes"));
  CHECK(msg.find("xxxx") == std::string::npos);  // never the content
  std::filesystem::remove(big);
}

}  // namespace
}  // namespace tombsync
