// In-memory stand-ins for the outside systems the streaming loop talks to:
// a scripted ChangeSource, a RecordSink whose acknowledgements the test hands
// out (in any order), and a CursorStore in a map. They follow the contracts
// of agent/stream/change_source.h, record_sink.h and state/cursor_store.h:
// acknowledgements arrive only from inside poll(), flush() or send(), and
// a save is "durable" as soon as it returns.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "agent/stream/change_source.h"
#include "agent/stream/record_sink.h"
#include "base/error.h"
#include "state/cursor_store.h"

namespace tombsync::test {

// Plays a script: each next() returns its next step, or runs its next action
// (between two reads, on the pipeline thread) and reports that nothing arrived.
class FakeChangeSource final : public ChangeSource {
 public:
  using Action = std::function<void()>;
  void push(SourceStep s) { script_.emplace_back(std::move(s)); }
  void then(Action a) { script_.emplace_back(std::move(a)); }
  // Runs when the script is exhausted (e.g. a stop request), once per read.
  Action on_empty;

  bool next(std::chrono::milliseconds, SourceStep& out) override {
    if (script_.empty()) {
      if (on_empty) on_empty();
      return false;
    }
    auto item = std::move(script_.front());
    script_.pop_front();
    if (auto* a = std::get_if<Action>(&item)) {
      (*a)();
      return false;
    }
    out = std::move(std::get<SourceStep>(item));
    if (out.step.begin) open_ = true;
    if (out.step.commit) open_ = false;
    return true;
  }
  bool in_transaction() const override { return open_; }
  void send_status(Lsn confirmed, bool) override {
    if (on_status) on_status(confirmed);
    statuses.push_back(confirmed);
  }
  // Sees each status update before it is recorded (e.g. to check it was saved first).
  std::function<void(Lsn)> on_status;
  void finish() override { finished = true; }

  std::vector<Lsn> statuses;  // every standby status update, in order
  bool finished = false;
  size_t remaining() const { return script_.size(); }

 private:
  std::deque<std::variant<SourceStep, Action>> script_;
  bool open_ = false;
};

class FakeRecordSink final : public RecordSink {
 public:
  struct Message {
    Record record;
    int partition = -1;
    bool acked = false;      // the test released its acknowledgement
    bool delivered = false;  // on_delivered was called for it
  };

  int partitions(const std::string&) override { return partition_count; }
  size_t send(const Record& r) override {
    if (fail_at_send && sent == *fail_at_send)
      throw Error(ErrorKind::kSink, "delivery to " + r.topic + " failed: Broker: Message size too large");
    if (interrupted_ && !short_at_send) return 0;
    if (block_at_send && sent == *block_at_send) {
      if (before_block) before_block();
      if (while_blocked) while_blocked();  // as KafkaSink does while the queue is full
      if (after_block) after_block();
    }
    int copies = r.all_partitions ? partition_count : 1;
    if (short_at_send && sent == *short_at_send) {
      copies -= 1;  // a forced stop let only part of the record through
      interrupted_ = true;
    }
    ++sent;
    for (int p = 0; p < copies; ++p) messages.push_back({r, r.all_partitions ? p : (r.partition ? r.partition->value() : 0)});
    return static_cast<size_t>(copies);
  }
  // The next poll reports an acknowledgement for a transaction nobody sent (a bookkeeping bug).
  void deliver_unknown(Lsn commit_lsn) { unknown_ = commit_lsn; }
  void poll(int) override { deliver(); }
  bool flush(int) override {
    if (flush_acks_all)
      for (auto& m : messages) m.acked = true;
    deliver();
    return in_flight() == 0;
  }
  size_t in_flight() const override {
    size_t n = 0;
    for (const auto& m : messages) n += m.delivered ? 0 : 1;
    return n;
  }
  bool interrupted() const override { return interrupted_; }

  // Releases message i's acknowledgement; it arrives at the next poll or flush.
  void ack(size_t i) { messages.at(i).acked = true; }
  void ack_all() {
    for (auto& m : messages) m.acked = true;
  }
  void interrupt() { interrupted_ = true; }

