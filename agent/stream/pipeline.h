// Wires the Postgres source to the Kafka sink for one replication slot:
// pre-flight, publication and slot setup, then the streaming loop
//   read frame -> decode -> build events -> encode -> produce
// with delivery reports feeding the AckTracker, and the acknowledged position
// persisted to RocksDB (synced) before it is confirmed to Postgres.
// Everything runs on the calling thread; librdkafka's callbacks run inside
// its poll, on this thread too. Back-pressure: a full producer queue blocks
// send(), so the replication socket is not read and Postgres keeps the WAL.
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
