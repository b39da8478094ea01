// Whether a table's topic is compacted, for the TRUNCATE expansion
// (docs/deletes.md): Kafka refuses a record without a key on a topic whose
// cleanup.policy holds "compact", so the keyless truncate event cannot go to
// such a topic; the per-key deletes that follow it can. Asked at a table's
// first expanded TRUNCATE of a session, not at start (a TRUNCATE is rare; the
// answer is kept for the session). Pipeline thread only; may block for the
// Kafka client's connect timeout.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "connectors/kafka/kafka_sink.h"

namespace tombsync {

class TopicCleanup {
 public:
  virtual ~TopicCleanup() = default;
  // True when `topic` is compacted (or will be, when auto-created); nullopt when Kafka does not
  // say, with `why` set.
  virtual std::optional<bool> compacted(const std::string& topic, std::string& why) = 0;
};

// Asks Kafka (connectors/kafka/kafka_admin.h topic_cleanup_policy) with the sink's options, once
// per topic: an answer is kept; a failure is asked again at the next TRUNCATE.
std::unique_ptr<TopicCleanup> kafka_topic_cleanup(KafkaSinkOptions options);

}  // namespace tombsync
