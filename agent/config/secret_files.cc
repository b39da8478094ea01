// Secrets read from files (see secret_files.h): the one rule for a secret file's content, and
// the librdkafka properties with kafka.property_files read again.
#include "agent/config/secret_files.h"

#include "base/error.h"
#include "base/small_file.h"

namespace tombsync {

std::optional<std::string> read_secret_file(const std::string& path, std::string& why) {
  std::optional<std::string> text = read_small_file(path, kMaxSecretFileBytes, why);
  if (!text) {
    why = "cannot open \"" + path + "\": " + why;
    return std::nullopt;
  }
  while (!text->empty() && (text->back() == '\n' || text->back() == '\r')) text->pop_back();
  if (text->empty()) {
    why = "\"" + path + "\" is empty";
    return std::nullopt;
  }
  return text;
}

std::map<std::string, std::string> current_kafka_properties(const Config::Kafka& kafka) {
  std::map<std::string, std::string> properties = kafka.properties;
  for (const auto& [key, path] : kafka.property_files) {
    std::string why;
    std::optional<std::string> value = read_secret_file(path, why);
    // A sink error, transient: load time proved the file; a Secret being rewritten (a writer that truncates
    // first) or remounted must not stop the agent for good. The supervisor retries with back-off,
    // this line each time.
    if (!value) throw Error(ErrorKind::kSink, "kafka.property_files." + key + ": " + why, Transient::kYes);
    properties[key] = std::move(*value);
  }
  return properties;
}

}  // namespace tombsync
