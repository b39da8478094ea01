// What /metrics exports (Prometheus text format 0.0.4) and /readyz decides
// from. The pipeline thread writes, the HTTP thread reads: every value is an
// atomic, and the per-table map is built once from the config and never
// changes, so a lookup needs no lock. Counters survive reconnects (the object
// belongs to the process, not to one streaming session).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "schemas/change.h"
#include "agent/config/config.h"
#include "base/error.h"
#include "schemas/record.h"

namespace tombsync {

class Metrics {
 public:
  struct Table {
    std::array<std::atomic<uint64_t>, 5> events{};  // by Op: insert, update, delete, truncate, read
    std::atomic<uint64_t> deletes{0};                // delete events: hard, and soft (is_deleted = true)
    std::atomic<uint64_t> tombstones{0};
    std::atomic<uint64_t> records{0};
    std::atomic<uint64_t> redelivered{0};            // records a restart found in Kafka, not written again
    // Column values cut to fit message.max.bytes, by action: truncate_column, skip_column.
    std::array<std::atomic<uint64_t>, 2> oversized_columns{};
    std::atomic<uint64_t> bytes{0};                  // key + value bytes handed to Kafka
    std::atomic<uint64_t> snapshot_rows{0};          // rows read by snapshots (this process)
    std::atomic<int64_t> snapshot_rows_estimated{0};  // the planner's estimate for the running snapshot
    std::atomic<int> snapshot_state{0};              // 0 none, 1 running, 2 done
    // Keys the key ledger holds (the state store's counter, published after each save); -1:
    // the table keeps no ledger, or none was saved yet in this process.
    std::atomic<int64_t> ledger_keys{-1};
    // TRUNCATE expansion (docs/deletes.md): the deletes it made (this process), and, while one
    // runs, the keys it has still to delete (an estimate from the ledger's counter; 0 otherwise).
    std::atomic<uint64_t> truncate_deletes{0};
    std::atomic<int64_t> truncate_remaining{0};
    // Reconciliation (docs/deletes.md): the inferred deletes its sweeps made (this process; a
    // dry run's count is not here), and its phase: 0 none, 1 re-reading, 2 sweeping.
    std::atomic<uint64_t> reconcile_inferred{0};
    std::atomic<int> reconcile_phase{0};
    // Rows completed by reading the source (RowFiller, docs/event-format.md "Unchanged values"):
    // the lookup queries, the rows they returned, the incomplete events whose row was gone (sent
    // with the columns still unchanged), and the time spent in the queries.
    std::atomic<uint64_t> fill_queries{0};
    std::atomic<uint64_t> fill_rows{0};
    std::atomic<uint64_t> fill_missing{0};
    std::atomic<uint64_t> fill_micros{0};
    // `ledger: rows` (LedgerRowFill): events completed from the ledger's rows, and deletes whose
    // whole old row the ledger did not have (sent with what Postgres sent).
    std::atomic<uint64_t> ledger_rows_filled{0};
    std::atomic<uint64_t> ledger_rows_missing{0};
  };

  explicit Metrics(const Config& config);

  // The table's counters, or nullptr for a table not in the config.
  Table* table(const std::string& qualified) const;
  // The pipeline counts what it hands to Kafka: an event once at least one of its records was
  // handed over, and each record so handed (a record a restart found already in Kafka counts
  // as redelivered instead). The log's progress lines read the same counters (StreamReport).
  static void count_event(Table& t, Op op);
  static void count_record(Table& t, const Record& r);
  static void count_redelivered(Table& t) { t.redelivered.fetch_add(1, std::memory_order_relaxed); }
  // An event and every record it became, all handed over.
  static void count(Table& t, const ChangeEvent& e, const std::vector<Record>& records);

  // Sums over every table.
  struct Totals {
    std::array<uint64_t, 5> by_op{};
    uint64_t deletes = 0, tombstones = 0, records = 0, redelivered = 0;
    uint64_t events() const { return by_op[0] + by_op[1] + by_op[2] + by_op[3] + by_op[4]; }
  };
  Totals totals() const;
  void count_error(const Error& e) { errors_[static_cast<size_t>(e.kind())].fetch_add(1, std::memory_order_relaxed); }

  // Gauges the pipeline refreshes a few times a second.
  std::atomic<bool> streaming{false};       // a replication session is up and past its start
  std::atomic<bool> kafka_reachable{true};  // the last broker probe answered
  std::atomic<int64_t> confirmed_lsn{0};    // flushed to Postgres (and RocksDB)
  std::atomic<int64_t> server_lsn{0};       // the walsender's last known WAL end
  std::atomic<int64_t> queue_depth{0};      // messages in the producer not yet acknowledged
  std::atomic<int64_t> last_event_unix_ms{0};
  std::atomic<int64_t> oldest_unacked_ms{0};  // age of the wait for a Kafka acknowledgement; 0 when none
  std::atomic<uint64_t> reconnects{0};
  std::atomic<uint64_t> heartbeats{0};
  // Refreshed by the pipeline thread at least every status interval (also while a send waits
  // for Kafka) and by the supervisor while it waits to reconnect: a stale value means a stuck thread.
  std::atomic<int64_t> alive_unix_ms{0};

  // /healthz: false when nothing refreshed alive_unix_ms for 5 minutes (a wedged process).
  bool alive(std::string& why) const;

  int64_t lag_bytes() const;
  // Ready: streaming, lag under health.max_lag_bytes, Kafka reachable and acknowledging.
  // `why` gets a one-line reason when not.
  bool ready(std::string& why) const;
  std::string prometheus() const;

 private:
  const Config& config_;
  std::map<std::string, std::unique_ptr<Table>, std::less<>> tables_;
  std::array<std::atomic<uint64_t>, 6> errors_{};  // by ErrorKind
  int64_t started_unix_ms_;
};

}  // namespace tombsync
