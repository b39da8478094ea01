#include "agent/stream/stream_report.h"

#include <fmt/format.h>

namespace tombsync {

StreamReport::StreamReport(const Metrics& metrics)
    : metrics_(metrics), window_start_events_(metrics.totals().events()), window_start_(std::chrono::steady_clock::now()) {}

std::string StreamReport::line(Lsn confirmed, Lsn server_end, size_t in_flight) {
  const auto now = std::chrono::steady_clock::now();
  double secs = std::chrono::duration<double>(now - window_start_).count();
  if (secs <= 0) secs = 1;
  const uint64_t events = metrics_.totals().events();
  const uint64_t window = events - window_start_events_;
  const uint64_t lag = server_end > confirmed ? server_end.value() - confirmed.value() : 0;
  auto text = fmt::format("streamed {} events in {:.1f} s ({:.0f}/s); total {}; confirmed {}, lag {} bytes, "
                          "in flight {}",
                          window, secs, static_cast<double>(window) / secs, totals(), confirmed.str(), lag, in_flight);
  window_start_events_ = events;
  window_start_ = now;
  return text;
}

std::string StreamReport::totals() const {
  const Metrics::Totals t = metrics_.totals();
  auto op = [&](Op o) { return t.by_op[static_cast<size_t>(o)]; };
  return fmt::format("ins {} upd {} del {} trunc {} snapshot rows {} delete events {} tombstones {} records {} "
                     "already in kafka {}",
                     op(Op::kInsert), op(Op::kUpdate), op(Op::kDelete), op(Op::kTruncate), op(Op::kRead), t.deletes,
                     t.tombstones, t.records, t.redelivered);
}

}  // namespace tombsync
