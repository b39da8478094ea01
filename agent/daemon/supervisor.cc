#include "agent/daemon/supervisor.h"

#include <algorithm>
#include <thread>

#include "base/error.h"
#include "base/log.h"
#include "agent/stream/pipeline.h"

namespace tombsync {
namespace {
int64_t unix_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

std::chrono::milliseconds Backoff::next() {
  ++attempt_;
  const int shift = std::min(attempt_ - 1, 30);
  const int64_t base = std::min<int64_t>(max_ms_, int64_t{initial_ms_} << shift);
  std::uniform_int_distribution<int64_t> jitter(base / 2, base);
  return std::chrono::milliseconds(std::max<int64_t>(1, jitter(rng_)));
}

void supervise(const Config& config, StopSignal& stop, Metrics& metrics) {
  Backoff backoff(config.reconnect.initial_backoff_ms, config.reconnect.max_backoff_ms, std::random_device{}());
  bool ever_streamed = false;
  while (true) {
    Session session{metrics};
    try {
      run_pipeline(config, stop, session);
      return;
    } catch (const Error& e) {
      metrics.count_error(e);
      ever_streamed = ever_streamed || session.streamed;
      // The back-off starts over only after a session that held for a while: one that fails
      // right after it starts (a walsender killed in a loop) must not reconnect in a tight loop.
      const auto held = std::chrono::steady_clock::now() - session.streaming_since;
      if (session.streamed &&
          held >= std::max<std::chrono::milliseconds>(std::chrono::seconds(30),
                                                      std::chrono::milliseconds(config.reconnect.max_backoff_ms)))
        backoff.reset();
      // A start that fails before ever streaming is a configuration or reachability problem
      // the operator must see at once; only a running agent rides out an outage.
      if (!e.transient() || !ever_streamed) throw;
      if (stop.flag().load()) {
        // Stopped during an outage: what was acknowledged is saved; the next start resumes there.
        log::info("stopping: a stop was requested while the connection was lost ({})", e.what());
        return;
      }
      if (config.reconnect.max_attempts > 0 && backoff.attempt() >= config.reconnect.max_attempts) {
        log::error("giving up after {} reconnection attempts (reconnect.max_attempts)", backoff.attempt());
        throw;
      }
      const auto wait = backoff.next();
      metrics.alive_unix_ms.store(unix_now_ms());
      log::warn("{} connection lost: {}; reconnecting in {:.1f} s (attempt {}{})", to_string(e.kind()), e.what(),
                static_cast<double>(wait.count()) / 1000.0, backoff.attempt(),
                config.reconnect.max_attempts > 0 ? " of " + std::to_string(config.reconnect.max_attempts) : "");
      const auto until = std::chrono::steady_clock::now() + wait;
      while (std::chrono::steady_clock::now() < until && !stop.flag().load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        metrics.alive_unix_ms.store(unix_now_ms());  // waiting on purpose is alive
      }
      if (stop.flag().load()) {
        log::info("stopping: a stop was requested while waiting to reconnect");
        return;
      }
      metrics.reconnects.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

}  // namespace tombsync
