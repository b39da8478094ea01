// Changes to the key ledger (docs/architecture.md "The key ledger"): the set
// of Kafka record keys, per table, that tombsync has published as live. A
// LedgerDelta is a batch of "this key became live" (kPut), "this key is
// gone" (kErase) and "every key of this table is gone" (kClear, a TRUNCATE
// expanded into per-key deletes; its key is empty) entries in stream order; the store applies a batch in the
// same synced RocksDB write as the cursor (or the snapshot progress) it
// belongs to, so the ledger never runs ahead of or behind what is confirmed.
// Entries are kept in one byte string ([op 1][table id 4][mark 4, when
// not 0][key length varint][key][row length varint][row], the row only with `ledger: rows`),
// about the key's (and row's) size plus 6 bytes each, with no allocation per entry: a delta
// lives in memory only until its transaction is saved.
// Not thread-safe; a value type.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "base/named_type.h"

namespace tombsync {

// A table's short id in the ledger (assigned by CursorStore::ledger_table, never 0), so an
// entry on disk carries 4 bytes instead of the table's name.
using LedgerTableId = NamedType<uint32_t, struct LedgerTableIdTag>;

class LedgerDelta {
 public:
  // kMark: stamp the key with a reconciliation mark if the ledger holds it (a dry run's re-read:
  // the key's membership does not change, since nothing is published). kPut and kMark carry a
  // mark (0 for a plain kPut): a kPut of a key the ledger holds rewrites it only when the mark
  // differs, so an update outside a reconciliation still costs a read, not a write.
  enum class Op : uint8_t { kPut = 1, kErase = 2, kClear = 3, kMark = 4 };

  // `key`: the Kafka record key bytes exactly as written (empty for kClear). `mark`: for kPut
  // and kMark (state/cursor_store.h SnapshotProgress::reconcile_mark). `row`: for a kPut of a
  // table with `ledger: rows`, the key's last complete row (agent/stream/ledger_row_codec.h),
  // opaque here; empty: none (the key alone). A kPut with a row always rewrites the stored value.
  void add(LedgerTableId table, Op op, std::string_view key, uint32_t mark = 0, std::string_view row = {});
  // Every key of `table` is gone: the entries before it (in this delta and in the store) no
  // longer count; those after it apply to an empty table.
  void clear_table(LedgerTableId table) { add(table, Op::kClear, {}); }
  // Appends `other`'s entries after this one's.
  void append(const LedgerDelta& other);
  // The same, leaving `other` empty (its bytes are taken when this one is empty).
  void append(LedgerDelta&& other);
  void clear();
  bool empty() const { return entries_ == 0; }
  size_t entries() const { return entries_; }
  size_t memory_bytes() const { return bytes_.capacity(); }
  // The encoded size: at least the sum, over the entries, of 5 + the key's size.
  size_t encoded_bytes() const { return bytes_.size(); }

  // Calls f(LedgerTableId, Op, std::string_view key[, uint32_t mark[, std::string_view row]]) for
  // every entry, in order. The views point into this delta: valid while it lives and is not changed.
  template <class F>
  void for_each(F&& f) const {
    size_t at = 0;
    while (at < bytes_.size()) {
      const auto tag = static_cast<unsigned char>(bytes_[at]);
      const auto op = static_cast<Op>(tag & 0x3f);
      uint32_t id = 0;
      for (int i = 1; i <= 4; ++i) id = (id << 8) | static_cast<unsigned char>(bytes_[at + i]);
      at += 5;
      uint32_t mark = 0;
      if ((tag & kMarked) != 0) {  // a mark follows the id
        for (int i = 0; i < 4; ++i) mark = (mark << 8) | static_cast<unsigned char>(bytes_[at + i]);
        at += 4;
      }
      const size_t len = varint(at);
      const std::string_view key = std::string_view(bytes_).substr(at, len);
      at += len;
      std::string_view row;
      if ((tag & kWithRow) != 0) {
        const size_t row_len = varint(at);
        row = std::string_view(bytes_).substr(at, row_len);
        at += row_len;
      }
      if constexpr (std::is_invocable_v<F, LedgerTableId, Op, std::string_view, uint32_t, std::string_view>)
        f(LedgerTableId(id), op, key, mark, row);
      else if constexpr (std::is_invocable_v<F, LedgerTableId, Op, std::string_view, uint32_t>)
        f(LedgerTableId(id), op, key, mark);
      else
        f(LedgerTableId(id), op, key);
    }
  }
  // Calls f(size_t offset, LedgerTableId, Op, std::string_view key) for every entry, in order:
  // `offset` is where the entry starts (as end_offset() gave it before the add).
  template <class F>
  void for_each_offset(F&& f) const {
    size_t at = 0;
    while (at < bytes_.size()) {
      const size_t start = at;
      const auto tag = static_cast<unsigned char>(bytes_[at]);
      const auto [id, key] = key_at(start);
      at += 5 + ((tag & kMarked) != 0 ? 4 : 0);
      at += varint(at);
      at += key.size();
      if ((tag & kWithRow) != 0) {
        const size_t row_len = varint(at);
        at += row_len;
      }
      f(start, id, static_cast<Op>(tag & 0x3f), key);
    }
  }
  // Where the next entry add() makes starts: with row_at(), a way back to its row.
  size_t end_offset() const { return bytes_.size(); }
  // The row of the entry starting at `offset` (an end_offset() taken before it was added); empty
  // when it has none.
  std::string_view row_at(size_t offset) const;
  // The table and key of the entry starting at `offset` (as for row_at).
  std::pair<LedgerTableId, std::string_view> key_at(size_t offset) const;

 private:
  static constexpr unsigned char kMarked = 0x80;   // on the op byte: 4 mark bytes follow the id
  static constexpr unsigned char kWithRow = 0x40;  // on the op byte: a row follows the key
  size_t varint(size_t& at) const {
    size_t len = 0;
    for (int shift = 0;; shift += 7) {
      const auto b = static_cast<unsigned char>(bytes_[at++]);
      len |= static_cast<size_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) break;
    }
    return len;
  }
  void put_varint(size_t len);
  std::string bytes_;
  size_t entries_ = 0;
};

}  // namespace tombsync
