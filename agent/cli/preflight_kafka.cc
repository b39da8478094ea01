// The Kafka items of `tombsync check`: the producer `run` builds reaches the brokers; each
// table's topic exists or will be created at the first write; and the permissions run needs,
// each proven without writing (connectors/kafka/kafka_permissions.h): Describe, Write, Create
// for a missing topic, Read of the partition tails as run reads them, IdempotentWrite. A missing
// grant is one FAIL line with the kafka-acls command (kafka_hints.h); what cannot be decided
// without a grant run does not need, or without writing, is UNKNOWN, never FAIL.
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "agent/cli/preflight_items.h"
#include "base/error.h"
#include "base/log.h"
#include "connectors/kafka/kafka_admin.h"
#include "connectors/kafka/kafka_hints.h"
#include "connectors/kafka/kafka_permissions.h"
#include "connectors/kafka/kafka_sink.h"
#include "connectors/kafka/partition_tail.h"

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

// The grant of `operation` on `topic`, as one FAIL/UNKNOWN line's tail.
struct Grants {
  const Config& c;
  std::string principal;
  std::string topic_resource(const std::string& topic) const { return "--topic " + topic; }
  std::string denied(const std::string& op, const std::string& topic, const std::string& why) const {
    return "Kafka topic " + topic + ": " +
           kafka_permission_line(c.kafka.brokers, principal, op, "topic " + topic, why, topic_resource(topic)) +
           "; a prefixed ACL (--topic " + c.kafka.topic_prefix + ". --resource-pattern-type prefixed) covers every "
           "table's topic";
  }
  std::string grant(const std::string& op, const std::string& resource) const {
    return kafka_acl_grant(c.kafka.brokers, principal, op, resource);
  }
};

// Whether the broker will create the missing `topic` at run's first write: kafka.topic.
void judge_missing_topic(const Config& c, const KafkaFacts& facts, const std::string& topic, const Grants& g,
                         CheckList& list) {
  const std::string create =
      fmt::format("create it: kafka-topics.sh --bootstrap-server {} --create --topic {}", c.kafka.brokers, topic);
  auto broker_setting = [&](const std::string& key) -> std::optional<std::string> {
    if (!facts.broker_config) return std::nullopt;
    auto it = facts.broker_config->find(key);
    if (it == facts.broker_config->end()) return std::nullopt;
    return it->second;
  };
  if (!producer_auto_creates(c)) {
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
  } else if (facts.broker_config_denied) {
    // run does not need DescribeConfigs: it cannot fail this item.
    list.unknown("kafka.topic", topic,
                 "Kafka topic " + topic + " does not exist; whether the broker creates it at the first write "
                 "(auto.create.topics.enable) is unknown: " + g.principal + " may not DescribeConfigs on the "
                 "cluster, which run does not need; to decide it: " + g.grant("DescribeConfigs", "--cluster") +
                 ", or " + create);
  } else {
    list.unknown("kafka.topic", topic,
                 "Kafka topic " + topic + " does not exist; whether the broker creates it at the first write is "
                 "unknown (" + (facts.broker_config_error.empty() ? "auto.create.topics.enable not reported"
                                                                  : facts.broker_config_error) + "); or " + create);
  }
}

void judge_probe(const PermissionProbe& p, const char* check, const std::string& topic, const std::string& op,
                 const std::string& why, const std::string& granted, const Grants& g, CheckList& list) {
  switch (p.result) {
    case PermissionProbe::Result::kGranted:
      if (p.wrote)
        list.pass(check, topic, "Kafka topic " + topic + ": " + op + " granted, " + p.detail, true);
      else
        list.pass(check, topic, granted + (p.detail.empty() ? "" : " (" + p.detail + ")"));
      break;
    case PermissionProbe::Result::kDenied: list.fail(check, topic, g.denied(op, topic, why)); break;
    case PermissionProbe::Result::kUnknown:
      list.unknown(check, topic,
                   "Kafka topic " + topic + ": " + op + " could not be probed (" + p.detail + "); run needs it: " +
                       g.grant(op, g.topic_resource(topic)));
      break;
  }
}

// Read, as run does at start: the last record of every partition; when every partition is
// empty (nothing fetched), a fetch from the end of partition 0 proves it.
void judge_read(const KafkaSinkOptions& o, const std::string& topic, CheckList& list) {
  try {
    const size_t tails = read_partition_tails(o, topic).size();
    const int partitions = tails ? 0 : check_read_access(o, topic);
    if (!tails && partitions == 0) {  // the topic went away between the metadata and the fetch
      list.unknown("kafka.read", topic, "Kafka topic " + topic + ": Read could not be probed: it has no partition now");
      return;
    }
    list.pass("kafka.read", topic,
              tails ? fmt::format("Kafka topic {}: Read granted: read the last record of {} (as run does at start)",
                                  topic, plural(tails, "partition", "partitions"))
                    : fmt::format("Kafka topic {}: Read granted: fetched the end of partition 0 of {} (all empty)",
                                  topic, partitions));
  } catch (const Error& e) {
    list.fail("kafka.read", topic, "Kafka topic " + topic + ": " + e.what());
  }
}

