#include "agent/stream/ledger_view.h"

namespace tombsync {

LedgerView::LedgerView(CursorStore& store, const std::string& slot, const std::string& table,
                       LedgerRecorder::Pending pending)
    : pending_(std::move(pending)) {
  if (!pending_.cleared) {
    stored_ = store.ledger_keys(slot, table);
    estimate_ = store.ledger_count(slot, table);
  }
  for (const auto& [key, k] : pending_.keys) estimate_ += k.state == LedgerRecorder::Key::State::kLive ? 1 : 0;
  p_ = pending_.keys.begin();
  advance_stored();
}

void LedgerView::advance_stored() {
  std::string k;
  if (stored_ && stored_->next(k)) {
    s_ = std::move(k);
    s_mark_ = stored_->mark();
  } else {
    s_.reset();
  }
}

// A merge of two sorted sequences: the store's keys and the pending changes (which win).
bool LedgerView::next(std::string& key, uint32_t& mark) {
  using State = LedgerRecorder::Key::State;
  while (s_ || p_ != pending_.keys.end()) {
    if (p_ == pending_.keys.end() || (s_ && *s_ < p_->first)) {
      key = std::move(*s_);
      mark = s_mark_;
      advance_stored();
      return true;
    }
    const bool stored = s_ && *s_ == p_->first;
    const uint32_t stored_mark = stored ? s_mark_ : 0;
    if (stored) advance_stored();
    const auto& [pkey, k] = *p_++;
    if (k.state == State::kGone || (k.state == State::kMarked && !stored)) continue;
    key = pkey;
    mark = k.mark != 0 ? k.mark : stored_mark;
    return true;
  }
  return false;
}

}  // namespace tombsync
