#include "agent/stream/pending_row_index.h"

namespace tombsync {

uint64_t PendingRowIndex::default_hash(LedgerTableId id, std::string_view key) {
  return std::hash<std::string_view>{}(key) ^ (static_cast<uint64_t>(id.value()) * 0x9e3779b97f4a7c15ULL);
}

std::string PendingRowIndex::exact_key(LedgerTableId id, std::string_view key) {
  std::string k(4, '\0');
  for (int i = 0; i < 4; ++i) k[i] = static_cast<char>((id.value() >> (24 - 8 * i)) & 0xff);
  k.append(key);
  return k;
}

bool PendingRowIndex::names(const Entry& e, LedgerTableId id, std::string_view key) const {
  const auto [at_id, at_key] = resolve_(e);
  return at_id == id && at_key == key;
}

void PendingRowIndex::put(LedgerTableId id, std::string_view key, const Entry& e) {
  const uint64_t h = hash_(id, key);
  if (!collided_.empty() && collided_.contains(h)) {
    exact_[exact_key(id, key)] = e;
    return;
  }
  auto [it, added] = by_hash_.try_emplace(h, e);
  if (added) return;
  if (names(it->second, id, key)) {
    it->second = e;
    return;
  }
  // Another key with the same hash: both, and every later key of that hash, are kept exact.
  const auto [old_id, old_key] = resolve_(it->second);
  exact_[exact_key(old_id, old_key)] = it->second;
  by_hash_.erase(it);
  collided_.insert(h);
  exact_[exact_key(id, key)] = e;
}

const PendingRowIndex::Entry* PendingRowIndex::find(LedgerTableId id, std::string_view key) const {
  const uint64_t h = hash_(id, key);
  if (!collided_.empty() && collided_.contains(h)) {
    auto it = exact_.find(exact_key(id, key));
    return it == exact_.end() ? nullptr : &it->second;
  }
  auto it = by_hash_.find(h);
  if (it == by_hash_.end() || !names(it->second, id, key)) return nullptr;
  return &it->second;
}

void PendingRowIndex::drop(LedgerTableId id, std::string_view key, uint64_t serial, bool snapshot) {
  const uint64_t h = hash_(id, key);
  if (!collided_.empty() && collided_.contains(h)) {
    auto it = exact_.find(exact_key(id, key));
    if (it != exact_.end() && it->second.serial == serial && it->second.snapshot == snapshot) exact_.erase(it);
    if (exact_.empty()) collided_.clear();
    return;
  }
  auto it = by_hash_.find(h);
  // The serial and delta first: an entry of another transaction may not be resolvable any more.
  if (it != by_hash_.end() && it->second.serial == serial && it->second.snapshot == snapshot &&
      names(it->second, id, key))
    by_hash_.erase(it);
}

}  // namespace tombsync
