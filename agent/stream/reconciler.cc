#include "agent/stream/reconciler.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "agent/ops/job_progress.h"
#include "agent/stream/ledger_view.h"
#include "base/hex.h"
#include "base/log.h"
#include "schemas/ledger_delete.h"
#include "schemas/utf8.h"

namespace tombsync {
namespace {

using Clock = std::chrono::steady_clock;

int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A key as an operator reads it: the JSON key as is, another format's bytes in hex.
std::string key_text(const std::string& key) {
  const bool printable = is_valid_utf8(key) && std::none_of(key.begin(), key.end(), [](char c) {
                           return static_cast<unsigned char>(c) < 0x20;
                         });
  if (printable) return key.size() <= 200 ? key : key.substr(0, 200) + "...";
  return "0x" + to_hex(std::string_view(key).substr(0, 100));
}

// One sweep's counts, log lines, gauges and job progress.
class SweepProgress {
 public:
  SweepProgress(const ReconcileSweep& due, uint64_t estimate, Metrics::Table* metrics, std::string state_dir)
      : due_(due), table_(due.table->qualified()), estimate_(estimate), metrics_(metrics),
        state_dir_(std::move(state_dir)) {
    log::info("reconcile of {}{}: the re-read found {} rows; sweeping about {} keys of the key ledger for those "
              "neither the re-read nor the stream showed live (mark {}), at LSN {}",
              table_, due_.dry_run ? " (dry run)" : "", due_.rows_read, estimate_, due_.mark, due_.at.lsn.str());
    if (metrics_) metrics_->reconcile_phase.store(2, std::memory_order_relaxed);
    publish("sweeping");
  }
  void on_key(const std::string& key, bool unmarked) {
    ++checked_;
    if (unmarked) {
      ++inferred_;
      if (sample_.size() < JobProgress::kSampleKeys) sample_.push_back(key_text(key));
      if (metrics_ && !due_.dry_run) metrics_->reconcile_inferred.fetch_add(1, std::memory_order_relaxed);
    }
    if ((checked_ & 1023) != 0) return;
    const auto now = Clock::now();
    if (now < next_log_) return;
    next_log_ = now + std::chrono::seconds(5);
    const double rate = static_cast<double>(checked_) / seconds();
    const uint64_t left = estimate_ > checked_ ? estimate_ - checked_ : 0;
    log::info("reconcile of {}: {} of ~{} keys checked, {} inferred deletes so far ({:.0f} keys/s, ETA {:.0f} s)",
              table_, checked_, estimate_, inferred_, rate, rate > 0 ? static_cast<double>(left) / rate : 0.0);
    publish("sweeping");
  }
  void finish(bool complete) {
    if (metrics_) metrics_->reconcile_phase.store(0, std::memory_order_relaxed);
    publish(complete ? "swept" : "sweeping");  // running until saved (or swept again after the restart)
    if (!complete) {
      log::warn("reconcile of {}: sweep stopped after {} of ~{} keys (forced stop); the restart re-reads the last "
                "chunk and sweeps again", table_, checked_, estimate_);
      return;
    }
    const std::string sample = sample_.empty() ? "" : "; sample: " + fmt::format("{}", fmt::join(sample_, " "));
    if (due_.dry_run)
      log::info("reconcile of {} (dry run) done: {} keys to delete (of {} in the key ledger), {} rows read, in {:.1f} s; "
                "nothing was published{}", table_, inferred_, checked_, due_.rows_read, due_.read_seconds + seconds(),
                sample);
    else
      log::info("reconcile of {} done: {} inferred deletes (of {} keys in the key ledger), {} rows read, in {:.1f} s{}",
                table_, inferred_, checked_, due_.rows_read, due_.read_seconds + seconds(), sample);
  }
  uint64_t inferred() const { return inferred_; }
  uint64_t checked() const { return checked_; }

 private:
  double seconds() const { return std::max(1e-3, std::chrono::duration<double>(Clock::now() - start_).count()); }
  // Always running: the Snapshotter ends the job once the re-read's final progress is saved.
  void publish(const char* phase) {
    JobProgress p{.job = "reconcile", .table = table_, .lsn = due_.at.lsn.str(), .running = true};
    p.done = due_.rows_read;
    p.total = due_.rows_read;
    p.elapsed_s = due_.read_seconds + seconds();
    p.rate = static_cast<double>(checked_) / seconds();
    const uint64_t left = estimate_ > checked_ ? estimate_ - checked_ : 0;
    p.eta_s = p.rate > 0 ? static_cast<int64_t>(static_cast<double>(left) / p.rate) : 0;
    p.updated_unix_ms = unix_ms();
    // "swept": the deletes are handed over; the Snapshotter writes "done" once they are
    // acknowledged and saved with the re-read's final progress (a crash before re-sweeps).
    p.phase = phase;
    p.dry_run = due_.dry_run;
    p.inferred = inferred_;
    p.sample = sample_;
    p.request_id = due_.request_id;
    write_job_progress(state_dir_, p);
  }

  const ReconcileSweep& due_;
  std::string table_;
  uint64_t estimate_;
  Metrics::Table* metrics_;
  std::string state_dir_;
  uint64_t checked_ = 0, inferred_ = 0;
  std::vector<std::string> sample_;
  Clock::time_point start_ = Clock::now();
  Clock::time_point next_log_ = start_ + std::chrono::seconds(5);
};

}  // namespace

Reconciler::Reconciler(const Config& config, CursorStore& store, std::string slot, LedgerRecorder& ledger,
                       const Encoder& encoder, Metrics& metrics)
    : config_(config), store_(store), slot_(std::move(slot)), ledger_(ledger), encoder_(encoder), metrics_(metrics) {}

uint64_t Reconciler::sweep(const ReconcileSweep& due, const std::function<bool(const ChangeEvent&)>& emit,
                           const std::function<void()>& tick) {
  const std::string name = due.table->qualified();
  if (!ledger_.table_id(*due.table)) {  // the Snapshotter ends such a reconciliation before its re-read
    log::warn("reconcile of {}: not swept, the table keeps no key ledger", name);
    return 0;
  }
  LedgerView keys(store_, slot_, name, ledger_.pending_of(*due.table));
  SweepProgress progress(due, keys.estimate(), metrics_.table(name), config_.state_dir);
  // One deletion time for the whole sweep: when it found them.
  const UnixMicros found_at{std::chrono::duration_cast<std::chrono::microseconds>(
                                std::chrono::system_clock::now().time_since_epoch()).count()};
  std::string key;
  uint32_t mark = 0;
  while (keys.next(key, mark)) {
    const bool unmarked = mark != due.mark;
    if (unmarked && !due.dry_run) {
      const ChangeEvent del = ledger_delete(encoder_, due.table, key, due.at, found_at, DeleteOrigin::kInferred);
      if (!emit(del)) {
        progress.finish(false);
        return progress.inferred();
      }
    }
    progress.on_key(key, unmarked);
    if ((progress.checked() % 1000) == 0) tick();
  }
  ledger_.set_mark(name, 0);
  progress.finish(true);
  return progress.inferred();
}

}  // namespace tombsync
