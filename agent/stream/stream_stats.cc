#include "agent/stream/stream_stats.h"

#include <fmt/format.h>

#include <chrono>

namespace tombsync {
namespace {
int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

void StreamStats::count(const ChangeEvent& e, const std::vector<Record>& out) {
  switch (e.op) {
    case Op::kInsert: ++inserts; break;
    case Op::kUpdate: ++updates; break;
    case Op::kDelete: ++deletes; break;
    case Op::kTruncate: ++truncates; break;
    case Op::kRead: ++reads; break;
  }
  for (const auto& r : out)
    if (!r.value) ++tombstones;
  records += out.size();
  ++window_events;
}

std::string StreamStats::report(Lsn confirmed, Lsn server_end, size_t in_flight) {
  int64_t now = now_us();
  double secs = window_start_us ? static_cast<double>(now - window_start_us) / 1e6 : 10.0;
  if (secs <= 0) secs = 1;
  auto lag = server_end > confirmed ? server_end.value() - confirmed.value() : 0;
  auto line = fmt::format("streamed {} events in {:.1f} s ({:.0f}/s); total {}; confirmed {}, lag {} bytes, "
                          "in flight {}",
                          window_events, secs, static_cast<double>(window_events) / secs, totals(),
                          confirmed.str(), lag, in_flight);
  window_events = 0;
  window_start_us = now;
  return line;
}

std::string StreamStats::totals() const {
  return fmt::format("ins {} upd {} del {} trunc {} snapshot rows {} tombstones {} records {}", inserts, updates,
                     deletes, truncates, reads, tombstones, records);
}

}  // namespace tombsync