// debezium-json's table-level truncate record (truncate: event, or no ledger to expand from) on a
// topic of several partitions: a JDBC sink with truncate.enabled=true empties its whole table at
// it on each partition, also after rows written after the TRUNCATE (docs/consumers.md).
void judge_truncate_record(const Config& c, const KafkaTopicFacts& t, CheckList& list) {
  if (c.format != Format::kDebeziumJson || t.partitions <= 1) return;
  std::vector<std::string> tables;
  for (const auto& table : c.source.tables)
    if (c.topic_for(table) == t.name && c.truncate_for(table) == TruncateMode::kEvent)
      tables.push_back(table.name.qualified());
  if (tables.empty()) return;
  list.pass("kafka.truncate", t.name,
            fmt::format("Kafka topic {} has {} partitions and gets debezium-json truncate records (op \"t\", "
                        "truncate: event) for {}: a JDBC sink with truncate.enabled=true loses rows written after a "
                        "TRUNCATE; keep truncate.enabled=false there, or use truncate: expand (needs the key ledger)",
                        t.name, t.partitions, fmt::join(tables, ", ")),
            true);
}

void judge_topic(const Config& c, const KafkaSinkOptions& o, const KafkaFacts& facts, const KafkaTopicFacts& t,
                 const Grants& g, CheckList& list) {
  const std::string& topic = t.name;
  if (t.denied) {
    list.fail("kafka.describe", topic,
              g.denied("Describe", topic, "run reads the topic's partitions and the last record of each"));
    return;
  }
  if (!t.exists && !t.unknown) {
    list.fail("kafka.topic", topic, fmt::format("Kafka topic {}: {}", topic, t.error));
    return;
  }
  list.pass("kafka.describe", topic, "Kafka topic " + topic + ": Describe granted (its metadata was read)");
  if (t.exists) {
    list.pass("kafka.topic", topic,
              fmt::format("Kafka topic {} exists ({})", topic,
                          plural(static_cast<size_t>(t.partitions), "partition", "partitions")));
    judge_truncate_record(c, t, list);
    judge_probe(probe_write(o, topic, 0), "kafka.write", topic, "Write", "run produces every change to it",
                "Kafka topic " + topic + ": Write granted (a produce request with acks=2 was authorized and "
                "refused before any append: nothing written)", g, list);
    judge_read(o, topic, list);
    return;
  }
  judge_missing_topic(c, facts, topic, g, list);
  if (producer_auto_creates(c))
    judge_probe(probe_create(o, topic), "kafka.create", topic, "Create",
                "run's first write has the broker create it", "Kafka topic " + topic +
                ": Create granted (CreateTopics with validate_only was accepted: nothing created)", g, list);
  // The broker's own configuration (DescribeConfigs, read for a missing topic) says whether any
  // authorizer runs: with none, nothing needs a grant. DescribeAcls cannot tell: librdkafka 2.0
  // reports its refusal (no cluster Describe) as an empty list.
  const auto authorizer = facts.broker_config ? facts.broker_config->find("authorizer.class.name")
                                              : std::map<std::string, std::string>::const_iterator();
  if (facts.broker_config && authorizer != facts.broker_config->end() && authorizer->second.empty()) {
    for (const char* op : {"Write", "Read"})
      list.pass(op == std::string("Write") ? "kafka.write" : "kafka.read", topic,
                "Kafka topic " + topic + ": " + op + " needs no grant: the broker runs no authorizer "
                "(authorizer.class.name is empty); docs/security.md lists the grants for a broker with ACLs");
    return;
  }
  list.unknown("kafka.write", topic,
               "Kafka topic " + topic + ": Write cannot be probed before the topic exists (check writes nothing); "
               "run needs it: " + g.grant("Write", g.topic_resource(topic)));
  list.unknown("kafka.read", topic,
               "Kafka topic " + topic + ": Read cannot be probed before the topic exists; run needs it at every "
               "restart (the last record of each partition): " + g.grant("Read", g.topic_resource(topic)));
}

// InitProducerId, as run's idempotent producer sends it.
void judge_idempotent(const KafkaSinkOptions& o, const Grants& g, CheckList& list) {
  const PermissionProbe p = probe_idempotent_producer(o);
  if (p.result == PermissionProbe::Result::kGranted) {
    list.pass("kafka.idempotent_write", "", "Kafka: the idempotent producer got a producer id (InitProducerId)");
  } else if (p.result == PermissionProbe::Result::kDenied) {
    list.fail("kafka.idempotent_write", "",
              "Kafka: " + kafka_permission_line(g.c.kafka.brokers, g.principal, "IdempotentWrite", "the cluster",
                                                "run's idempotent producer needs a producer id: " + p.detail +
                                                    "; Kafka 3.x also accepts Write on any topic",
                                                "--cluster"));
  } else {
    list.unknown("kafka.idempotent_write", "",
                 "Kafka: the idempotent producer got no producer id (" + p.detail + "); run needs one: " +
                     g.grant("IdempotentWrite", "--cluster") + ", or Write on its topics (Kafka 3.x)");
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
    list.skip("kafka.idempotent_write", "", "Kafka producer id (IdempotentWrite)", why);
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
    list.skip("kafka.idempotent_write", "", "Kafka producer id (IdempotentWrite)",
              client ? "no Kafka client" : "the topic list could not be read");
    return;
  }
  list.pass("kafka.reachable", "",
            fmt::format("Kafka reachable at {} ({})", c.kafka.brokers,
                        plural(static_cast<size_t>(facts.brokers), "broker", "brokers")));
  const Grants grants{c, kafka_principal(c.kafka.properties)};
  for (const auto& t : facts.topics) judge_topic(c, o, facts, t, grants, list);
  judge_idempotent(o, grants, list);
}

}  // namespace tombsync::preflight
