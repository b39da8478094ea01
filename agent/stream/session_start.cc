#include "agent/stream/session_start.h"

#include "agent/config/secret_files.h"
#include "base/log.h"
#include "connectors/kafka/partition_tail.h"

namespace tombsync {
namespace {

// Reads the last record of every partition of every table topic.
RedeliveryFilter load_redelivery_filter(const Config& config, Lsn start, const std::string& source) {
  RedeliveryFilter filter;
  for (const auto& table : config.source.tables) {
    auto topic = config.topic_for(table);
    for (const auto& tail : read_partition_tails(kafka_sink_options(config), topic)) {
      auto pos = position_from_headers(tail.headers, source);
      // Tails from before the cursor belong to transactions that are skipped anyway.
      if (pos && pos->commit_lsn >= start) filter.add_tail(topic, tail.partition, *pos);
    }
  }
  return filter;
}

}  // namespace

KafkaSinkOptions kafka_sink_options(const Config& config) {
  KafkaSinkOptions o;
  o.brokers = config.kafka.brokers;
  // kafka.property_files read again: a client created after a rotation uses the new secret.
  o.properties = current_kafka_properties(config.kafka);
  o.connect_timeout_ms = config.kafka.connect_timeout_ms;
  // librdkafka's errors reach the agent through the sink's error path; its own lines are detail.
  o.log = [](int level, const std::string& facility, const std::string& message) {
    if (level <= 4) log::warn("librdkafka {}: {}", facility, message);
    else log::debug("librdkafka {}: {}", facility, message);
  };
  return o;
}

SessionStart start_session(const Config& config, const PreparedSource& source, CursorStore& store,
                           pg::ReplicationStream& stream) {
  // A store that never held this slot's state (a fresh state_dir) starts a history of its own.
  const bool fresh = !store.load_source_identity(config.source.slot) && !store.load_confirmed(config.source.slot);
  SessionStart s{claim_slot(config, source, store, stream), "", {}};
  if (fresh) store.start_incarnation(config.source.slot);
  s.record_source = s.claim.identity + "/" + config.source.slot;
  // A slot started over (after a loss with on_slot_loss: reconcile, a drop-slot, or in a fresh
  // state_dir) may stream positions that records of the earlier history hold already (after a
  // restore, the server's LSNs go back): its records name the incarnation, so the
  // RedeliveryFilter never takes the old ones for its own. A state_dir from before incarnations
  // existed keeps 0 (no suffix) until its slot is started over.
  if (const uint32_t n = store.slot_incarnation(config.source.slot); n > 0) s.record_source += "@" + std::to_string(n);
  // Also without a cursor when the slot existed: a first session that died before anything was
  // acknowledged may have written part of a transaction.
  if (s.claim.cursor || s.claim.slot_existed) {
    s.redelivered = load_redelivery_filter(config, s.claim.start, s.record_source);
    if (s.redelivered.active())
      log::info("restart after {}: {} partitions hold records past the cursor; those records will not be "
                "written again",
                s.claim.start.str(), s.redelivered.tails());
  }
  return s;
}

}  // namespace tombsync
