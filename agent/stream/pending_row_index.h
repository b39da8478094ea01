// For `ledger: rows`: where the newest unsaved change of each key is, so that
// LedgerRecorder::row_of answers "what does the ledger hold for this key as of
// the record last built" without scanning the unsaved transactions.
//
// An entry names a change by its transaction (serial), the delta it is in
// (stream or snapshot rows) and its offset there; the delta entry itself holds
// the key bytes, so the index keys entries by a 64-bit hash of (table, key) and
// checks the key against the delta entry (`resolve`) instead of copying it:
// one hash-map node per changed key, no key allocation. Two keys whose hashes
// collide are kept exact, by their full key bytes, from then on.
// Contract with the owner: an entry's delta stays where `resolve` finds it until
// drop() removed the entry (LedgerRecorder drops a transaction's entries before
// its deltas are saved or discarded).
// Not thread-safe: the pipeline thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "state/ledger_delta.h"

namespace tombsync {

class PendingRowIndex {
 public:
  struct Entry {
    uint64_t serial = 0;    // of its transaction
    uint64_t order = 0;     // of the change, along the stream
    bool snapshot = false;  // in the snapshot rows' delta, not the stream's
    bool live = false;      // false: erased
    size_t offset = 0;      // of its entry in that delta (LedgerDelta::row_at / key_at)
  };
  // The table and key the delta entry of `e` names.
  using Resolve = std::function<std::pair<LedgerTableId, std::string_view>(const Entry&)>;

  // `hash`: of (table, key); tests give a weak one to force collisions.
  using Hash = uint64_t (*)(LedgerTableId, std::string_view);
  explicit PendingRowIndex(Resolve resolve, Hash hash = &default_hash) : resolve_(std::move(resolve)), hash_(hash) {}
  static uint64_t default_hash(LedgerTableId id, std::string_view key);

  // `e` is now the newest change of (id, key).
  void put(LedgerTableId id, std::string_view key, const Entry& e);
  // The newest unsaved change of (id, key); null when none is held.
  const Entry* find(LedgerTableId id, std::string_view key) const;
  // Forgets the entry of (id, key) if it is still the change of transaction `serial` in that delta.
  void drop(LedgerTableId id, std::string_view key, uint64_t serial, bool snapshot);
  void clear() {
    by_hash_.clear();
    exact_.clear();
    collided_.clear();
  }
  bool empty() const { return by_hash_.empty() && exact_.empty(); }
  size_t size() const { return by_hash_.size() + exact_.size(); }

 private:
  static std::string exact_key(LedgerTableId id, std::string_view key);
  bool names(const Entry& e, LedgerTableId id, std::string_view key) const;

  Resolve resolve_;
  Hash hash_;
  std::unordered_map<uint64_t, Entry> by_hash_;
  std::unordered_map<std::string, Entry> exact_;  // keys whose hash another key shares
  std::unordered_set<uint64_t> collided_;         // those hashes
};

}  // namespace tombsync
