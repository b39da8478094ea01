#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <map>
#include <random>

#include "state/cursor_keys.h"
#include "state/cursor_store.h"
#include "state/rocksdb_ledger.h"
#include "state/store_integrity.h"
#include "base/error.h"

namespace tombsync {
namespace {

using state::cursor_key;
using state::identity_key;
using state::snapshot_key;

class RocksCursorStore final : public CursorStore {
 public:
  RocksCursorStore(std::string dir, std::unique_ptr<rocksdb::DB> db)
      : dir_(std::move(dir)), db_(std::move(db)), counters_(*db_, dir_) {}

  std::optional<Lsn> load_confirmed(const std::string& slot) override {
    auto v = get(cursor_key(slot));
    if (!v) return std::nullopt;
    // A legacy (8-byte, unchecksummed) value is read as is; the next save_confirmed rewrites it.
    auto decoded = state::decode_cursor(*v);
    if (!decoded.lsn) state::refuse_damaged(dir_, "the cursor of slot " + slot + " is corrupt", decoded.problem);
    return decoded.lsn;
  }

  void save_confirmed(const std::string& slot, Lsn lsn, const LedgerDelta& ledger) override {
    write_with_ledger(cursor_key(slot), state::encode_cursor(lsn), ledger);
  }

  std::optional<std::string> load_source_identity(const std::string& slot) override {
    return get(identity_key(slot));
  }

  void save_source_identity(const std::string& slot, const std::string& identity) override {
    put(identity_key(slot), identity);
  }

  std::optional<SnapshotProgress> load_snapshot(const std::string& slot, const std::string& table) override {
    auto v = get(snapshot_key(slot, table));
    if (!v) return std::nullopt;
    try {
      return state::decode_snapshot(*v);
    } catch (const std::exception& e) {
      state::refuse_damaged(dir_, "the snapshot progress of " + table + " (slot " + slot + ") is corrupt", e.what());
    }
  }

  void save_snapshot(const std::string& slot, const std::string& table, const SnapshotProgress& p,
                     const LedgerDelta& ledger) override {
    write_with_ledger(snapshot_key(slot, table), state::encode_snapshot(p), ledger);
  }

  uint32_t slot_incarnation(const std::string& slot) override {
    auto v = get(state::incarnation_key(slot));
    if (!v) return 0;
    auto n = state::decode_u32(*v);
    if (!n) state::refuse_damaged(dir_, "the incarnation of slot " + slot + " is corrupt", std::to_string(v->size()) + " bytes");
    return *n;
  }

  void start_incarnation(const std::string& slot) override {
    if (slot_incarnation(slot) != 0) return;
    std::random_device rd;
    const uint32_t n = rd() | 1;  // never 0 (no incarnation)
    put(state::incarnation_key(slot), state::encode_u32(n));
  }

  LedgerTableId ledger_table(const std::string& slot, const std::string& table) override {
    const std::string key = state::ledger_table_key(slot, table);
    if (auto it = ids_.find(key); it != ids_.end()) return it->second;
    if (auto id = find_ledger_table(slot, table)) return ids_.emplace(key, *id).first->second;
    // A new id: one more than the largest of any slot (a few tables: the scan is short).
    uint32_t largest = 0;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    const std::string prefix(state::kLedgerTablePrefix);
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next())
      largest = std::max(largest, state::decode_u32(it->value().ToStringView()).value_or(0));
    if (it->status().IsCorruption()) state::refuse_damaged(dir_, "listing the ledger tables failed", it->status().ToString());
    if (!it->status().ok()) fail("listing the ledger tables failed: " + it->status().ToString());
    const LedgerTableId id(largest + 1);
    put(key, state::encode_u32(id.value()));
    return ids_.emplace(key, id).first->second;
  }

  uint64_t ledger_count(const std::string& slot, const std::string& table) override {
    auto id = find_ledger_table(slot, table);
    return id ? counters_.get(*id) : 0;
  }