  std::vector<Message> messages;  // every message handed over, in send order
  size_t sent = 0;                // records (not messages) handed over
  int partition_count = 1;
  std::optional<size_t> fail_at_send;   // the send() of this record (0-based) throws
  std::optional<size_t> short_at_send;  // this all-partitions record gets one copy short, then interrupted;
                                        // later sends are still taken (the real sink takes what fits)
  std::optional<size_t> block_at_send;  // this send() waits (calls while_blocked) before taking the record
  std::function<void()> before_block;   // run around while_blocked, for the test to look
  std::function<void()> after_block;
  bool flush_acks_all = true;          // flush() acknowledges everything outstanding

 private:
  void deliver() {
    if (unknown_) {
      const Lsn l = *unknown_;
      unknown_.reset();
      if (on_delivered) on_delivered(l);
    }
    for (auto& m : messages)
      if (m.acked && !m.delivered) {
        m.delivered = true;
        if (on_delivered) on_delivered(m.record.commit_lsn);
      }
  }
  bool interrupted_ = false;
  std::optional<Lsn> unknown_;
};

// The ledger is a set of keys per ledger id, changed only by the saves that carry a delta, like
// the RocksDB store (one write: a save and its ledger changes happen together or not at all).
class MemoryCursorStore final : public CursorStore {
 public:
  using CursorStore::save_confirmed;
  using CursorStore::save_snapshot;
  std::optional<Lsn> load_confirmed(const std::string& slot) override { return find(confirmed, slot); }
  void save_confirmed(const std::string& slot, Lsn lsn, const LedgerDelta& delta) override {
    confirmed[slot] = lsn;
    apply(delta);
    ++saves;
  }
  std::optional<std::string> load_source_identity(const std::string& slot) override { return find(identity, slot); }
  void save_source_identity(const std::string& slot, const std::string& id) override { identity[slot] = id; }
  std::optional<SnapshotProgress> load_snapshot(const std::string& slot, const std::string& table) override {
    return find(snapshots, slot + "/" + table);
  }
  void save_snapshot(const std::string& slot, const std::string& table, const SnapshotProgress& p,
                     const LedgerDelta& delta) override {
    snapshots[slot + "/" + table] = p;
    apply(delta);
  }
  void clear_snapshot(const std::string& slot, const std::string& table) override {
    snapshots.erase(slot + "/" + table);
  }
  void forget_slot(const std::string& slot) override {
    ++incarnations[slot];
    confirmed.erase(slot);
    identity.erase(slot);
  }

  LedgerTableId ledger_table(const std::string& slot, const std::string& table) override {
    auto [it, added] = ledger_ids.try_emplace(slot + "/" + table, LedgerTableId(0));
    if (added) it->second = LedgerTableId(static_cast<uint32_t>(ledger_ids.size()));
    return it->second;
  }
  uint64_t ledger_count(const std::string& slot, const std::string& table) override {
    return keys_of(slot, table).size();
  }
  std::unique_ptr<LedgerKeys> ledger_keys(const std::string& slot, const std::string& table) override {
    struct Keys final : LedgerKeys {
      std::map<std::string, uint32_t> copy;  // the fake's "consistent view"
      std::map<std::string, uint32_t>::const_iterator at;
      uint32_t last_mark = 0;
      bool next(std::string& key) override {
        if (at == copy.end()) return false;
        key = at->first;
        last_mark = at->second;
        ++at;
        return true;
      }
      uint32_t mark() const override { return last_mark; }
    };
    auto k = std::make_unique<Keys>();
    k->copy = marks_of(slot, table);
    k->at = k->copy.begin();
    return k;
  }
  std::optional<std::string> ledger_row(LedgerTableId table, std::string_view key) override {
    auto t = ledger.find(table.value());
    if (t == ledger.end() || !t->second.contains(std::string(key))) return std::nullopt;
    auto r = rows.find(table.value());
    if (r == rows.end()) return std::string();
    auto it = r->second.find(std::string(key));
    return it == r->second.end() ? std::string() : it->second;
  }
  std::vector<uint32_t> begin_reconcile(const std::string& slot, const std::vector<std::string>& tables, bool dry_run,
                                        bool forget_cursor, const std::string& request_id = "") override {
    if (forget_cursor) {
      forget_slot(slot);
      std::erase_if(snapshots, [&](const auto& kv) { return kv.first.starts_with(slot + "/"); });
    }
    std::vector<uint32_t> out;
    for (const auto& table : tables) {
      const uint32_t mark = ++last_marks[ledger_table(slot, table).value()];
      SnapshotProgress p;
      p.reconcile_mark = mark;
      p.dry_run = dry_run;
      p.request_id = request_id;
      snapshots[slot + "/" + table] = p;
      out.push_back(mark);
    }
    return out;
  }
  uint32_t slot_incarnation(const std::string& slot) override { return incarnations[slot]; }
  void start_incarnation(const std::string& slot) override {
    if (incarnations[slot] == 0) incarnations[slot] = 0x5eed;
  }
  uint32_t renew_reconcile_mark(const std::string& slot, const std::string& table, SnapshotProgress progress) override {
    progress.reconcile_mark = ++last_marks[ledger_table(slot, table).value()];
    snapshots[slot + "/" + table] = progress;
    return progress.reconcile_mark;
  }
  // The keys of a table ("schema.table") of the slot.
  std::set<std::string> keys_of(const std::string& slot, const std::string& table) const {
    std::set<std::string> out;
    for (const auto& [key, mark] : marks_of(slot, table)) out.insert(key);
    return out;
  }
  // The same, with the mark each was last stamped with.
  std::map<std::string, uint32_t> marks_of(const std::string& slot, const std::string& table) const {
    auto id = ledger_ids.find(slot + "/" + table);
    if (id == ledger_ids.end() || !ledger.count(id->second.value())) return {};
    return ledger.at(id->second.value());
  }

