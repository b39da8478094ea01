#include "agent/ops/heartbeat.h"

#include <chrono>
#include <memory>

#include "base/error.h"
#include "base/log.h"

namespace tombsync {

Heartbeat::Heartbeat(const Config& config, Metrics& metrics) : config_(config), metrics_(metrics) {
  if (config.heartbeat.interval_ms > 0)
    worker_ = std::make_unique<PeriodicWorker>(std::chrono::milliseconds(config.heartbeat.interval_ms),
                                               [this] { beat(); });
}

void Heartbeat::beat() {
  try {
    if (!conn_) conn_ = std::make_unique<pg::PgConnection>(config_.source.dsn, pg::PgConnection::Mode::kSql);
    conn_->exec("SELECT pg_logical_emit_message(false, 'tombsync_heartbeat', '')", "heartbeat");
    metrics_.heartbeats.fetch_add(1, std::memory_order_relaxed);
  } catch (const Error& e) {
    conn_.reset();
    log::warn("heartbeat failed, retrying in {} ms: {}", config_.heartbeat.interval_ms, e.what());
  }
}

}  // namespace tombsync
