// kafka.property_files are read again whenever the pipeline creates a Kafka client
// (current_kafka_properties, through kafka_sink_options): a rotated Secret applies to the next
// producer and partition-tail reader without a restart; an unreadable file then is one
// kConfig line naming the setting and the file, never the content.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "agent/config/config.h"
#include "agent/config/secret_files.h"
#include "agent/stream/session_start.h"
#include "base/error.h"

namespace tombsync {
namespace {

struct SecretDir {
  std::filesystem::path dir;
  SecretDir() {
    dir = std::filesystem::temp_directory_path() /
          ("tombsync-secret-files-" + std::to_string(::getpid()) + "-" + std::to_string(++counter()));
    std::filesystem::create_directories(dir);
  }
  ~SecretDir() { std::filesystem::remove_all(dir); }
  static int& counter() {
    static int n = 0;
    return n;
  }
  // Written beside and renamed over, as kubelet swaps a Secret volume's content.
  std::string write(const std::string& name, const std::string& content) const {
    const auto path = dir / name;
    std::ofstream(dir / (name + ".new")) << content;
    std::filesystem::rename(dir / (name + ".new"), path);
    return path.string();
  }
};

Config config_with(const std::string& password_file) {
  return parse_config("source:\n  dsn: \"host=db dbname=app\"\n  tables: [public.users]\n"
                      "kafka:\n  brokers: kafka:9092\n  topic_prefix: app\n"
                      "  properties: {security.protocol: SASL_SSL, sasl.username: tombsync}\n"
                      "  property_files: {sasl.password: \"" + password_file + "\"}\n"
                      "state_dir: /tmp/tombsync\n",
                      "t.yaml");
}

std::string error_of(const Config::Kafka& kafka) {
  try {
    current_kafka_properties(kafka);
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kSink);
    CHECK(e.transient());  // retried by the supervisor, not the end of the agent
    return e.what();
  }
  FAIL("the properties were read");
  return "";
}

}  // namespace

TEST_CASE("kafka.property_files are read again at each Kafka client creation", "[config][secrets]") {
  SecretDir d;
  const std::string pw = d.write("sasl-password", "first-secret\n");
  const Config c = config_with(pw);
  CHECK(c.kafka.properties.at("sasl.password") == "first-secret");  // read at load time too

  d.write("sasl-password", "second-secret\r\n");  // the rotation lands in the file
  const auto now = current_kafka_properties(c.kafka);
  CHECK(now.at("sasl.password") == "second-secret");
  CHECK(now.at("sasl.username") == "tombsync");  // the inline properties are kept as they are
  CHECK(now.at("security.protocol") == "SASL_SSL");
  // The options every pipeline Kafka client is made from (producer, partition-tail reader).
  CHECK(kafka_sink_options(c).properties.at("sasl.password") == "second-secret");

  d.write("sasl-password", "third-secret");
  CHECK(kafka_sink_options(c).properties.at("sasl.password") == "third-secret");
}

TEST_CASE("a property file that became unreadable or empty is one line naming the setting and the file",
          "[config][secrets]") {
  SecretDir d;
  const std::string pw = d.write("sasl-password", "first-secret\n");
  const Config c = config_with(pw);

  d.write("sasl-password", "\n");
  const std::string empty = error_of(c.kafka);
  CHECK_THAT(empty, Catch::Contains("kafka.property_files.sasl.password: \"" + pw + "\" is empty"));

  std::filesystem::remove(pw);
  const std::string missing = error_of(c.kafka);
  CHECK_THAT(missing, Catch::Contains("kafka.property_files.sasl.password: cannot open \"" + pw + "\""));
  CHECK(missing.find("first-secret") == std::string::npos);
  CHECK(missing.find('\n') == std::string::npos);
}

TEST_CASE("read_secret_file removes trailing newlines only", "[config][secrets]") {
  SecretDir d;
  std::string why;
  CHECK(read_secret_file(d.write("a", "  pass word \n\n"), why) == std::optional<std::string>("  pass word "));
  CHECK_FALSE(read_secret_file(d.write("b", "\r\n"), why));
  CHECK(why == "\"" + (d.dir / "b").string() + "\" is empty");
}

}  // namespace tombsync

namespace tombsync {

TEST_CASE("a private key inline in kafka.properties is refused, pointing to a file", "[config][secrets]") {
  const std::string yaml =
      "source:\n  dsn: \"host=db dbname=app\"\n  tables: [public.users]\n"
      "kafka:\n  brokers: kafka:9092\n  topic_prefix: app\n"
      "  properties:\n    ssl.key.pem: \"-----BEGIN PRIVATE KEY-----MIGHAgEAMBMGByqGSM49\"\n"
      "state_dir: /tmp/tombsync\n";
  try {
    parse_config(yaml, "t.yaml");
    FAIL("an inline ssl.key.pem was accepted");
  } catch (const Error& e) {
    const std::string m = e.what();
    CHECK_THAT(m, Catch::Contains("kafka.properties.ssl.key.pem: a private key is not accepted in the config text"));
    CHECK_THAT(m, Catch::Contains("ssl.key.location"));
    CHECK(m.find("MIGHAgEA") == std::string::npos);
  }
  // From a file it is a file: accepted.
  const auto key = std::filesystem::temp_directory_path() / ("tombsync-key-" + std::to_string(::getpid()));
  std::ofstream(key) << "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49\n-----END PRIVATE KEY-----\n";
  const Config c = parse_config("source:\n  dsn: \"host=db dbname=app\"\n  tables: [public.users]\n"
                                "kafka:\n  brokers: kafka:9092\n  topic_prefix: app\n"
                                "  property_files: {ssl.key.pem: \"" + key.string() + "\"}\n"
                                "state_dir: /tmp/tombsync\n",
                                "t.yaml");
  CHECK(c.kafka.property_files.at("ssl.key.pem") == key.string());
  std::filesystem::remove(key);
}

}  // namespace tombsync
