// The keys the key ledger holds for one table as of the record last built
// (docs/architecture.md "The key ledger"): the store's keys (a consistent
// view, streamed: never all in memory) as changed by the transactions the
// LedgerRecorder holds that are not saved yet (those are in memory already),
// in key byte order, each with the reconciliation mark it carries. The order
// does not depend on what the store saved in between, so a restart that reads
// a transaction again walks the same keys in the same order.
// Used by the TRUNCATE expansion and by reconciliation's sweep. Pipeline thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "agent/stream/ledger_recorder.h"
#include "state/cursor_store.h"

namespace tombsync {

class LedgerView {
 public:
  LedgerView(CursorStore& store, const std::string& slot, const std::string& table, LedgerRecorder::Pending pending);

  // The next live key and its mark; false at the end. Throws Error(kState) when the store cannot be read.
  bool next(std::string& key, uint32_t& mark);
  // About how many keys next() gives: the store's counter plus the pending keys made live (a key
  // both hold counts twice).
  uint64_t estimate() const { return estimate_; }

 private:
  void advance_stored();

  LedgerRecorder::Pending pending_;
  std::unique_ptr<LedgerKeys> stored_;  // null when a pending clear makes the store's keys moot
  std::optional<std::string> s_;        // the store's current key
  uint32_t s_mark_ = 0;
  std::map<std::string, LedgerRecorder::Key>::const_iterator p_;
  uint64_t estimate_ = 0;
};

}  // namespace tombsync
