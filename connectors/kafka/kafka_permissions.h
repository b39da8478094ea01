// Probes of the Kafka permissions `tombsync run` needs, each one writing nothing, for
// `tombsync check` (agent/cli/preflight_kafka.cc), which judges the outcomes. Verified against
// Kafka 3.9 with the StandardAuthorizer (docs/security.md, "What check proves"):
//  - Write: one produce request with acks=2 from a non-idempotent producer. The broker checks
//    WRITE per partition before anything else (TOPIC_AUTHORIZATION_FAILED); an authorized request
//    then fails with INVALID_REQUIRED_ACKS in the replica manager, before any append, so the end
//    offset does not move.
//  - Create, for a topic that does not exist yet (run has it auto-created by its metadata
//    request, which the broker authorizes as CREATE on the topic or the cluster): CreateTopics
//    with validate_only, which authorizes the same way and creates nothing.
//  - IdempotentWrite: the idempotent producer's InitProducerId (Kafka 3.x grants it for cluster
//    IdempotentWrite, or Write on any topic), exactly as run's producer sends it; it writes nothing.
// Blocking, each bounded by options.connect_timeout_ms. Never throws for Kafka's answers.
#pragma once

#include <cstdint>
#include <string>

#include "connectors/kafka/kafka_sink.h"

namespace tombsync {

struct PermissionProbe {
  enum class Result { kGranted, kDenied, kUnknown };
  Result result = Result::kUnknown;
  // librdkafka's or the broker's reason when not granted ("Broker: Topic authorization failed",
  // "timed out"); for a granted Write, a note when the broker appended the probe (it should not).
  std::string detail;
  bool wrote = false;  // the probe was appended (a broker that is not Apache Kafka): `detail` says so
};

// Write on `topic` [partition] (an existing partition).
PermissionProbe probe_write(const KafkaSinkOptions& options, const std::string& topic, int32_t partition);
// Create on `topic` (one that does not exist), with the broker's default partitions and replicas.
PermissionProbe probe_create(const KafkaSinkOptions& options, const std::string& topic);
// InitProducerId of the idempotent producer run builds.
PermissionProbe probe_idempotent_producer(const KafkaSinkOptions& options);

}  // namespace tombsync
