#include "agent/stream/ledger_recorder.h"

#include "agent/stream/ledger_row_codec.h"
#include "base/error.h"

namespace tombsync {

LedgerRecorder::LedgerRecorder(const Config& config, CursorStore& store, std::string slot)
    : config_(config), store_(store), slot_(std::move(slot)), pending_rows_([this](const PendingRowIndex::Entry& e) {
        const Txn* txn = txn_by_serial(e.serial);
        if (txn == nullptr) throw Error(ErrorKind::kInternal, "the ledger's row index names a transaction no longer held");
        return (e.snapshot ? txn->snapshot : txn->stream).key_at(e.offset);
      }) {
  for (const auto& t : config_.source.tables)
    if (config_.ledger_for(t) != LedgerMode::kNone) tables_.push_back(t.name.qualified());
}

LedgerRecorder::TableState& LedgerRecorder::state_of(const TableSchema& table) {
  auto it = ids_.find(table.relid);
  if (it != ids_.end()) return it->second;
  TableState t{table.qualified(), std::nullopt, 0, false};
  const TableConfig* tc = config_.find_table(table.schema, table.table);
  if (tc != nullptr && config_.ledger_for(*tc) != LedgerMode::kNone && !table.key_indexes.empty()) {
    t.id = store_.ledger_table(slot_, t.name);
    t.rows = config_.ledger_for(*tc) == LedgerMode::kRows;
    if (t.rows) rows_ids_.insert(t.id->value());
    // A reconciliation a restart found under way keeps stamping with its mark.
    if (auto p = store_.load_snapshot(slot_, t.name); p && !p->done) t.mark = p->reconcile_mark;
  }
  return ids_.emplace(table.relid, std::move(t)).first->second;
}

std::optional<LedgerTableId> LedgerRecorder::table_id(const TableSchema& table) { return state_of(table).id; }

bool LedgerRecorder::keeps_rows(const TableSchema& table) const {
  // const for LedgerRowFill's checks: a table not seen yet is looked up as state_of would.
  auto it = ids_.find(table.relid);
  if (it != ids_.end()) return it->second.rows;
  const TableConfig* tc = config_.find_table(table.schema, table.table);
  return tc != nullptr && config_.ledger_for(*tc) == LedgerMode::kRows && !table.key_indexes.empty();
}

void LedgerRecorder::set_mark(const std::string& table, uint32_t mark) {
  for (auto& [relid, t] : ids_)
    if (t.name == table) t.mark = mark;
  // A table not seen yet reads its mark from its snapshot progress at its first record.
}

void LedgerRecorder::on_begin(Lsn commit_lsn) {
  if (!txns_.empty() && !txns_.back().committed) {
    // The index held only the newest change per key: the dropped transaction's may have hidden an
    // older unsaved one, so the index is made again from what is left (a forced stop only).
    const bool rebuild = !pending_rows_.empty() || !cleared_in_.empty();
    txns_.pop_back();
    if (rebuild) rebuild_rows_index();
  }
  txns_.push_back(Txn{commit_lsn, Lsn(), false, {}, {}, next_serial_++});
}

// The index entries the transaction's deltas made (stream, snapshot or both) that are still the
// newest of their key; called before those deltas are saved or dropped.
void LedgerRecorder::forget_rows(const Txn& t, bool stream, bool snapshot) {
  if (pending_rows_.empty() && cleared_in_.empty()) return;
  std::erase_if(cleared_in_, [&](const auto& kv) { return stream && kv.second.serial == t.serial; });
  auto drop = [&](bool from_snapshot) {
    return [&, from_snapshot](LedgerTableId id, LedgerDelta::Op op, std::string_view key) {
      if (op == LedgerDelta::Op::kClear || op == LedgerDelta::Op::kMark) return;
      pending_rows_.drop(id, key, t.serial, from_snapshot);
    };
  };
  if (pending_rows_.empty()) return;
  if (stream) t.stream.for_each(drop(false));
  if (snapshot) t.snapshot.for_each(drop(true));
}

void LedgerRecorder::rebuild_rows_index() {
  pending_rows_.clear();
  cleared_in_.clear();
  for (const Txn& t : txns_) {  // in stream order; a transaction's chunk rows after its changes
    for (const bool snapshot : {false, true}) {
      (snapshot ? t.snapshot : t.stream).for_each_offset([&](size_t at, LedgerTableId id, LedgerDelta::Op op,
                                                             std::string_view key) {
        if (!rows_ids_.contains(id.value()) || op == LedgerDelta::Op::kMark) return;
        if (op == LedgerDelta::Op::kClear) {
          cleared_in_[id.value()] = Cleared{t.serial, next_order_++};
          return;
        }
        pending_rows_.put(id, key,
                          PendingRowIndex::Entry{t.serial, next_order_++, snapshot, op == LedgerDelta::Op::kPut, at});
      });
    }
  }
}

LedgerRecorder::Txn* LedgerRecorder::txn_by_serial(uint64_t serial) {
  auto it = std::lower_bound(txns_.begin(), txns_.end(), serial,
                             [](const Txn& t, uint64_t s) { return t.serial < s; });
  return it != txns_.end() && it->serial == serial ? &*it : nullptr;
}

std::optional<std::string_view> LedgerRecorder::row_of(const TableSchema& table, std::string_view key) {
  const TableState& t = state_of(table);
  if (!t.id || !t.rows) return std::nullopt;
  if (!pending_rows_.empty()) {
    if (const PendingRowIndex::Entry* e = pending_rows_.find(*t.id, key)) {
      auto cleared = cleared_in_.find(t.id->value());
      if (!e->live) return std::nullopt;
      if (cleared != cleared_in_.end() && e->order < cleared->second.order) return std::nullopt;
      const Txn* txn = txn_by_serial(e->serial);
      if (txn == nullptr) throw Error(ErrorKind::kInternal, "ledger row index of " + t.name + " names a saved transaction");
      return (e->snapshot ? txn->snapshot : txn->stream).row_at(e->offset);
    }
  }
  if (cleared_in_.contains(t.id->value())) return std::nullopt;  // an unsaved TRUNCATE emptied it
  auto stored = store_.ledger_row(*t.id, key);
  if (!stored) return std::nullopt;
  read_ = std::move(*stored);
  return std::string_view(read_);
}

void LedgerRecorder::on_records(const TableSchema& table, const std::vector<Record>& records, bool snapshot_row,
                                const std::vector<Datum>* row) {
  if (records.empty()) return;
  const TableState& t = state_of(table);
  if (!t.id) return;
  if (txns_.empty() || txns_.back().committed)
    throw Error(ErrorKind::kInternal, "ledger change of " + t.name + " outside a transaction");
  Txn& txn = txns_.back();
  LedgerDelta& out = snapshot_row ? txn.snapshot : txn.stream;
  for (const Record& r : records) {
    if (!r.key || r.all_partitions) continue;
    const bool put = r.value.has_value() && !r.deleted;
    const size_t offset = out.end_offset();
    if (put && t.rows && row != nullptr) {
      encode_ledger_row(table, *row, encoded_);
      out.add(*t.id, LedgerDelta::Op::kPut, *r.key, t.mark, encoded_);
    } else {
      out.add(*t.id, put ? LedgerDelta::Op::kPut : LedgerDelta::Op::kErase, *r.key, put ? t.mark : 0);
    }
    if (t.rows) pending_rows_.put(*t.id, *r.key, PendingRowIndex::Entry{txn.serial, next_order_++, snapshot_row, put, offset});
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
  // The index keeps the earlier changes (older than the clear, they read as gone): dropped here,
  // a key changed only in an earlier unsaved transaction would read the store's row instead.
  if (keeps_rows(table)) cleared_in_[id->value()] = Cleared{txns_.back().serial, next_order_++};
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
    forget_rows(txns_.front(), true, true);
    out.append(std::move(txns_.front().stream));
    out.append(std::move(txns_.front().snapshot));  // normally taken already, with its chunk's progress
    txns_.pop_front();
  }
}

void LedgerRecorder::take_snapshot_rows(Lsn end_lsn, LedgerDelta& out) {
  for (Txn& t : txns_) {
    if (!t.committed || t.end_lsn > end_lsn) break;
    if (t.end_lsn != end_lsn) continue;
    forget_rows(t, false, true);
    out.append(std::move(t.snapshot));
  }
}

std::optional<Lsn> LedgerRecorder::unsaved_before(Lsn end_lsn) const {
  std::optional<Lsn> last;  // a transaction without changes is not kept once committed
  for (const Txn& t : txns_) {
    if (!t.committed || t.end_lsn >= end_lsn) break;
    last = t.end_lsn;
  }
  return last;
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
