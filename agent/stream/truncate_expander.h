// A TRUNCATE of a table with `truncate: expand` (docs/deletes.md), after its
// truncate event: one key-only delete event (schemas/ledger_delete.h, marked
// truncate, at the truncate's position and commit time) for every key the key
// ledger holds for the table, then one clear of the table in the ledger.
//
// Which keys: the store's (a consistent view, streamed: never all in memory),
// as changed by the transactions the LedgerRecorder holds that are not saved
// yet (those are in memory already), in key byte order. The order, and so
// every record's (commit LSN, seq) position, is the same when a restart reads
// the transaction again, whatever the store saved in between: the
// RedeliveryFilter can tell which of them Kafka holds.
//
// Long work logs its start, a progress line every 5 s (keys/s, ETA) and its
// end, and publishes Metrics::Table::truncate_deletes / truncate_remaining.
// Pipeline thread only.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "agent/ops/metrics.h"
#include "agent/stream/ledger_recorder.h"
#include "agent/stream/topic_cleanup.h"
#include "schemas/change.h"
#include "schemas/encoder.h"
#include "state/cursor_store.h"

namespace tombsync {

class TruncateExpander {
 public:
  TruncateExpander(const Config& config, CursorStore& store, std::string slot, LedgerRecorder& ledger,
                   const Encoder& encoder, TopicCleanup& cleanup, Metrics& metrics);

  // `table` has truncate: expand and keeps a ledger.
  bool expands(const TableSchema& table);
  // Whether the keyless truncate event may go to the table's topic: Kafka refuses a record
  // without a key on a compacted topic (the session would stop), so not there, nor where Kafka
  // does not say (logged, asked again at the next TRUNCATE); the per-key deletes carry the
  // TRUNCATE then (header tombsync.truncate). Never with format debezium-json (a sink's
  // truncate.enabled would empty rows written after the TRUNCATE; docs/formats.md). Asks
  // `cleanup` once per topic.
  bool event_fits(const ChangeEvent& truncate);
  // Calls emit(delete) for every key live at `truncate` (an event of Op::kTruncate of a table
  // that expands), then records the clear with the LedgerRecorder. `emit` returns false when the
  // transaction is abandoned (a forced stop): the expansion ends there and records no clear.
  // `tick` runs every 1,000 keys (checkpoints, status updates to Postgres). Returns the deletes
  // emitted. Throws Error(kState) when the store cannot be read or a key cannot be read back
  // (ledger_delete), naming the table.
  uint64_t expand(const ChangeEvent& truncate, const std::function<bool(const ChangeEvent&)>& emit,
                  const std::function<void()>& tick);

 private:
  const Config& config_;
  CursorStore& store_;
  std::string slot_;
  LedgerRecorder& ledger_;
  const Encoder& encoder_;
  TopicCleanup& cleanup_;
  Metrics& metrics_;
  std::map<std::string, bool> fits_;  // by topic, once Kafka said
};

}  // namespace tombsync
