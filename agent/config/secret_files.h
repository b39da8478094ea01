// Secrets the config names by file (source.password_file, kafka.property_files): a mounted
// Kubernetes Secret, read again whenever a client is (re)created so that a rotated Secret applies
// without a restart. The content is never quoted in a message.
// Any thread; reads the files, no other state.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "agent/config/config.h"

namespace tombsync {

// The content of a secret file without its trailing newlines (CR/LF), or nullopt with `why` set
// to one line ("cannot open \"f\": No such file or directory", "\"f\" is empty"). The rule the
// config parser applies at load time and every re-read of kafka.property_files; source.password_file
// is re-read by connectors/postgres with the same rule (pg_connection.cc).
std::optional<std::string> read_secret_file(const std::string& path, std::string& why);

// The librdkafka properties as they stand now: kafka.properties, with every
// kafka.property_files entry read again from its file. Called by each creation of a Kafka client
// of the pipeline (agent/stream/session_start.h kafka_sink_options: the producer and the
// partition-tail reader), so a session that starts after a rotation uses the new password.
// Throws a transient Error(kSink) "kafka.property_files.<key>: cannot open \"<file>\": <why>"
// when a file cannot be read or is empty (the load-time rule): the session is retried with
// back-off, reading the file again. The file's content never appears.
std::map<std::string, std::string> current_kafka_properties(const Config::Kafka& kafka);

}  // namespace tombsync
