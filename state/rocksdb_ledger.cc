#include "state/rocksdb_ledger.h"

#include <algorithm>
#include <set>
#include <vector>

#include "base/error.h"
#include "state/cursor_keys.h"
#include "state/store_integrity.h"

namespace tombsync::state {
namespace {

// An entry a later kClear of its table made moot (not an Op a delta holds).
constexpr auto kDropped = static_cast<LedgerDelta::Op>(0);

[[noreturn]] void fail(const std::string& dir, const std::string& what) {
  throw Error(ErrorKind::kState, "state store " + dir + ": " + what);
}

void check_read(const std::string& dir, const rocksdb::Status& s, const std::string& what) {
  if (s.ok() || s.IsNotFound()) return;
  if (s.IsCorruption()) refuse_damaged(dir, what + " failed", s.ToString());
  fail(dir, what + " failed: " + s.ToString());
}

class RocksLedgerKeys final : public LedgerKeys {
 public:
  RocksLedgerKeys(rocksdb::DB& db, std::string dir, LedgerTableId id)
      : dir_(std::move(dir)), prefix_(ledger_entry_prefix(id)), it_(db.NewIterator(rocksdb::ReadOptions())) {}

  bool next(std::string& key) override {
    if (!started_) {
      it_->Seek(prefix_);
      started_ = true;
    } else if (it_->Valid()) {
      it_->Next();
    }
    if (it_->Valid() && it_->key().starts_with(prefix_)) {
      key.assign(it_->key().data() + prefix_.size(), it_->key().size() - prefix_.size());
      auto v = decode_ledger_value(it_->value().ToStringView());
      if (!v) refuse_damaged(dir_, "a key ledger entry is corrupt", std::to_string(it_->value().size()) + "-byte value");
      mark_ = v->mark;
      row_ = v->row;  // into the iterator's value: valid until it moves
      return true;
    }
    check_read(dir_, it_->status(), "listing the key ledger");
    return false;
  }
  uint32_t mark() const override { return mark_; }
  std::string_view row() const override { return row_; }