  std::optional<std::string> ledger_row(LedgerTableId table, std::string_view key) override {
    std::string full = state::ledger_entry_prefix(table);
    full.append(key);
    rocksdb::PinnableSlice value;
    auto s = db_->Get(rocksdb::ReadOptions(), db_->DefaultColumnFamily(), full, &value);
    if (s.IsNotFound()) return std::nullopt;
    if (s.IsCorruption()) state::refuse_damaged(dir_, "reading the key ledger failed", s.ToString());
    if (!s.ok()) fail("reading the key ledger failed: " + s.ToString());
    auto v = state::decode_ledger_value(value.ToStringView());
    if (!v) state::refuse_damaged(dir_, "a key ledger entry is corrupt", std::to_string(value.size()) + "-byte value");
    return std::string(v->row);
  }

  std::unique_ptr<LedgerKeys> ledger_keys(const std::string& slot, const std::string& table) override {
    // A table without an id streams nothing: id 0 is never assigned.
    return state::rocksdb_ledger_keys(*db_, dir_, find_ledger_table(slot, table).value_or(LedgerTableId(0)));
  }

  void clear_snapshot(const std::string& slot, const std::string& table) override {
    if (failed_) fail("an earlier write failed; refusing further writes");
    rocksdb::WriteOptions wo;
    wo.sync = true;
    auto s = db_->Delete(wo, snapshot_key(slot, table));
    if (!s.ok()) {
      failed_ = true;
      fail("synced delete of the snapshot progress of " + table + " failed: " + s.ToString());
    }
  }

  void forget_slot(const std::string& slot) override {
    if (failed_) fail("an earlier write failed; refusing further writes");
    rocksdb::WriteBatch batch;
    add_forget(slot, batch);
    write_synced(batch, "synced delete of slot " + slot + "'s state");
  }

  std::vector<uint32_t> begin_reconcile(const std::string& slot, const std::vector<std::string>& tables, bool dry_run,
                                        bool forget_cursor, const std::string& request_id) override {
    if (failed_) fail("an earlier write failed; refusing further writes");
    rocksdb::WriteBatch batch;
    if (forget_cursor) add_forget(slot, batch);  // first: the progress put below wins over its delete
    std::vector<uint32_t> marks;
    for (const auto& table : tables) {
      SnapshotProgress p;
      p.reconcile_mark = add_next_mark(slot, table, batch);
      p.dry_run = dry_run;
      p.request_id = request_id;
      marks.push_back(p.reconcile_mark);
      batch.Put(snapshot_key(slot, table), state::encode_snapshot(p));
    }
    write_synced(batch, "synced start of the reconciliation of " + std::to_string(tables.size()) + " tables");
    return marks;
  }

  uint32_t renew_reconcile_mark(const std::string& slot, const std::string& table, SnapshotProgress progress) override {
    if (failed_) fail("an earlier write failed; refusing further writes");
    rocksdb::WriteBatch batch;
    progress.reconcile_mark = add_next_mark(slot, table, batch);
    batch.Put(snapshot_key(slot, table), state::encode_snapshot(progress));
    write_synced(batch, "synced new reconciliation mark of " + table);
    return progress.reconcile_mark;
  }

 private:
  // The table's next reconciliation mark, written to `batch`.
  uint32_t add_next_mark(const std::string& slot, const std::string& table, rocksdb::WriteBatch& batch) {
    const std::string mark_key = state::ledger_mark_key(ledger_table(slot, table));
    uint32_t last = 0;
    if (auto v = get(mark_key)) {
      auto decoded = state::decode_u32(*v);
      if (!decoded)
        state::refuse_damaged(dir_, "the reconciliation mark of " + table + " is corrupt", std::to_string(v->size()) + " bytes");
      last = *decoded;
    }
    if (last == UINT32_MAX) fail("the reconciliation marks of " + table + " are used up");
    batch.Put(mark_key, state::encode_u32(last + 1));
    return last + 1;
  }

