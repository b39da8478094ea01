// What Kafka says about the topics tombsync writes to, read without changing
// anything: the topic list (a metadata request for all topics, by a client
// that may not auto-create topics, so nothing is created) and, when asked, one
// broker's configuration (DescribeConfigs). For `tombsync check`
// (agent/cli/preflight_kafka.cc), which judges these facts; plain data, no
// judgement. Blocking, bounded by the options' connect_timeout_ms.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "connectors/kafka/kafka_sink.h"

namespace tombsync {

struct KafkaTopicFacts {
  std::string name;
  bool exists = false;  // in the metadata without error
  int partitions = 0;
  bool unknown = false;  // does not exist: UNKNOWN_TOPIC_OR_PART when asked for by name
  bool denied = false;   // TOPIC_AUTHORIZATION_FAILED: the principal may not Describe it
  std::string error;     // the broker's error for it otherwise (authorisation, leader not available, ...)
};

struct KafkaFacts {
  // Set when there is no topic list: the client could not be created, or the metadata request
  // failed (then `error` is librdkafka's reason). Every other field is empty then.
  enum class Failure { kNone, kClient, kMetadata };
  Failure failure = Failure::kNone;
  std::string error;
  int brokers = 0;
  std::vector<KafkaTopicFacts> topics;  // the asked topics, in the asked order
  // One broker's configuration; read only when asked and a topic is unknown. Unset with
  // broker_config_error saying why (timed out, not authorised, no broker).
  std::optional<std::map<std::string, std::string>> broker_config;
  std::string broker_config_error;
  bool broker_config_denied = false;  // DescribeConfigs on the cluster is not granted
};

// Reads the facts with a client built from `options` (brokers, properties minus
// allow.auto.create.topics, which is forced off; log). A topic missing from the list of all
// topics (which leaves out those the principal may not Describe) is asked for by name, without
// auto-creation, to tell "does not exist" (unknown) from "may not Describe" (denied). `broker_config_if_unknown`: also read
// the first broker's configuration when an asked topic is unknown (whether it would be
// auto-created). Never throws for Kafka's answers; they are facts.
KafkaFacts inspect_topics(const KafkaSinkOptions& options, const std::vector<std::string>& topics,
                          bool broker_config_if_unknown);

// The cleanup.policy Kafka applies to `topic` ("delete", "compact", "compact,delete"): the
// topic's (DescribeConfigs), or, for a topic that does not exist yet, the broker's
// log.cleanup.policy (what auto-creation gives it). nullopt with `error` set when Kafka does not
// say (not authorised to describe it, timed out, unreachable). For the stream's TRUNCATE
// expansion (agent/stream/topic_cleanup.h). Blocking, bounded by connect_timeout_ms per request.
std::optional<std::string> topic_cleanup_policy(const KafkaSinkOptions& options, const std::string& topic,
                                                std::string& error);

}  // namespace tombsync
