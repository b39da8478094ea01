#include "agent/ops/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

namespace tombsync {
namespace {

int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Label values are table names: quote, backslash and newline must be escaped.
std::string label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void header(std::string& out, const char* name, const char* type, const char* help) {
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

}  // namespace

Metrics::Metrics(const Config& config) : config_(config), started_unix_ms_(unix_ms()) {
  for (const auto& t : config.source.tables) tables_.emplace(t.name.qualified(), std::make_unique<Table>());
}

Metrics::Table* Metrics::table(const std::string& qualified) const {
  auto it = tables_.find(qualified);
  return it == tables_.end() ? nullptr : it->second.get();
}

void Metrics::count_event(Table& t, Op op) {
  t.events[static_cast<size_t>(op)].fetch_add(1, std::memory_order_relaxed);
  if (op == Op::kRead) t.snapshot_rows.fetch_add(1, std::memory_order_relaxed);
}

void Metrics::count_record(Table& t, const Record& r) {
  constexpr auto kRelaxed = std::memory_order_relaxed;
  t.records.fetch_add(1, kRelaxed);
  t.bytes.fetch_add((r.key ? r.key->size() : 0) + (r.value ? r.value->size() : 0), kRelaxed);
  if (!r.value) t.tombstones.fetch_add(1, kRelaxed);
  else if (r.deleted) t.deletes.fetch_add(1, kRelaxed);
}

void Metrics::count(Table& t, const ChangeEvent& e, const std::vector<Record>& records) {
  count_event(t, e.op);
  for (const Record& r : records) count_record(t, r);
}

Metrics::Totals Metrics::totals() const {
  Totals sum;
  for (const auto& [name, t] : tables_) {
    for (size_t op = 0; op < sum.by_op.size(); ++op) sum.by_op[op] += t->events[op].load(std::memory_order_relaxed);
    sum.deletes += t->deletes.load(std::memory_order_relaxed);
    sum.tombstones += t->tombstones.load(std::memory_order_relaxed);
    sum.records += t->records.load(std::memory_order_relaxed);
    sum.redelivered += t->redelivered.load(std::memory_order_relaxed);
  }
  return sum;
}

bool Metrics::alive(std::string& why) const {
  const int64_t last = alive_unix_ms.load();
  if (last == 0 || unix_ms() - last < 300000) return true;
  why = fmt::format("the pipeline has not reported for {} s", (unix_ms() - last) / 1000);
  return false;
}

int64_t Metrics::lag_bytes() const {
  const int64_t server = server_lsn.load(), confirmed = confirmed_lsn.load();
  return server > confirmed ? server - confirmed : 0;
}

bool Metrics::ready(std::string& why) const {
  if (!streaming.load()) {
    why = "not streaming (starting, or reconnecting to Postgres)";
    return false;
  }
  const int64_t silent = unix_ms() - alive_unix_ms.load();
  if (silent > std::max<int64_t>(15000, 10 * int64_t{config_.source.status_interval_ms})) {
    why = fmt::format("the pipeline thread has not reported for {} ms", silent);
    return false;
  }
  if (!kafka_reachable.load()) {
    why = "no Kafka broker answers";
    return false;
  }
  if (const int64_t wait = oldest_unacked_ms.load(); wait > config_.health.kafka_stall_ms) {
    why = fmt::format("Kafka has acknowledged nothing for {} ms while {} messages wait", wait, queue_depth.load());
    return false;
  }
  if (const int64_t lag = lag_bytes(); lag > config_.health.max_lag_bytes) {
    why = fmt::format("replication lag {} bytes is above health.max_lag_bytes {}", lag, config_.health.max_lag_bytes);
    return false;
  }
  return true;
}

std::string Metrics::prometheus() const {
  std::string out;
  out.reserve(4096 + tables_.size() * 1024);
  auto it = std::back_inserter(out);
  static constexpr const char* kOps[] = {"insert", "update", "delete", "truncate", "read"};

  header(out, "tombsync_events_total", "counter",
         "Change events handed to Kafka by table and operation (read = snapshot rows).");
  for (const auto& [name, t] : tables_)
    for (size_t op = 0; op < 5; ++op)
      fmt::format_to(it, "tombsync_events_total{{table=\"{}\",op=\"{}\"}} {}\n", label(name), kOps[op],
                     t->events[op].load());
  auto per_table = [&](const char* metric, const char* type, const char* help, auto get) {
    header(out, metric, type, help);
    for (const auto& [name, t] : tables_) fmt::format_to(it, "{}{{table=\"{}\"}} {}\n", metric, label(name), get(*t));
  };
  header(out, "tombsync_oversized_columns_total", "counter",
         "Column values cut from records over message.max.bytes by table and action (the table's oversized policy).");
  for (const auto& [name, t] : tables_)
    for (size_t a = 0; a < 2; ++a)
      fmt::format_to(it, "tombsync_oversized_columns_total{{table=\"{}\",action=\"{}\"}} {}\n", label(name),
                     a == 0 ? "truncate_column" : "skip_column", t->oversized_columns[a].load());
  per_table("tombsync_deletes_total", "counter", "Delete events (hard deletes and soft deletes) by table.",
            [](const Table& t) { return t.deletes.load(); });
  per_table("tombsync_tombstones_total", "counter", "Tombstones (null-valued records) by table.",
            [](const Table& t) { return t.tombstones.load(); });
  per_table("tombsync_records_total", "counter", "Kafka records handed to the producer by table.",
            [](const Table& t) { return t.records.load(); });
  per_table("tombsync_redelivered_records_total", "counter",
            "Records a restart found already in Kafka and did not write again, by table.",
            [](const Table& t) { return t.redelivered.load(); });
  per_table("tombsync_bytes_total", "counter", "Key and value bytes handed to the producer by table.",
            [](const Table& t) { return t.bytes.load(); });
  per_table("tombsync_snapshot_rows_total", "counter", "Rows read by snapshots by table.",
            [](const Table& t) { return t.snapshot_rows.load(); });
  per_table("tombsync_ledger_keys", "gauge",
            "Keys the key ledger holds as live, by table (-1: no ledger, or not saved yet by this process).",
            [](const Table& t) { return t.ledger_keys.load(); });
  per_table("tombsync_truncate_deletes_total", "counter",
            "Deletes an expanded TRUNCATE made, one per key the key ledger held, by table.",
            [](const Table& t) { return t.truncate_deletes.load(); });
  per_table("tombsync_truncate_keys_remaining", "gauge",
            "Keys a running TRUNCATE expansion has still to delete (estimated), by table; 0 when none runs.",
            [](const Table& t) { return t.truncate_remaining.load(); });
  per_table("tombsync_reconcile_inferred_deletes_total", "counter",
            "Inferred deletes reconciliation made (ledger keys the source no longer had), by table.",
            [](const Table& t) { return t.reconcile_inferred.load(); });
  per_table("tombsync_fill_queries_total", "counter",
            "Queries that read unchanged (TOAST) values from the source to complete records, by table.",
            [](const Table& t) { return t.fill_queries.load(); });
  per_table("tombsync_fill_rows_total", "counter", "Rows those queries returned, by table.",
            [](const Table& t) { return t.fill_rows.load(); });
  per_table("tombsync_fill_missing_total", "counter",
            "Incomplete records whose row the source no longer had (sent with the values unchanged), by table.",
            [](const Table& t) { return t.fill_missing.load(); });
  per_table("tombsync_fill_seconds_total", "counter", "Time spent in those queries, by table.",
            [](const Table& t) { return fmt::format("{:.6f}", static_cast<double>(t.fill_micros.load()) / 1e6); });
  per_table("tombsync_ledger_rows_filled_total", "counter",
            "Deletes and updates completed from the rows the key ledger keeps (ledger: rows), by table.",
            [](const Table& t) { return t.ledger_rows_filled.load(); });
  per_table("tombsync_ledger_rows_missing_total", "counter",
            "Deletes sent without their whole old row: the ledger did not have it (ledger: rows), by table.",
            [](const Table& t) { return t.ledger_rows_missing.load(); });
  per_table("tombsync_reconcile_phase", "gauge",
            "A reconciliation of the table: 0 none running, 1 re-reading the table, 2 sweeping the key ledger.",
            [](const Table& t) { return t.reconcile_phase.load(); });
  per_table("tombsync_snapshot_rows_estimated", "gauge", "The planner's row estimate of the table being snapshotted.",
            [](const Table& t) { return t.snapshot_rows_estimated.load(); });
  per_table("tombsync_snapshot_running", "gauge", "1 while the table's snapshot runs.",
            [](const Table& t) { return t.snapshot_state.load() == 1 ? 1 : 0; });

  header(out, "tombsync_errors_total", "counter", "Errors that ended a streaming session, by kind.");
  for (size_t k = 0; k < errors_.size(); ++k)
    fmt::format_to(it, "tombsync_errors_total{{kind=\"{}\"}} {}\n", to_string(static_cast<ErrorKind>(k)),
                   errors_[k].load());
  auto gauge = [&](const char* metric, const char* type, const char* help, auto value) {
    header(out, metric, type, help);
    fmt::format_to(it, "{} {}\n", metric, value);
  };
  gauge("tombsync_replication_lag_bytes", "gauge", "WAL bytes between the server's end and the confirmed position.",
        lag_bytes());
  gauge("tombsync_confirmed_lsn", "gauge", "The WAL position confirmed to Postgres, as a number.",
        confirmed_lsn.load());
  gauge("tombsync_server_lsn", "gauge", "The server's last reported WAL end, as a number.", server_lsn.load());
  const int64_t last = last_event_unix_ms.load();
  gauge("tombsync_seconds_since_last_event", "gauge",
        "Seconds since the last change event (since start when none yet).",
        static_cast<double>(unix_ms() - (last ? last : started_unix_ms_)) / 1000.0);
  gauge("tombsync_producer_queue_messages", "gauge", "Messages in the producer not yet acknowledged by Kafka.",
        queue_depth.load());
  gauge("tombsync_streaming", "gauge", "1 while a replication session streams.", streaming.load() ? 1 : 0);
  gauge("tombsync_kafka_reachable", "gauge", "1 when the last broker probe answered.", kafka_reachable.load() ? 1 : 0);
  gauge("tombsync_reconnects_total", "counter", "Reconnections after a lost Postgres connection.", reconnects.load());
  gauge("tombsync_heartbeats_total", "counter", "Heartbeat messages written to the WAL.", heartbeats.load());
  std::string why;
  gauge("tombsync_ready", "gauge", "1 when /readyz answers 200.", ready(why) ? 1 : 0);
  return out;
}

}  // namespace tombsync