  std::map<std::string, Lsn> confirmed;
  std::map<std::string, std::string> identity;
  std::map<std::string, SnapshotProgress> snapshots;
  std::map<std::string, LedgerTableId> ledger_ids;
  std::map<uint32_t, std::map<std::string, uint32_t>> ledger;  // by ledger id: key -> mark
  std::map<uint32_t, std::map<std::string, std::string>> rows;  // by ledger id: key -> row (ledger: rows)
  std::map<uint32_t, uint32_t> last_marks;                     // by ledger id
  std::map<std::string, uint32_t> incarnations;
  int saves = 0;

 private:
  void apply(const LedgerDelta& delta) {
    // The same rules as the RocksDB store (state/rocksdb_ledger.h): collapsed per key to its last
    // op and the last mark of a put or mark, the clears first, then each key against the store.
    using Op = LedgerDelta::Op;
    struct Last {
      Op op;
      uint32_t mark;
      std::string row;
    };
    std::map<std::pair<uint32_t, std::string>, Last> last;
    std::set<uint32_t> cleared;
    delta.for_each([&](LedgerTableId id, Op op, std::string_view key, uint32_t mark, std::string_view row) {
      if (op == Op::kClear) {
        cleared.insert(id.value());
        std::erase_if(last, [&](const auto& kv) { return kv.first.first == id.value(); });
        return;
      }
      auto [it, added] = last.try_emplace({id.value(), std::string(key)}, Last{op, mark, std::string(row)});
      if (added) return;
      if (op != Op::kMark) it->second.op = op;
      if (op != Op::kErase) it->second.mark = mark;
      if (op != Op::kMark) it->second.row = std::string(row);
    });
    for (uint32_t id : cleared) {
      ledger[id].clear();
      rows[id].clear();
    }
    for (const auto& [at, l] : last) {
      auto& keys = ledger[at.first];
      auto it = keys.find(at.second);
      if (l.op == Op::kErase) {
        keys.erase(at.second);
        rows[at.first].erase(at.second);
      } else if (it == keys.end() && l.op == Op::kPut) {
        keys.emplace(at.second, l.mark);
        if (!l.row.empty()) rows[at.first][at.second] = l.row;
      } else if (it != keys.end()) {
        if (l.mark != 0) it->second = l.mark;
        if (l.op == Op::kPut && !l.row.empty()) rows[at.first][at.second] = l.row;
        else if (l.op == Op::kPut) rows[at.first].erase(at.second);  // a put without a row: it is stale
      }
    }
  }
  template <class V>
  static std::optional<V> find(const std::map<std::string, V>& m, const std::string& k) {
    auto it = m.find(k);
    if (it == m.end()) return std::nullopt;
    return it->second;
  }
};

}  // namespace tombsync::test
