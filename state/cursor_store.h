// Where tombsync keeps its sync cursors. The confirmed position of a slot is
// the end LSN of the last transaction whose every record Kafka acknowledged;
// save_confirmed() returns only once it is durable, and only then may the
// position be reported to Postgres as the flush LSN.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/lsn.h"

namespace tombsync {

// How far the snapshot of one table got. `last_key` holds the key column
// values, in Postgres text form, of the last row whose chunk Kafka
// acknowledged; the next chunk starts after it.
struct SnapshotProgress {
  bool done = false;
  std::optional<std::vector<std::string>> last_key;
  uint64_t rows = 0;
};

class CursorStore {
 public:
  virtual ~CursorStore() = default;
  virtual std::optional<Lsn> load_confirmed(const std::string& slot) = 0;
  // Durable (synced) on return. Throws Error(kState) on failure, and every call
  // after a failure throws too: a store that lost a write is not written again.
  virtual void save_confirmed(const std::string& slot, Lsn lsn) = 0;
  // The source (cluster system identifier + database) a slot's cursor belongs
  // to, so a state dir reused against another database is refused, not trusted.
  virtual std::optional<std::string> load_source_identity(const std::string& slot) = 0;
  virtual void save_source_identity(const std::string& slot, const std::string& identity) = 0;
  // Per table ("schema.table") of a slot; synced like the cursor.
  virtual std::optional<SnapshotProgress> load_snapshot(const std::string& slot, const std::string& table) = 0;
  virtual void save_snapshot(const std::string& slot, const std::string& table, const SnapshotProgress& p) = 0;
  virtual void clear_snapshot(const std::string& slot, const std::string& table) = 0;
  // Forgets everything kept for `slot` (cursor, source identity, snapshot
  // progress of every table), in one synced batch: after the slot is dropped,
  // the next run starts over with a new slot and fresh snapshots.
  virtual void forget_slot(const std::string& slot) = 0;
};

// Opens (creating if needed) the RocksDB store in `dir`. Throws Error(kState)
// naming the directory and the reason (e.g. locked by another tombsync). A
// damaged store is refused, here or at the read that meets the damage, with the
// line of state/store_integrity.h: a corrupt WAL record (anywhere, the tail
// too), an SST block whose checksum fails (every block is verified at open),
// or a cursor value whose checksum fails.
std::unique_ptr<CursorStore> open_rocksdb_cursor_store(const std::string& dir);

}  // namespace tombsync
