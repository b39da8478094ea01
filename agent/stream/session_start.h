// The start of one streaming session, after the source is prepared and Kafka
// answered: the slot is claimed (agent/source/source_setup.h: identity, cursor,
// slot, start position) and, when an earlier session may have written records
// it never confirmed, the last record of every partition of every table topic
// is read, so the RedeliveryFilter keeps those from being written again.
// Pipeline thread only.
#pragma once

#include <string>

#include "agent/config/config.h"
#include "agent/source/source_setup.h"
#include "agent/stream/redelivery_filter.h"
#include "connectors/kafka/kafka_sink.h"
#include "connectors/postgres/replication_stream.h"
#include "state/cursor_store.h"

namespace tombsync {

struct SessionStart {
  SlotClaim claim;
  std::string record_source;  // "<system id>/<database>/<slot>": header tombsync.source
  RedeliveryFilter redelivered;
};

SessionStart start_session(const Config& config, const PreparedSource& source, CursorStore& store,
                           pg::ReplicationStream& stream);

// The producer's options from the config; librdkafka's own log lines go to the operator log.
KafkaSinkOptions kafka_sink_options(const Config& config);

}  // namespace tombsync
