// Completes records whose row has unchanged TOAST values nobody can fill from
// the old tuple (docs/event-format.md, "Unchanged values"): today the new key
// of a primary-key change (an update with key_changed), whose old image is the
// key only, so the new key's record would list those columns as unchanged and
// no consumer has a value to keep (its old key was deleted just before).
//
// The contract with the streaming loop (StreamLoop), which keeps a
// transaction's records in order and their (commit_lsn, seq) positions the
// same on every re-read of the transaction (RedeliveryFilter relies on both):
//  - once an event needs a lookup (needs_fill), it and every later event of the
//    same transaction are held, in order, instead of being sent;
//  - at most max_held events (and about kMaxHeldBytes of their values) are held:
//    hold() says when the bound is reached,
//    and the loop calls release() at once; it calls release() too before the
//    commit is handed to the tracker, before a TRUNCATE, and before a snapshot
//    chunk's rows or a sweep (which are not held);
//  - release() reads what the held events lack with one lookup per table
//    (RowLookup), fills them, and hands them back in their original order; the
//    loop builds their records then, so seq numbers follow send order, and the
//    hold and release points depend only on the transaction's events: a
//    replay after a crash gives the same positions.
// Pgoutput streams only committed transactions, so a lookup reads the row as
// of the commit or later. A later value is safe (the later change arrives as
// its own event); a row gone by then keeps its columns unchanged (counted as
// missing) and its delete follows in the stream.
// Single-threaded: the pipeline thread.
#pragma once

#include <cstddef>
#include <functional>
#include <unordered_map>
#include <vector>

#include "agent/ops/metrics.h"
#include "agent/stream/row_lookup.h"
#include "schemas/change.h"

namespace tombsync {

class RowFiller {
 public:
  static constexpr size_t kMaxHeld = 1000;
  // And at most about this many bytes of column values (large TOAST values held whole).
  static constexpr size_t kMaxHeldBytes = size_t{64} << 20;

  // `complete_rows(table)`: every update of the table with unchanged values is completed, not
  // only a key change's (null: key changes only). `metrics` gets the fill counters (may be null).
  RowFiller(RowLookup& lookup, Metrics* metrics, std::function<bool(const TableSchema&)> complete_rows = nullptr,
            size_t max_held = kMaxHeld);

  // Whether the event lacks values (unchanged TOAST) that only the source can give.
  bool needs_fill(const ChangeEvent& e) const;
  bool holding() const { return !held_.empty(); }
  size_t held() const { return held_.size(); }
  // Takes `e` (moved) as the next held event; true when max_held are held: call release().
  bool hold(ChangeEvent&& e);
  // Fills the held events that need it (one lookup per table) and calls `send` on each held
  // event in order, stopping early when it returns false (a forced stop). Holds nothing after,
  // also when the lookup throws (the transaction is then streamed again whole).
  void release(const std::function<bool(const ChangeEvent&)>& send);
  // Drops what is held (a transaction abandoned or a new one begun).
  void clear() {
    held_.clear();
    held_bytes_ = 0;
  }

 private:
  struct Held {
    ChangeEvent event;
    bool fill = false;
  };
  void fill_table(const TableSchema& table, const std::vector<size_t>& which);
  Metrics::Table* counters(const TableSchema& t);

  RowLookup& lookup_;
  Metrics* metrics_;
  std::function<bool(const TableSchema&)> complete_rows_;
  size_t max_held_;
  std::vector<Held> held_;
  size_t held_bytes_ = 0;  // the held events' text values
  std::unordered_map<RelationId, Metrics::Table*> tables_;
  std::vector<std::vector<Datum>> rows_;  // a lookup's answer, reused
};

// The key columns of `row` as one string, equal for rows whose keys are equal (a map key).
std::string key_string(const TableSchema& table, const std::vector<Datum>& row);

}  // namespace tombsync