  // The deletes of forget_slot, into `batch`, and the next incarnation.
  void add_forget(const std::string& slot, rocksdb::WriteBatch& batch) {
    const uint32_t next = slot_incarnation(slot) + 1;
    batch.Put(state::incarnation_key(slot), state::encode_u32(next == 0 ? 1 : next));
    batch.Delete(cursor_key(slot));
    batch.Delete(identity_key(slot));
    const std::string prefix = state::snapshot_prefix(slot);
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) batch.Delete(it->key());
    if (it->status().IsCorruption())
      state::refuse_damaged(dir_, "listing the snapshot progress of slot " + slot + " failed", it->status().ToString());
    if (!it->status().ok()) fail("listing the snapshot progress of slot " + slot + " failed: " + it->status().ToString());
  }

  void write_synced(rocksdb::WriteBatch& batch, const std::string& what) {
    rocksdb::WriteOptions wo;
    wo.sync = true;
    if (auto s = db_->Write(wo, &batch); !s.ok()) {
      failed_ = true;
      fail(what + " failed: " + s.ToString());
    }
  }

  std::optional<LedgerTableId> find_ledger_table(const std::string& slot, const std::string& table) {
    const std::string key = state::ledger_table_key(slot, table);
    if (auto it = ids_.find(key); it != ids_.end()) return it->second;
    auto v = get(key);
    if (!v) return std::nullopt;
    auto id = state::decode_u32(*v);
    if (!id || *id == 0)
      state::refuse_damaged(dir_, "the ledger id of " + table + " (slot " + slot + ") is corrupt",
                            std::to_string(v->size()) + " bytes");
    return LedgerTableId(*id);
  }

  // `key` = `value` and the ledger's changes, in one synced write.
  void write_with_ledger(const std::string& key, const std::string& value, const LedgerDelta& ledger) {
    if (ledger.empty()) return put(key, value);
    if (failed_) fail("an earlier write failed; refusing further writes");
    rocksdb::WriteBatch batch;
    std::unordered_map<uint32_t, uint64_t> counts;
    try {
      counts = counters_.add_to_batch(ledger, batch);
    } catch (...) {
      // The caller handed these changes over (they are gone from its memory): a later save of a
      // cursor without them would put the ledger behind it for good. So nothing is written again.
      failed_ = true;
      throw;
    }
    batch.Put(key, value);
    rocksdb::WriteOptions wo;
    wo.sync = true;
    if (auto s = db_->Write(wo, &batch); !s.ok()) {
      failed_ = true;
      fail("synced write of " + key + " with " + std::to_string(ledger.entries()) + " ledger changes failed: " +
           s.ToString());
    }
    counters_.commit(counts);
  }

  std::optional<std::string> get(const std::string& key) {
    std::string value;
    auto s = db_->Get(rocksdb::ReadOptions(), key, &value);
    if (s.IsNotFound()) return std::nullopt;
    if (s.IsCorruption()) state::refuse_damaged(dir_, "reading " + key + " failed", s.ToString());  // an SST block
    if (!s.ok()) fail("read of " + key + " failed: " + s.ToString());
    return value;
  }

  void put(const std::string& key, const std::string& value) {
    if (failed_) fail("an earlier write failed; refusing further writes");
    rocksdb::WriteOptions wo;
    wo.sync = true;  // the cursor is reported to Postgres right after: it must survive a power cut
    auto s = db_->Put(wo, key, value);
    if (!s.ok()) {
      failed_ = true;
      fail("synced write of " + key + " failed: " + s.ToString());
    }
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw Error(ErrorKind::kState, "state store " + dir_ + ": " + what);
  }

  std::string dir_;
  std::unique_ptr<rocksdb::DB> db_;
  state::LedgerCounters counters_;
  std::map<std::string, LedgerTableId> ids_;  // ledger ids seen, by their key
  bool failed_ = false;
};

// The first 5 bytes of a ledger entry's key ('L' + table id), for keys longer than that.
class LedgerPrefix final : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "tombsync.LedgerPrefix"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override { return rocksdb::Slice(key.data(), 5); }
  bool InDomain(const rocksdb::Slice& key) const override { return key.size() > 5; }
};

