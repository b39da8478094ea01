#include "agent/stream/truncate_expander.h"

#include <algorithm>
#include <chrono>
#include <optional>

#include "agent/ops/job_progress.h"
#include "agent/stream/ledger_view.h"
#include "base/log.h"
#include "schemas/ledger_delete.h"

namespace tombsync {
namespace {

using Clock = std::chrono::steady_clock;

// Progress of one expansion: the log lines and the gauges.
class Progress {
 public:
  Progress(const ChangeEvent& truncate, uint64_t estimate, Metrics::Table* metrics, std::string state_dir)
      : table_(truncate.table->qualified()),
        lsn_(truncate.source.lsn.str()),
        estimate_(estimate),
        metrics_(metrics),
        state_dir_(std::move(state_dir)) {
    log::info("TRUNCATE of {} at LSN {}: deleting about {} keys the key ledger holds (one delete per key, marked "
              "truncate; the count is exact at the end)", table_, lsn_, estimate_);
    set_remaining();
    publish(true);
  }
  void on_delete() {
    ++done_;
    if (metrics_) metrics_->truncate_deletes.fetch_add(1, std::memory_order_relaxed);
    if ((done_ & 1023) != 0) return;
    set_remaining();
    const auto now = Clock::now();
    if (now < next_log_) return;
    next_log_ = now + std::chrono::seconds(5);
    const double rate = static_cast<double>(done_) / seconds();
    const uint64_t left = estimate_ > done_ ? estimate_ - done_ : 0;
    log::info("TRUNCATE of {} at LSN {}: {} of ~{} keys deleted ({:.0f} keys/s, ETA {:.0f} s)", table_, lsn_, done_,
              estimate_, rate, rate > 0 ? static_cast<double>(left) / rate : 0.0);
    publish(true);
  }
  void finish(bool complete) {
    if (metrics_) metrics_->truncate_remaining.store(0, std::memory_order_relaxed);
    publish(!complete);
    if (complete)
      log::info("TRUNCATE of {} at LSN {}: done: {} deletes in {:.1f} s; the key ledger of {} is empty", table_, lsn_,
                done_, seconds(), table_);
    else
      log::warn("TRUNCATE of {} at LSN {}: stopped after {} deletes (forced stop); the restart expands it again",
                table_, lsn_, done_);
  }
  uint64_t done() const { return done_; }

 private:
  double seconds() const {
    return std::max(1e-3, std::chrono::duration<double>(Clock::now() - start_).count());
  }
  // For `tombsync status` (agent/ops/job_progress.h).
  void publish(bool running) {
    JobProgress p{.job = "truncate", .table = table_, .lsn = lsn_, .running = running, .done = done_};
    p.total = running ? std::max(estimate_, done_) : done_;
    p.elapsed_s = seconds();
    p.rate = static_cast<double>(done_) / p.elapsed_s;
    p.eta_s = p.rate > 0 ? static_cast<int64_t>(static_cast<double>(p.total - done_) / p.rate) : 0;
    p.updated_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count();
    write_job_progress(state_dir_, p);
  }
  void set_remaining() {
    if (metrics_)
      metrics_->truncate_remaining.store(static_cast<int64_t>(estimate_ > done_ ? estimate_ - done_ : 0),
                                         std::memory_order_relaxed);
  }

  std::string table_, lsn_;
  uint64_t estimate_;
  Metrics::Table* metrics_;
  std::string state_dir_;
  uint64_t done_ = 0;
  Clock::time_point start_ = Clock::now();
  Clock::time_point next_log_ = start_ + std::chrono::seconds(5);
};

}  // namespace

TruncateExpander::TruncateExpander(const Config& config, CursorStore& store, std::string slot, LedgerRecorder& ledger,
                                   const Encoder& encoder, TopicCleanup& cleanup, Metrics& metrics)
    : config_(config),
      store_(store),
      slot_(std::move(slot)),
      ledger_(ledger),
      encoder_(encoder),
      cleanup_(cleanup),
      metrics_(metrics) {}

bool TruncateExpander::expands(const TableSchema& table) {
  const TableConfig* tc = config_.find_table(table.schema, table.table);
  return tc != nullptr && config_.truncate_for(*tc) == TruncateMode::kExpand && ledger_.table_id(table).has_value();
}

uint64_t TruncateExpander::expand(const ChangeEvent& truncate, const std::function<bool(const ChangeEvent&)>& emit,
                                  const std::function<void()>& tick) {
  const std::string name = truncate.table->qualified();
  LedgerView keys(store_, slot_, name, ledger_.pending_of(*truncate.table));
  Progress progress(truncate, keys.estimate(), metrics_.table(name), config_.state_dir);
  std::string key;
  uint32_t mark = 0;
  while (keys.next(key, mark)) {
    const ChangeEvent del = ledger_delete(encoder_, truncate.table, key, truncate.source, truncate.source.commit_ts_us,
                                          DeleteOrigin::kTruncate);
    if (!emit(del)) {
      progress.finish(false);
      return progress.done();
    }
    progress.on_delete();
    if ((progress.done() % 1000) == 0) tick();
  }
  ledger_.on_clear(*truncate.table);
  progress.finish(true);
  return progress.done();
}

// Kafka refuses a record without a key on a compacted topic (the whole session would stop), so the
// truncate event goes only where cleanup.policy has no "compact"; the per-key deletes carry the
// TRUNCATE there (header tombsync.truncate). When Kafka does not say, the event is left out too.
// debezium-json never has it when expanded (docs/formats.md "Truncate"): its readers are JDBC-style
// sinks, and one with truncate.enabled=true empties its whole table at the record on each partition,
// also after it applied rows other partitions hold from after the TRUNCATE; the deletes are exact.
bool TruncateExpander::event_fits(const ChangeEvent& e) {
  const TableConfig* tc = config_.find_table(e.table->schema, e.table->table);
  if (tc == nullptr) return true;
  const std::string topic = config_.topic_for(*tc);
  if (auto it = fits_.find(topic); it != fits_.end()) return it->second;
  if (config_.format == Format::kDebeziumJson) {
    log::info("TRUNCATE of {}: format debezium-json: the table-level truncate record (op \"t\") is left out of topic "
              "{}, the per-key deletes that follow carry the TRUNCATE (header tombsync.truncate), so a sink with "
              "truncate.enabled=true cannot empty rows written after it",
              e.table->qualified(), topic);
    fits_.emplace(topic, false);
    return false;
  }
  std::string why;
  const std::optional<bool> compacted = cleanup_.compacted(topic, why);
  if (!compacted) {
    log::warn("TRUNCATE of {}: could not read the cleanup.policy of topic {} ({}); the keyless truncate event is "
              "left out (a compacted topic refuses it), the per-key deletes mark the TRUNCATE (header "
              "tombsync.truncate); grant DescribeConfigs on the topic to have it",
              e.table->qualified(), topic, why);
    return false;  // asked again at the next TRUNCATE
  }
  if (*compacted)
    log::info("TRUNCATE of {}: topic {} is compacted (cleanup.policy has compact), which refuses records without a "
              "key: the truncate event is left out, the per-key deletes mark the TRUNCATE (header tombsync.truncate)",
              e.table->qualified(), topic);
  fits_.emplace(topic, !*compacted);
  return !*compacted;
}

}  // namespace tombsync
