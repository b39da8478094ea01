#include "agent/stream/ledger_row_fill.h"

#include "agent/stream/ledger_row_codec.h"

namespace tombsync {

Metrics::Table* LedgerRowFill::counters(const TableSchema& t) {
  if (metrics_ == nullptr) return nullptr;
  auto it = tables_.find(t.relid);
  if (it == tables_.end()) it = tables_.emplace(t.relid, metrics_->table(t.qualified())).first;
  return it->second;
}

std::string LedgerRowFill::held_id(const ChangeEvent& e) const {
  std::string id = std::to_string(e.table->relid.value());
  id += '/';
  id += encoder_.key(e);
  return id;
}

bool LedgerRowFill::held_key(const ChangeEvent& e) const {
  return !held_keys_.empty() && applies(e) && held_keys_.contains(held_id(e));
}

void LedgerRowFill::on_held(const ChangeEvent& e) {
  if (applies(e)) held_keys_.insert(held_id(e));
}

bool LedgerRowFill::complete(const ChangeEvent& e, ChangeEvent& out) {
  if (!applies(e)) {
    last_deleted_table_ = RelationId(0);
    return false;
  }
  const bool a_delete = e.is_deleted && e.op == Op::kDelete;
  bool filled = false;
  if (has_gaps(e.row)) {
    size_t n = 0;
    if (e.op == Op::kUpdate && e.key_changed) {
      // The old key's row, from the delete that came just before (its key is not this one).
      if (last_deleted_table_ == e.table->relid && last_deleted_.size() == e.row.size()) {
        out = e;
        for (size_t c = 0; c < out.row.size(); ++c) {
          const auto s = out.row[c].state;
          const auto from = last_deleted_[c].state;
          if ((s == Datum::State::kUnchanged || s == Datum::State::kAbsent) &&
              (from == Datum::State::kPresent || from == Datum::State::kNull)) {
            out.row[c] = last_deleted_[c];
            ++n;
          }
        }
      }
    } else if (auto stored = ledger_.row_of(*e.table, encoder_.key(e)); stored && !stored->empty()) {
      out = e;
      n = fill_from_ledger_row(*e.table, *stored, out.row);
    }
    filled = n > 0;
    if (Metrics::Table* t = counters(*e.table)) {
      if (filled) t->ledger_rows_filled.fetch_add(1, std::memory_order_relaxed);
      // Deletes only: an update with gaps left is read from the source (RowFiller counts that),
      // and may pass here twice (before it is held, and when it is released).
      if (a_delete && (!filled || has_gaps(out.row))) t->ledger_rows_missing.fetch_add(1, std::memory_order_relaxed);
    }
  }
  // Kept for the key change's update that may follow; any other event ends that chance.
  if (a_delete) {
    last_deleted_table_ = e.table->relid;
    last_deleted_ = filled ? out.row : e.row;
  } else {
    last_deleted_table_ = RelationId(0);
  }
  return filled;
}

}  // namespace tombsync