// The writer's open: integrity rules, the ledger's bloom filters, the damage witness.
std::unique_ptr<rocksdb::DB> open_writer(const std::string& dir) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.max_open_files = 64;
  options.keep_log_file_num = 3;
  state::set_integrity_options(options);
  // The key ledger: most ledger reads are of keys it lacks (an insert's key), which a bloom
  // filter answers without reading a block, in the SST files and in the memtable.
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  options.memtable_whole_key_filtering = true;
  options.memtable_prefix_bloom_size_ratio = 0.05;
  // `ledger: rows` keeps whole rows: LZ4 on the upper levels (cheap to write), ZSTD on the last
  // (where compaction leaves nearly everything), when this RocksDB build has them.
  const auto supported = rocksdb::GetSupportedCompressions();
  auto has = [&](rocksdb::CompressionType t) { return std::find(supported.begin(), supported.end(), t) != supported.end(); };
  if (has(rocksdb::kLZ4Compression)) options.compression = rocksdb::kLZ4Compression;
  if (has(rocksdb::kZSTD)) options.bottommost_compression = rocksdb::kZSTD;
  // Ledger keys of one table share their first 5 bytes ('L' + id) and a batch writes them in key
  // order: with the insert hint per prefix, the memtable's skiplist is not searched from the top
  // for every key. Not for a 5-byte key: that is the start of a table's range delete (a cleared
  // table), and RocksDB keeps one hint per prefix for the point and the range-delete skiplists
  // alike, so a hint from one would be used in the other (an assertion, or a misplaced key).
  options.memtable_insert_with_hint_prefix_extractor = std::make_shared<LedgerPrefix>();
  // The usual LOG file in dir, seen through the witness that names a damaged WAL. When it cannot
  // be created (dir not writable), Open fails below and says why.
  std::shared_ptr<rocksdb::Logger> file_log;
  if (!rocksdb::CreateLoggerFromOptions(dir, options, &file_log).ok()) file_log.reset();
  auto witness = std::make_shared<state::DamageWitness>(file_log);
  options.info_log = witness;
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(options, dir, &raw);
  if (s.IsCorruption()) state::refuse_damaged(dir, state::damaged_part(*witness, s), s.ToString());
  if (!s.ok()) {
    std::string hint = s.ToString().find("lock") != std::string::npos
                           ? " (is another tombsync running with this state_dir?)"
                           : " (check that state_dir exists or can be created, and is writable)";
    throw Error(ErrorKind::kState, "cannot open state store " + dir + ": " + s.ToString() + hint);
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  // Every SST block, read once: damage is found now, not at the first read of a key that happens
  // to sit in the damaged block. Without a key ledger the store is a few keys; with one, this
  // reads the whole ledger once per start (its size on disk: docs/performance.md).
  if (auto v = db->VerifyChecksum(); v.IsCorruption())
    state::refuse_damaged(dir, state::damaged_part(*witness, v), v.ToString());
  else if (!v.ok())
    throw Error(ErrorKind::kState, "cannot verify the checksums of state store " + dir + ": " + v.ToString());
  return db;
}

}  // namespace

std::unique_ptr<CursorStore> open_rocksdb_cursor_store(const std::string& dir) {
  return std::make_unique<RocksCursorStore>(dir, open_writer(dir));
}

uint64_t compact_rocksdb_cursor_store(const std::string& dir) {
  auto db = open_writer(dir);
  rocksdb::CompactRangeOptions options;
  options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  if (auto s = db->CompactRange(options, nullptr, nullptr); !s.ok())
    throw Error(ErrorKind::kState, "compacting state store " + dir + " failed: " + s.ToString());
  uint64_t bytes = 0;
  db->GetIntProperty(rocksdb::DB::Properties::kTotalSstFilesSize, &bytes);
  return bytes;
}

}  // namespace tombsync
