// heartbeat.interval: writes a non-transactional logical message
// (pg_logical_emit_message(false, 'tombsync_heartbeat', '')) at that interval,
// so the walsender has WAL of this database to send and the slot's position
// follows the server even when the published tables are idle. It runs on its
// own thread and connection: a slow connect (DNS, a server that does not
// answer) must not stall the pipeline thread, which answers the walsender. A
// failure is logged and retried at the next interval, never fatal: the
// replication connection is the one whose loss matters.
#pragma once

#include <memory>

#include "agent/config/config.h"
#include "agent/ops/metrics.h"
#include "agent/ops/periodic_worker.h"
#include "connectors/postgres/pg_connection.h"

namespace tombsync {

class Heartbeat {
 public:
  Heartbeat(const Config& config, Metrics& metrics);
  ~Heartbeat() = default;  // waits for a write in progress (bounded by the connection's timeouts)
  Heartbeat(const Heartbeat&) = delete;
  Heartbeat& operator=(const Heartbeat&) = delete;

 private:
  void beat();  // on the worker's thread

  const Config& config_;
  Metrics& metrics_;
  std::unique_ptr<pg::PgConnection> conn_;  // the worker's; reopened after a failure
  std::unique_ptr<PeriodicWorker> worker_;  // last: stopped before the members above go
};

}  // namespace tombsync
