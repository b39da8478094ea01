#include "agent/stream/stream_gauges.h"

#include "base/log.h"

namespace tombsync {
namespace {

int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void StreamGauges::publish_snapshot(const std::vector<SnapshotTableStatus>& tables) {
  for (const auto& st : tables) {
    Metrics::Table* t = metrics_.table(st.table);
    if (t == nullptr) continue;
    t->snapshot_rows_estimated.store(static_cast<int64_t>(st.rows_estimated_total), std::memory_order_relaxed);
    t->snapshot_state.store(st.done ? 2 : 1, std::memory_order_relaxed);
    if (st.reconciling) t->reconcile_phase.store(1, std::memory_order_relaxed);  // the sweep sets 2, then 0
  }
}

void StreamGauges::on_events() { metrics_.last_event_unix_ms.store(now_unix_ms(), std::memory_order_relaxed); }

void StreamGauges::publish(size_t in_flight, Lsn server_end, Lsn confirmed) {
  constexpr auto kRelaxed = std::memory_order_relaxed;
  const auto now = Clock::now();
  if (delivered_ || in_flight == 0) kafka_progress_ = now;
  delivered_ = false;
  metrics_.queue_depth.store(static_cast<int64_t>(in_flight), kRelaxed);
  metrics_.oldest_unacked_ms.store(
      std::chrono::duration_cast<std::chrono::milliseconds>(now - kafka_progress_).count(), kRelaxed);
  metrics_.server_lsn.store(static_cast<int64_t>(server_end.value()), kRelaxed);
  metrics_.confirmed_lsn.store(static_cast<int64_t>(confirmed.value()), kRelaxed);
  metrics_.alive_unix_ms.store(now_unix_ms(), kRelaxed);
  const int64_t lag = metrics_.lag_bytes();
  if (!lag_alarm_ && lag > max_lag_bytes_) {
    lag_alarm_ = true;
    log::warn("slot {} lag {} bytes is above health.max_lag_bytes {} (confirmed {}, server at {}, {} messages "
              "waiting for Kafka); Postgres keeps that WAL until tombsync catches up",
              slot_, lag, max_lag_bytes_, confirmed.str(), server_end.str(), in_flight);
  } else if (lag_alarm_ && lag <= max_lag_bytes_ / 2) {
    lag_alarm_ = false;  // hysteresis: no flapping around the threshold
    log::info("slot {} lag back to {} bytes (confirmed {})", slot_, lag, confirmed.str());
  }
}

}  // namespace tombsync
