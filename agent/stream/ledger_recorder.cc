#include "agent/stream/ledger_recorder.h"

#include "base/error.h"

namespace tombsync {

LedgerRecorder::LedgerRecorder(const Config& config, CursorStore& store, std::string slot)
    : config_(config), store_(store), slot_(std::move(slot)) {
  for (const auto& t : config_.source.tables)
    if (config_.ledger_for(t) == LedgerMode::kKeys) tables_.push_back(t.name.qualified());
}

LedgerRecorder::TableState& LedgerRecorder::state_of(const TableSchema& table) {
  auto it = ids_.find(table.relid);
  if (it != ids_.end()) return it->second;
  TableState t{table.qualified(), std::nullopt, 0};
  const TableConfig* tc = config_.find_table(table.schema, table.table);
  if (tc != nullptr && config_.ledger_for(*tc) == LedgerMode::kKeys && !table.key_indexes.empty()) {
    t.id = store_.ledger_table(slot_, t.name);
    // A reconciliation a restart found under way keeps stamping with its mark.
    if (auto p = store_.load_snapshot(slot_, t.name); p && !p->done) t.mark = p->reconcile_mark;
  }
  return ids_.emplace(table.relid, std::move(t)).first->second;
}

std::optional<LedgerTableId> LedgerRecorder::table_id(const TableSchema& table) { return state_of(table).id; }

void LedgerRecorder::set_mark(const std::string& table, uint32_t mark) {
  for (auto& [relid, t] : ids_)
    if (t.name == table) t.mark = mark;
  // A table not seen yet reads its mark from its snapshot progress at its first record.
}

void LedgerRecorder::on_begin(Lsn commit_lsn) {
  if (!txns_.empty() && !txns_.back().committed) txns_.pop_back();
  txns_.push_back(Txn{commit_lsn, Lsn(), false, {}, {}});
}

void LedgerRecorder::on_records(const TableSchema& table, const std::vector<Record>& records, bool snapshot_row) {
  if (records.empty()) return;
  const TableState& t = state_of(table);
  if (!t.id) return;
  if (txns_.empty() || txns_.back().committed)
    throw Error(ErrorKind::kInternal, "ledger change of " + t.name + " outside a transaction");
  LedgerDelta& out = snapshot_row ? txns_.back().snapshot : txns_.back().stream;
  for (const Record& r : records) {
    if (!r.key || r.all_partitions) continue;
    if (r.value.has_value() && !r.deleted) out.add(*t.id, LedgerDelta::Op::kPut, *r.key, t.mark);
    else out.add(*t.id, LedgerDelta::Op::kErase, *r.key);
  }
}

void LedgerRecorder::on_marks(const TableSchema& table, const std::vector<Record>& records) {
  const TableState& t = state_of(table);
  if (!t.id || t.mark == 0) return;
  if (txns_.empty() || txns_.back().committed)
    throw Error(ErrorKind::kInternal, "ledger mark of " + t.name + " outside a transaction");
  for (const Record& r : records)
    if (r.key && !r.all_partitions && r.value.has_value() && !r.deleted)
      txns_.back().snapshot.add(*t.id, LedgerDelta::Op::kMark, *r.key, t.mark);
}

void LedgerRecorder::on_commit(Lsn commit_lsn, Lsn end_lsn) {
  if (txns_.empty() || txns_.back().committed || txns_.back().commit_lsn != commit_lsn) return;
  Txn& t = txns_.back();
  if (t.stream.empty() && t.snapshot.empty()) {
    txns_.pop_back();
    return;
  }
  t.end_lsn = end_lsn;
  t.committed = true;
}

void LedgerRecorder::on_clear(const TableSchema& table) {
  const auto id = table_id(table);
  if (!id) return;
  if (txns_.empty() || txns_.back().committed)
    throw Error(ErrorKind::kInternal, "ledger clear of " + table.qualified() + " outside a transaction");
  txns_.back().stream.clear_table(*id);
}

LedgerRecorder::Pending LedgerRecorder::pending_of(const TableSchema& table) {
  Pending out;
  const auto id = table_id(table);
  if (!id) return out;
  // The rules of the store (state/rocksdb_ledger.h), entry by entry.
  auto apply = [&](LedgerTableId t, LedgerDelta::Op op, std::string_view key, uint32_t mark) {
    using State = Key::State;
    if (t != *id) return;
    if (op == LedgerDelta::Op::kClear) {
      out.cleared = true;
      out.keys.clear();
      return;
    }
    auto [it, added] = out.keys.try_emplace(std::string(key), Key{State::kGone, 0});
    Key& k = it->second;
    if (op == LedgerDelta::Op::kErase) {
      k = Key{State::kGone, 0};
    } else if (op == LedgerDelta::Op::kPut) {
      k = Key{State::kLive, mark};  // mark 0: the store's mark stays, if it holds the key
    } else if (added) {  // kMark of a key only the store can say it holds
      k = Key{out.cleared ? State::kGone : State::kMarked, mark};
    } else if (k.state != State::kGone && mark != 0) {
      k.mark = mark;
    }
  };
  for (const Txn& t : txns_) {  // the order take_acknowledged saves them in
    t.stream.for_each(apply);
    t.snapshot.for_each(apply);
  }
  return out;
}

void LedgerRecorder::take_acknowledged(Lsn acked, LedgerDelta& out) {
  while (!txns_.empty() && txns_.front().committed && txns_.front().end_lsn <= acked) {
    out.append(std::move(txns_.front().stream));
    out.append(std::move(txns_.front().snapshot));  // normally taken already, with its chunk's progress
    txns_.pop_front();
  }
}

void LedgerRecorder::take_snapshot_rows(Lsn end_lsn, LedgerDelta& out) {
  for (Txn& t : txns_) {
    if (!t.committed || t.end_lsn > end_lsn) break;
    if (t.end_lsn == end_lsn) out.append(std::move(t.snapshot));
  }
}

std::optional<Lsn> LedgerRecorder::clear_before(Lsn end_lsn) const {
  bool clear = false;
  std::optional<Lsn> last;
  for (const Txn& t : txns_) {
    if (!t.committed || t.end_lsn >= end_lsn) break;
    clear = clear || t.stream.has_clear();
    last = t.end_lsn;
  }
  return clear ? last : std::nullopt;
}

void LedgerRecorder::publish(Metrics& metrics) {
  for (const auto& name : tables_)
    if (Metrics::Table* t = metrics.table(name))
      t->ledger_keys.store(static_cast<int64_t>(store_.ledger_count(slot_, name)), std::memory_order_relaxed);
}

size_t LedgerRecorder::pending_entries() const {
  size_t n = 0;
  for (const Txn& t : txns_) n += t.stream.entries() + t.snapshot.entries();
  return n;
}

}  // namespace tombsync
