// Read-only access to the cursor store that the agent writes
// (state/rocksdb_cursor_store.cc): for `tombsync check` and `tombsync status`,
// which must work while an agent holds the store open. It uses RocksDB's
// OpenForReadOnly, which takes no lock, writes nothing in state_dir (not even
// an info LOG) and sees what the running writer had synced when it opened.
// It reads the keys as the writer lays them out (state/cursor_keys.h, shared).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "base/lsn.h"

namespace tombsync {

struct StoredCursor {
  bool store_exists = false;              // state_dir holds a RocksDB store (its CURRENT file)
  std::optional<Lsn> confirmed;           // cursor/<slot>; unset: no cursor yet
  std::optional<std::string> source;      // source/<slot>
  // snapshot/<slot>/<table>: table -> {done, rows acknowledged}
  struct Snapshot {
    bool done = false;
    uint64_t rows = 0;
  };
  std::map<std::string, Snapshot> snapshots;
  // ledger/table/<slot>/<table> and its counter: table -> keys in the key ledger. A table
  // the ledger never held a key of (ledger: none, or not streamed yet) is absent.
  std::map<std::string, uint64_t> ledger_keys;
};

// Reads the cursor and source identity of `slot` from the store in `state_dir`
// without creating, locking or changing anything. A missing state_dir or one
// without a store gives store_exists = false. Throws Error(kState) naming the
// directory when the store exists but cannot be read; a damaged store (corrupt
// WAL record, SST block or cursor value) with the same line as the writer
// (state/store_integrity.h), so `check` and `status` report what `run` refuses.
StoredCursor read_stored_cursor(const std::string& state_dir, const std::string& slot);

// Calls `each` with every key (the Kafka record key bytes) the key ledger holds for `table`
// ("schema.table") of `slot`, in byte order, one at a time (never all in memory), read-only as
// read_stored_cursor. Returns how many; 0 when the store or the table has none. For the hidden
// `tombsync ledger-keys` command (tests compare the ledger with the topic).
uint64_t read_ledger_keys(const std::string& state_dir, const std::string& slot, const std::string& table,
                          const std::function<void(std::string_view key)>& each);

// The pid of the process holding state_dir's RocksDB lock (an agent running on
// it), or nullopt when nobody holds it or there is no store. Read-only: it asks
// with fcntl(F_GETLK) and never takes the lock.
std::optional<long> state_dir_lock_holder(const std::string& state_dir);

}  // namespace tombsync
