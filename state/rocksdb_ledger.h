// The key ledger's side of the RocksDB store (rocksdb_cursor_store.cc), in
// the layout of state/cursor_keys.h: turning a LedgerDelta into the entries of
// the write batch that also carries the cursor or the snapshot progress,
// keeping the per-table key counters exact, and streaming a table's keys.
// Private to state/. Called on the writer's thread (the pipeline thread).
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "state/cursor_store.h"
#include "state/ledger_delta.h"

namespace tombsync::state {

// The key counters of the tables the writer touched, as stored. Loaded lazily.
class LedgerCounters {
 public:
  LedgerCounters(rocksdb::DB& db, std::string dir) : db_(db), dir_(std::move(dir)) {}

  uint64_t get(LedgerTableId id);
  // Adds to `batch` what `delta` changes: per key, only its last entry counts (a kMark only
  // changes the mark of what the entries before it made the key); a kPut of a key the ledger
  // lacks writes it, a kErase of a key it holds deletes it, a kPut or kMark with a mark other
  // than 0 rewrites a key it holds with another mark, anything else writes nothing (so an update
  // of a live row outside a reconciliation costs a read, not a write). The counters of the tables
  // whose count moved are written too. Returns the new counts, to commit() once the batch is
  // durable. Throws Error(kState) when a read fails.
  std::unordered_map<uint32_t, uint64_t> add_to_batch(const LedgerDelta& delta, rocksdb::WriteBatch& batch);
  void commit(const std::unordered_map<uint32_t, uint64_t>& counts);

 private:
  rocksdb::DB& db_;
  std::string dir_;
  std::unordered_map<uint32_t, uint64_t> counts_;  // by table id, as stored
};

// Streams the keys of table `id` from an implicit snapshot of `db`.
std::unique_ptr<LedgerKeys> rocksdb_ledger_keys(rocksdb::DB& db, std::string dir, LedgerTableId id);

}  // namespace tombsync::state
