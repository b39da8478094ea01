#include "agent/ops/heartbeat.h"

#include <chrono>
#include <memory>

#include "base/error.h"
#include "base/log.h"
#include "connectors/postgres/pg_connection.h"

namespace tombsync {

Heartbeat::Heartbeat(const Config& config, Metrics& metrics) : config_(config), metrics_(metrics) {
  if (config.heartbeat.interval_ms > 0) thread_ = std::thread([this] { run(); });
}

Heartbeat::~Heartbeat() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Heartbeat::run() {
  const auto every = std::chrono::milliseconds(config_.heartbeat.interval_ms);
  std::unique_ptr<pg::PgConnection> conn;
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, every, [this] { return stop_; })) {
    lock.unlock();
    try {
      if (!conn) conn = std::make_unique<pg::PgConnection>(config_.source.dsn, pg::PgConnection::Mode::kSql);
      conn->exec("SELECT pg_logical_emit_message(false, 'tombsync_heartbeat', '')", "heartbeat");
      metrics_.heartbeats.fetch_add(1, std::memory_order_relaxed);
    } catch (const Error& e) {
      conn.reset();
      log::warn("heartbeat failed, retrying in {} ms: {}", config_.heartbeat.interval_ms, e.what());
    }
    lock.lock();
  }
}

}  // namespace tombsync
