#include "state/cursor_reader.h"

#include <fcntl.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/options.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <memory>
#include <thread>

#include "base/error.h"
#include "state/cursor_keys.h"
#include "state/store_integrity.h"

namespace tombsync {
namespace {

[[noreturn]] void fail(const std::string& dir, const std::string& what) {
  throw Error(ErrorKind::kState, "state store " + dir + ": " + what);
}

// Opens the store read-only with the writer's integrity rules (state/store_integrity.h). The
// witness has no inner log: without an info_log of its own, RocksDB would open (and rotate) the
// writer's LOG file. While an agent holds the store, the record it is appending at this instant
// can look like an incomplete WAL tail, so a corruption seen then is read again (3 tries, 100 ms
// apart) before it is reported; real damage stays.
std::unique_ptr<rocksdb::DB> open_read_only(const std::string& dir) {
  for (int attempt = 1;; ++attempt) {
    rocksdb::Options options;
    options.create_if_missing = false;
    options.max_open_files = 16;
    state::set_integrity_options(options);
    auto witness = std::make_shared<state::DamageWitness>(nullptr);
    options.info_log = witness;
    rocksdb::DB* raw = nullptr;
    auto s = rocksdb::DB::OpenForReadOnly(options, dir, &raw);
    std::unique_ptr<rocksdb::DB> db(raw);
    if (s.ok()) s = db->VerifyChecksum();
    if (s.ok()) return db;
    if (!s.IsCorruption()) fail(dir, "cannot open read-only: " + s.ToString());
    if (attempt < 3 && state_dir_lock_holder(dir)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    state::refuse_damaged(dir, state::damaged_part(*witness, s), s.ToString());
  }
}

}  // namespace

StoredCursor read_stored_cursor(const std::string& state_dir, const std::string& slot) {
  StoredCursor out;
  std::error_code ec;
  if (!std::filesystem::exists(std::filesystem::path(state_dir) / "CURRENT", ec)) return out;
  out.store_exists = true;
  std::unique_ptr<rocksdb::DB> db = open_read_only(state_dir);

  auto get = [&](const std::string& key) -> std::optional<std::string> {
    std::string value;
    auto st = db->Get(rocksdb::ReadOptions(), key, &value);
    if (st.IsNotFound()) return std::nullopt;
    if (st.IsCorruption()) state::refuse_damaged(state_dir, "reading " + key + " failed", st.ToString());
    if (!st.ok()) fail(state_dir, "read of " + key + " failed: " + st.ToString());
    return value;
  };
  if (auto v = get(state::cursor_key(slot))) {
    auto decoded = state::decode_cursor(*v);
    if (!decoded.lsn) state::refuse_damaged(state_dir, "the cursor of slot " + slot + " is corrupt", decoded.problem);
    out.confirmed = decoded.lsn;
  }
  out.source = get(state::identity_key(slot));
  const std::string prefix = state::snapshot_prefix(slot);
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    const std::string table = it->key().ToString().substr(prefix.size());
    try {
      const SnapshotProgress p = state::decode_snapshot(it->value().ToString());
      out.snapshots[table] = {p.done, p.rows};
    } catch (const std::exception& e) {
      state::refuse_damaged(state_dir, "the snapshot progress of " + table + " (slot " + slot + ") is corrupt",
                            e.what());
    }
  }
  if (it->status().IsCorruption())
    state::refuse_damaged(state_dir, "listing the snapshot progress of slot " + slot + " failed",
                          it->status().ToString());
  const std::string ledger_prefix = state::ledger_table_prefix(slot);
  it.reset(db->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(ledger_prefix); it->Valid() && it->key().starts_with(ledger_prefix); it->Next()) {
    const std::string table = it->key().ToString().substr(ledger_prefix.size());
    auto id = state::decode_u32(it->value().ToStringView());
    if (!id) state::refuse_damaged(state_dir, "the ledger id of " + table + " (slot " + slot + ") is corrupt", "not 4 bytes");
    uint64_t n = 0;
    if (auto v = get(state::ledger_count_key(LedgerTableId(*id)))) {
      auto count = state::decode_u64(*v);
      if (!count)
        state::refuse_damaged(state_dir, "the ledger key count of " + table + " (slot " + slot + ") is corrupt",
                              "not 8 bytes");
      n = *count;
    }
    out.ledger_keys[table] = n;
  }
  if (it->status().IsCorruption())
    state::refuse_damaged(state_dir, "listing the ledger of slot " + slot + " failed", it->status().ToString());
  return out;
}

uint64_t read_ledger_keys(const std::string& state_dir, const std::string& slot, const std::string& table,
                          const std::function<void(std::string_view key)>& each) {
  std::error_code ec;
  if (!std::filesystem::exists(std::filesystem::path(state_dir) / "CURRENT", ec)) return 0;
  std::unique_ptr<rocksdb::DB> db = open_read_only(state_dir);
  std::string value;
  auto st = db->Get(rocksdb::ReadOptions(), state::ledger_table_key(slot, table), &value);
  if (st.IsNotFound()) return 0;
  if (!st.ok()) fail(state_dir, "reading the ledger id of " + table + " failed: " + st.ToString());
  auto id = state::decode_u32(value);
  if (!id) state::refuse_damaged(state_dir, "the ledger id of " + table + " (slot " + slot + ") is corrupt", "not 4 bytes");
  const std::string prefix = state::ledger_entry_prefix(LedgerTableId(*id));
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
  uint64_t n = 0;
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    each(std::string_view(it->key().data() + prefix.size(), it->key().size() - prefix.size()));
    ++n;
  }
  if (it->status().IsCorruption())
    state::refuse_damaged(state_dir, "listing the ledger of " + table + " failed", it->status().ToString());
  if (!it->status().ok()) fail(state_dir, "listing the ledger of " + table + " failed: " + it->status().ToString());
  return n;
}

std::optional<long> state_dir_lock_holder(const std::string& state_dir) {
  std::string path = (std::filesystem::path(state_dir) / "LOCK").string();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct flock query {};
  query.l_type = F_WRLCK;  // RocksDB's lock: a write lock over the whole LOCK file
  query.l_whence = SEEK_SET;
  query.l_start = 0;
  query.l_len = 0;
  int rc = ::fcntl(fd, F_GETLK, &query);
  ::close(fd);
  if (rc != 0 || query.l_type == F_UNLCK) return std::nullopt;
  return static_cast<long>(query.l_pid);
}

}  // namespace tombsync
