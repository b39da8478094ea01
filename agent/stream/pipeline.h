// One streaming session for one replication slot, wired from its parts:
//   prepare_source (agent/source)  -> KafkaSink reachable -> start_session
//   (slot claim, redelivery filter) -> START_REPLICATION -> StreamLoop
// (docs/architecture.md draws the parts and threads). run_pipeline runs on
// the calling thread (the pipeline thread); the heartbeat and the Kafka
// prober run on threads of their own, the snapshot readers too, and
// librdkafka's callbacks run inside its poll on the pipeline thread.
// Back-pressure: a full producer queue blocks send(), so the replication
// socket is not read and Postgres keeps the WAL.
#pragma once

#include <chrono>

#include "agent/config/config.h"
#include "agent/ops/metrics.h"
#include "base/stop_signal.h"

namespace tombsync {

// Runs until `stop` is requested (then finishes the transaction in hand,
// drains the producer, confirms what Kafka acknowledged and returns) or a
// fatal error (thrown as tombsync::Error). If the stop is interrupted (Kafka
// unreachable past the grace period), it returns without finishing: what was
// not acknowledged is not confirmed, and is sent again after the restart.
// A lost connection is thrown as a transient Error after what Kafka acknowledged
// has been saved; `session.streamed` says whether this session got as far as
// streaming (the supervisor reconnects only then, so a bad start still exits).
struct Session {
  Metrics& metrics;
  bool streamed = false;
  std::chrono::steady_clock::time_point streaming_since;  // when `streamed` became true
};
void run_pipeline(const Config& config, StopSignal& stop, Session& session);

}  // namespace tombsync
