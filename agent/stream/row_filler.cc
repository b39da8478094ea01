#include "agent/stream/row_filler.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <string>

#include "base/error.h"
#include "base/log.h"

namespace tombsync {
namespace {

bool has_unchanged(const ChangeEvent& e) {
  for (const auto& d : e.row)
    if (d.state == Datum::State::kUnchanged) return true;
  return false;
}

}  // namespace

std::string key_string(const TableSchema& table, const std::vector<Datum>& row) {
  std::string s;
  for (auto i : table.key_indexes) {
    const Datum& d = row[i];
    s += static_cast<char>('0' + static_cast<int>(d.state));
    if (d.present()) {
      // The same decoding made both sides' Datums, so equal keys have equal fields.
      s += std::to_string(d.i);
      s += d.b ? 't' : 'f';
      s += std::to_string(d.text.size());
      s += ':';
      s += d.text;
    }
    s += '\x1f';
  }
  return s;
}

RowFiller::RowFiller(RowLookup& lookup, Metrics* metrics, std::function<bool(const TableSchema&)> complete_rows,
                     size_t max_held)
    : lookup_(lookup), metrics_(metrics), complete_rows_(std::move(complete_rows)),
      max_held_(max_held == 0 ? 1 : max_held) {}

bool RowFiller::needs_fill(const ChangeEvent& e) const {
  if (e.op != Op::kUpdate || e.is_deleted || e.table->key_indexes.empty()) return false;
  if (!e.key_changed && !(complete_rows_ && complete_rows_(*e.table))) return false;
  return has_unchanged(e);
}

bool RowFiller::hold(ChangeEvent&& e) {
  const bool fill = needs_fill(e);
  for (const auto& d : e.row) held_bytes_ += d.text.size();
  held_.push_back(Held{std::move(e), fill});
  return held_.size() >= max_held_ || held_bytes_ >= kMaxHeldBytes;
}

Metrics::Table* RowFiller::counters(const TableSchema& t) {
  if (metrics_ == nullptr) return nullptr;
  auto it = tables_.find(t.relid);
  if (it == tables_.end()) it = tables_.emplace(t.relid, metrics_->table(t.qualified())).first;
  return it->second;
}

// One lookup for the table's held events in `which` (indexes into held_), each key read once.
void RowFiller::fill_table(const TableSchema& table, const std::vector<size_t>& which) {
  std::vector<const std::vector<Datum>*> keys;
  std::unordered_map<std::string, size_t> found;  // key -> index in rows_, or npos while unread
  for (auto h : which)
    if (found.emplace(key_string(table, held_[h].event.row), std::string::npos).second)
      keys.push_back(&held_[h].event.row);
  rows_.clear();
  const auto started = std::chrono::steady_clock::now();
  try {
    lookup_.lookup(table, held_[which.front()].event.source.xid, keys, rows_);
  } catch (const Error& e) {
    // A lost connection: the session restarts and the transaction is streamed again. Anything
    // else (the table altered or gone, a privilege missing, a timeout, a value the old schema
    // cannot decode) would fail the same way at every replay: the records go as they came, with
    // the columns listed as unchanged, and one warning says so.
    if (e.transient()) throw;
    rows_.clear();
    log::warn("could not complete {} rows of {} from the source ({}); they are sent with those columns unchanged "
              "(__unchanged), as Postgres sent them",
              which.size(), table.qualified(), e.what());
  }
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started);
  for (size_t r = 0; r < rows_.size(); ++r)
    if (rows_[r].size() == table.columns.size()) found[key_string(table, rows_[r])] = r;
  uint64_t missing = 0;
  for (auto h : which) {
    auto& row = held_[h].event.row;
    const size_t r = found[key_string(table, row)];
    if (r == std::string::npos) {
      ++missing;  // deleted since: the record keeps the columns unchanged, and the delete follows
      continue;
    }
    for (size_t c = 0; c < row.size() && c < rows_[r].size(); ++c)
      if (row[c].state == Datum::State::kUnchanged && rows_[r][c].state != Datum::State::kUnchanged &&
          rows_[r][c].state != Datum::State::kAbsent)
        row[c] = rows_[r][c];  // copied: the same key may be held twice
  }
  if (Metrics::Table* t = counters(table)) {
    t->fill_queries.fetch_add(1, std::memory_order_relaxed);
    t->fill_rows.fetch_add(rows_.size(), std::memory_order_relaxed);
    t->fill_missing.fetch_add(missing, std::memory_order_relaxed);
    t->fill_micros.fetch_add(static_cast<uint64_t>(micros.count()), std::memory_order_relaxed);
  }
}

void RowFiller::release(const std::function<bool(const ChangeEvent&)>& send) {
  struct Clear {
    RowFiller& f;
    ~Clear() { f.clear(); }
  } clear_after{*this};
  // Tables (schema versions: an ALTER mid-transaction gives two) in the order their first
  // incomplete event came: the queries' order is deterministic.
  std::vector<std::pair<const TableSchema*, std::vector<size_t>>> by_table;
  for (size_t h = 0; h < held_.size(); ++h) {
    if (!held_[h].fill) continue;
    const TableSchema* t = held_[h].event.table.get();
    auto it = std::find_if(by_table.begin(), by_table.end(), [&](const auto& p) { return p.first == t; });
    if (it == by_table.end()) it = by_table.insert(by_table.end(), {t, {}});
    it->second.push_back(h);
  }
  for (const auto& [table, which] : by_table) fill_table(*table, which);
  for (const auto& h : held_)
    if (!send(h.event)) return;
}

}  // namespace tombsync
