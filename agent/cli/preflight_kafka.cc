// The Kafka items of `tombsync check`: the producer `run` builds reaches the brokers, and each
// table's topic exists or will be created at the first write. The facts come from
// connectors/kafka (KafkaSink, inspect_topics); this file judges them.
#include <set>

#include <fmt/format.h>

#include "agent/cli/preflight_items.h"
#include "base/error.h"
#include "base/log.h"
#include "connectors/kafka/kafka_admin.h"
#include "connectors/kafka/kafka_sink.h"

namespace tombsync::preflight {
namespace {

std::string plural(size_t n, const char* one, const char* many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

// Whether the producer may have the broker create a missing topic: KafkaSink's default, unless
// kafka.properties says otherwise.
bool producer_auto_creates(const Config& c) {
  auto it = c.kafka.properties.find("allow.auto.create.topics");
  return it == c.kafka.properties.end() || !(it->second == "false" || it->second == "0");
}

void judge_topic(const Config& c, const KafkaFacts& facts, const KafkaTopicFacts& t, CheckList& list) {
  const std::string& topic = t.name;
  const std::string create =
      fmt::format("create it: kafka-topics.sh --bootstrap-server {} --create --topic {}", c.kafka.brokers, topic);
  auto broker_setting = [&](const std::string& key) -> std::optional<std::string> {
    if (!facts.broker_config) return std::nullopt;
    auto it = facts.broker_config->find(key);
    if (it == facts.broker_config->end()) return std::nullopt;
    return it->second;
  };
  if (t.exists) {
    list.pass("kafka.topic", topic,
              fmt::format("Kafka topic {} exists ({})", topic,
                          plural(static_cast<size_t>(t.partitions), "partition", "partitions")));
  } else if (!t.unknown) {
    list.fail("kafka.topic", topic, fmt::format("Kafka topic {}: {}", topic, t.error));
  } else if (!producer_auto_creates(c)) {
    list.fail("kafka.topic", topic,
              "Kafka topic " + topic + " does not exist and kafka.properties sets allow.auto.create.topics=false; " +
                  create);
  } else if (auto on = broker_setting("auto.create.topics.enable")) {
    if (*on == "true")
      list.pass("kafka.topic", topic,
                "Kafka topic " + topic + " does not exist; the broker will create it at the first write "
                "(auto.create.topics.enable=true, num.partitions=" + broker_setting("num.partitions").value_or("?") +
                    ")");
    else
      list.fail("kafka.topic", topic,
                "Kafka topic " + topic + " does not exist and the broker does not create topics "
                "(auto.create.topics.enable=" + *on + "); " + create);
  } else {
    list.fail("kafka.topic", topic,
              "Kafka topic " + topic + " was not found (or this client may not see it), and whether the broker "
              "creates topics is unknown (" +
                  (facts.broker_config_error.empty() ? "auto.create.topics.enable not reported"
                                                     : facts.broker_config_error) +
                  "); " + create);
  }
}

}  // namespace

void check_kafka(const Config& c, CheckList& list) {
  std::set<std::string> seen;
  std::vector<std::string> topics;
  for (const auto& t : c.source.tables)
    if (seen.insert(c.topic_for(t)).second) topics.push_back(c.topic_for(t));

  KafkaSinkOptions o;
  o.brokers = c.kafka.brokers;
  o.properties = c.kafka.properties;
  o.connect_timeout_ms = c.kafka.connect_timeout_ms;
  o.log = [](int, const std::string& facility, const std::string& message) {
    log::debug("librdkafka {}: {}", facility, message);
  };
  try {
    KafkaSink sink(o);  // the producer `run` builds: it validates kafka.properties
    sink.check_reachable();
  } catch (const Error& e) {
    list.fail("kafka.reachable", "", e.what());
    const char* why = e.kind() == ErrorKind::kConfig ? "the Kafka client settings are invalid" : "Kafka is not reachable";
    for (const auto& t : topics) list.skip("kafka.topic", t, "Kafka topic " + t, why);
    return;
  }

  const KafkaFacts facts = inspect_topics(o, topics, producer_auto_creates(c));
  if (facts.failure != KafkaFacts::Failure::kNone) {
    const bool client = facts.failure == KafkaFacts::Failure::kClient;
    list.fail("kafka.reachable", "",
              client ? "cannot create a Kafka client: " + facts.error
                     : fmt::format("Kafka at {} answered, but not the topic list within {} ms: {}", c.kafka.brokers,
                                   c.kafka.connect_timeout_ms, facts.error));
    for (const auto& t : topics)
      list.skip("kafka.topic", t, "Kafka topic " + t, client ? "no Kafka client" : "the topic list could not be read");
    return;
  }
  list.pass("kafka.reachable", "",
            fmt::format("Kafka reachable at {} ({})", c.kafka.brokers,
                        plural(static_cast<size_t>(facts.brokers), "broker", "brokers")));
  for (const auto& t : facts.topics) judge_topic(c, facts, t, list);
}

}  // namespace tombsync::preflight