 private:
  std::string dir_;
  std::string prefix_;
  std::unique_ptr<rocksdb::Iterator> it_;
  bool started_ = false;
  uint32_t mark_ = 0;
  std::string_view row_;
};

}  // namespace

uint64_t LedgerCounters::get(LedgerTableId id) {
  auto it = counts_.find(id.value());
  if (it != counts_.end()) return it->second;
  std::string value;
  const std::string key = ledger_count_key(id);
  auto s = db_.Get(rocksdb::ReadOptions(), key, &value);
  check_read(dir_, s, "reading the key count of ledger table " + std::to_string(id.value()));
  uint64_t n = 0;
  if (s.ok()) {
    auto decoded = decode_u64(value);
    if (!decoded)
      refuse_damaged(dir_, "the key count of ledger table " + std::to_string(id.value()) + " is corrupt",
                     std::to_string(value.size()) + " bytes, expected 8");
    n = *decoded;
  }
  return counts_.emplace(id.value(), n).first->second;
}

std::unordered_map<uint32_t, uint64_t> LedgerCounters::add_to_batch(const LedgerDelta& delta,
                                                                    rocksdb::WriteBatch& batch) {
  std::unordered_map<uint32_t, uint64_t> counts;
  if (delta.empty()) return counts;
  // The last entry per key wins; keys keep their first-seen order. The store keys
  // ('L' + id + key) are laid out in one arena, reserved for all of them (an entry of the delta
  // takes at least as many bytes), so it never moves and the views into it stay valid.
  std::string arena;
  arena.reserve(delta.encoded_bytes());
  std::unordered_map<std::string_view, size_t> slot_of;
  std::vector<rocksdb::Slice> keys;
  std::vector<LedgerDelta::Op> ops;
  std::vector<uint32_t> marks;  // of a kPut or kMark
  std::vector<std::string_view> rows;  // of the last kPut (ledger: rows), into `delta`
  std::vector<uint32_t> ids;
  std::set<uint32_t> cleared;  // tables a kClear emptied: the store's keys of them no longer count
  slot_of.reserve(delta.entries());
  keys.reserve(delta.entries());
  delta.for_each([&](LedgerTableId id, LedgerDelta::Op op, std::string_view key, uint32_t mark, std::string_view row) {
    if (op == LedgerDelta::Op::kClear) {
      cleared.insert(id.value());
      for (size_t i = 0; i < ids.size(); ++i)
        if (ids[i] == id.value()) ops[i] = kDropped;  // an entry after the clear revives its key
      return;
    }
    const size_t at = arena.size();
    arena.push_back('L');
    const uint32_t v = id.value();
    for (int i = 3; i >= 0; --i) arena.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    arena.append(key);
    const std::string_view full(arena.data() + at, arena.size() - at);
    if (auto found = slot_of.find(full); found != slot_of.end()) {
      const size_t i = found->second;
      // A kMark changes only the mark of what the key is by then: live (kPut, kMark) or not.
      if (op != LedgerDelta::Op::kMark) ops[i] = op;
      if (op != LedgerDelta::Op::kErase) marks[i] = mark;
      if (op != LedgerDelta::Op::kMark) rows[i] = row;
      arena.resize(at);
      return;
    }
    keys.emplace_back(full.data(), full.size());
    ops.push_back(op);
    marks.push_back(mark);
    rows.push_back(row);
    ids.push_back(v);
    slot_of.emplace(full, keys.size() - 1);
  });
  // In key order: MultiGet need not sort, and the batch's inserts reach the memtable in order.
  std::vector<size_t> order(keys.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return keys[a].compare(keys[b]) < 0; });
  std::vector<rocksdb::Slice> slices(keys.size());
  for (size_t i = 0; i < order.size(); ++i) slices[i] = keys[order[i]];
  // Read in slices of kReadSlice sorted keys: RocksDB's per-key state of one MultiGet is ~100
  // bytes a key, which a giant transaction's million keys would hold at once.
  std::vector<bool> present_at(keys.size());
  std::vector<uint32_t> stored_mark(keys.size());
  // The stored row of a key a kMark restamps (it must stay); and which stored keys have a row.
  std::unordered_map<size_t, std::string> stored_row;
  std::vector<bool> has_row(keys.size());
  {
    constexpr size_t kReadSlice = 4096;
    std::vector<rocksdb::PinnableSlice> values(std::min(kReadSlice, keys.size()));
    std::vector<rocksdb::Status> statuses(values.size());
    for (size_t from = 0; from < slices.size(); from += kReadSlice) {
      const size_t n = std::min(kReadSlice, slices.size() - from);
      db_.MultiGet(rocksdb::ReadOptions(), db_.DefaultColumnFamily(), n, slices.data() + from, values.data(),
                   statuses.data(), true);
      for (size_t j = 0; j < n; ++j) {
        check_read(dir_, statuses[j], "reading the key ledger");
        present_at[from + j] = statuses[j].ok();
        if (statuses[j].ok()) {
          auto stored = decode_ledger_value(values[j].ToStringView());
          if (!stored) refuse_damaged(dir_, "a key ledger entry is corrupt", std::to_string(values[j].size()) + "-byte value");
          stored_mark[from + j] = stored->mark;
          const size_t i = order[from + j];
          has_row[from + j] = !stored->row.empty();
          if (!stored->row.empty() && marks[i] != 0 && ops[i] == LedgerDelta::Op::kMark)
            stored_row.emplace(from + j, stored->row);
        }
        values[j].Reset();
      }
    }
  }
  std::unordered_map<uint32_t, int64_t> moved;
  // The range deletes first: the puts after a clear, later in the batch, win over them.
  for (uint32_t id : cleared) {
    batch.DeleteRange(ledger_entry_prefix(LedgerTableId(id)), ledger_entry_prefix(LedgerTableId(id + 1)));
    moved[id] = 0;
  }
  for (size_t j = 0; j < slices.size(); ++j) {
    const size_t i = order[j];
    const bool present = present_at[j] && !cleared.contains(ids[i]);
    if (ops[i] == LedgerDelta::Op::kPut && !present) {
      batch.Put(keys[i], encode_ledger_value(marks[i], rows[i]));
      ++moved[ids[i]];
    } else if (ops[i] == LedgerDelta::Op::kPut && present && (!rows[i].empty() || has_row[j])) {
      // ledger: rows: the key's row changed; a mark of 0 keeps the stored one. A put without a row
      // (the table keeps keys only now) drops a stored row: it is older than the key's record.
      batch.Put(keys[i], encode_ledger_value(marks[i] != 0 ? marks[i] : stored_mark[j], rows[i]));
    } else if ((ops[i] == LedgerDelta::Op::kPut || ops[i] == LedgerDelta::Op::kMark) && present && marks[i] != 0 &&
               stored_mark[j] != marks[i]) {
      auto kept = stored_row.find(j);  // stamped by a reconciliation; the stored row stays
      batch.Put(keys[i], encode_ledger_value(marks[i], kept == stored_row.end() ? std::string_view() : kept->second));
    } else if (ops[i] == LedgerDelta::Op::kErase && present) {
      batch.Delete(keys[i]);
      --moved[ids[i]];
    }
  }
  for (const auto& [id, by] : moved) {
    const bool was_cleared = cleared.contains(id);
    if (by == 0 && !was_cleared) continue;
    const int64_t base = was_cleared ? 0 : static_cast<int64_t>(get(LedgerTableId(id)));
    const uint64_t n = static_cast<uint64_t>(base + by);
    counts[id] = n;
    batch.Put(ledger_count_key(LedgerTableId(id)), encode_u64(n));
  }
  return counts;
}

void LedgerCounters::commit(const std::unordered_map<uint32_t, uint64_t>& counts) {
  for (const auto& [id, n] : counts) counts_[id] = n;
}

std::unique_ptr<LedgerKeys> rocksdb_ledger_keys(rocksdb::DB& db, std::string dir, LedgerTableId id) {
  return std::make_unique<RocksLedgerKeys>(db, std::move(dir), id);
}

}  // namespace tombsync::state
