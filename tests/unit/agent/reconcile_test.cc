// Reconciliation's sweep (agent/stream/reconciler.h) against the in-memory
// store: a key stamped with the reconciliation's mark (by the re-read, or by
// the stream since it began) is live; a key the stream deleted is gone; every
// other ledger key gets exactly one inferred delete (marked inferred, at the
// watermark's position), whose erase reaches the store with the re-read's rows.
// A dry run publishes nothing, changes no key, and reports the count and a
// sample through the job's progress file. The merged view (LedgerView) gives
// pending marks precedence over the store's.
#include "agent/stream/reconciler.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <string>

#include "agent/config/config.h"
#include "agent/ops/job_progress.h"
#include "agent/stream/ledger_view.h"
#include "agent/stream/record_builder.h"
#include "schemas/encoder.h"
#include "tests/unit/agent/stream_fakes.h"
#include "tests/unit/schemas/event_fixtures.h"

namespace tombsync {
namespace {

using test::MemoryCursorStore;

std::string temp_state_dir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "tombsync-reconcile-XXXXXX").string();
  REQUIRE(mkdtemp(tmpl.data()) != nullptr);
  return tmpl;
}

std::string key(int id) { return "{\"id\":" + std::to_string(id) + "}"; }

std::string header(const Record& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return "";
}

struct Rig {
  std::string state_dir = temp_state_dir();
  Config config = parse_config("source:\n  dsn: \"host=db dbname=app user=tombsync\"\n  tables:\n"
                               "    - { name: public.users }\n"
                               "kafka:\n  brokers: kafka:9092\n  topic_prefix: app\nsnapshot: never\n"
                               "state_dir: " + state_dir + "\n",
                               "test");
  std::shared_ptr<const TableSchema> users =
      test::make_table("public", "users", {{"id", ColumnType::kInt32, "int4", true}, {"name", ColumnType::kText, "text"}});
  MemoryCursorStore store;
  Metrics metrics{config};
  std::unique_ptr<Encoder> encoder = make_encoder(Format::kJson, EncoderContext{});
  RecordBuilder records{config, *encoder, "7301/app/tombsync"};
  LedgerRecorder ledger{config, store, "tombsync"};
  Reconciler reconciler{config, store, "tombsync", ledger, *encoder, metrics};
  std::vector<Record> sent;  // what the sweep handed over

  ~Rig() { std::filesystem::remove_all(state_dir); }

  // The ledger holds keys 1..n, saved, with mark 0.
  void seed(int n) {
    const LedgerTableId id = store.ledger_table("tombsync", "public.users");
    for (int i = 1; i <= n; ++i) store.ledger[id.value()][key(i)] = 0;
  }
  ChangeEvent event(Op op, int64_t id) const {
    ChangeEvent e = test::make_event(op, users, {test::int_value(id), test::text_value("n")});
    e.source.commit_lsn = Lsn(0x5000);
    e.source.lsn = Lsn(0x4ff0);
    return e;
  }
  // The records of `e` go to the ledger as the loop sends them (a snapshot row's, or the stream's).
  void record(const ChangeEvent& e, bool snapshot_row) {
    std::vector<Record> out;
    records.build(e, out);
    ledger.on_records(*users, out, snapshot_row);
  }
  void mark_only(const ChangeEvent& e) {
    std::vector<Record> out;
    records.build(e, out);
    ledger.on_marks(*users, out);
  }
  uint64_t sweep(uint32_t mark, bool dry_run) {
    ReconcileSweep due;
    due.table = users;
    due.mark = mark;
    due.dry_run = dry_run;
    due.request_id = "req-7";
    due.rows_read = 3;
    due.at.lsn = Lsn(0x5000);
    due.at.commit_lsn = Lsn(0x5000);
    due.at.commit_ts_us = UnixMicros{test::kCommitTs};
    return reconciler.sweep(
        due,
        [&](const ChangeEvent& del) {
          std::vector<Record> out;
          records.build(del, out);
          ledger.on_records(*users, out, true);
          sent.insert(sent.end(), out.begin(), out.end());
          return true;
        },
        [] {});
  }
  // The transaction ends and is saved, as the checkpointer would (chunk progress first).
  void commit_and_save() {
    ledger.on_commit(Lsn(0x5000), Lsn(0x5010));
    LedgerDelta rows, stream;
    ledger.take_snapshot_rows(Lsn(0x5010), rows);
    store.save_snapshot("tombsync", "public.users", SnapshotProgress{}, rows);
    ledger.take_acknowledged(Lsn(0x5010), stream);
    store.save_confirmed("tombsync", Lsn(0x5010), stream);
  }
  std::set<std::string> live() const { return store.keys_of("tombsync", "public.users"); }
};

}  // namespace

TEST_CASE("reconcile: every unmarked ledger key gets one inferred delete; marked and deleted keys none",
          "[stream][ledger][reconcile]") {
  Rig rig;
  rig.seed(5);  // 1..5 published as live before the reconciliation
  const uint32_t mark = rig.store.begin_reconcile("tombsync", {"public.users"}, false, false).front();
  rig.ledger.on_begin(Lsn(0x5000));
  rig.record(rig.event(Op::kRead, 1), true);     // the re-read found 1
  rig.record(rig.event(Op::kUpdate, 2), false);  // the stream updated 2 (its chunk dropped it)
  rig.record(rig.event(Op::kDelete, 3), false);  // the stream deleted 3
  rig.record(rig.event(Op::kInsert, 6), false);  // the stream inserted 6
  // 4 and 5: in the ledger, not found by the re-read, untouched by the stream: gone from the source.
  CHECK(rig.sweep(mark, false) == 2);

  std::vector<std::string> deleted;
  for (const auto& r : rig.sent) {
    CHECK(header(r, "tombsync.inferred") == "true");
    CHECK(header(r, "tombsync.lsn") == Lsn(0x5000).str());
    if (r.value) {
      CHECK(r.value->find("\"__inferred\":true") != std::string::npos);
      CHECK(r.value->find("\"is_deleted\":true") != std::string::npos);
      deleted.push_back(*r.key);
    }
  }
  CHECK(deleted == std::vector<std::string>{key(4), key(5)});  // key byte order, one delete event each
  CHECK(rig.sent.size() == 4);                                  // and one tombstone each (deletes: both)
  rig.commit_and_save();
  CHECK(rig.live() == std::set<std::string>{key(1), key(2), key(6)});
  CHECK(rig.metrics.table("public.users")->reconcile_inferred == 2);
  CHECK(rig.metrics.table("public.users")->reconcile_phase == 0);

  auto jobs = read_job_progress(rig.state_dir);
  REQUIRE(jobs.size() == 1);
  CHECK(jobs[0].job == "reconcile");
  CHECK(jobs[0].running);  // until the Snapshotter saved the re-read's final progress with the erases
  CHECK(jobs[0].phase == "swept");
  CHECK(jobs[0].inferred == 2);
  CHECK(jobs[0].request_id == "req-7");
  CHECK(jobs[0].sample == std::vector<std::string>{key(4), key(5)});

  // After the sweep the mark ends: a later update does not restamp (no write), and a second
  // reconciliation with a new mark finds the keys nobody showed again.
  rig.ledger.on_begin(Lsn(0x6000));
  rig.record(rig.event(Op::kUpdate, 1), false);
  CHECK(rig.ledger.pending_of(*rig.users).keys.at(key(1)).mark == 0);
}

TEST_CASE("reconcile: a dry run marks without publishing and counts what a real run would delete",
          "[stream][ledger][reconcile]") {
  Rig rig;
  rig.seed(4);
  const uint32_t mark = rig.store.begin_reconcile("tombsync", {"public.users"}, true, false).front();
  rig.ledger.on_begin(Lsn(0x5000));
  rig.mark_only(rig.event(Op::kRead, 1));
  rig.mark_only(rig.event(Op::kRead, 3));
  rig.mark_only(rig.event(Op::kRead, 9));  // a row the ledger lacks: not added (nothing was published)
  CHECK(rig.sweep(mark, true) == 2);       // 2 and 4
  CHECK(rig.sent.empty());
  rig.commit_and_save();
  CHECK(rig.live() == std::set<std::string>{key(1), key(2), key(3), key(4)});
  CHECK(rig.store.marks_of("tombsync", "public.users") ==
        std::map<std::string, uint32_t>{{key(1), mark}, {key(2), 0}, {key(3), mark}, {key(4), 0}});
  CHECK(rig.metrics.table("public.users")->reconcile_inferred == 0);  // a dry run deletes nothing
  auto jobs = read_job_progress(rig.state_dir);
  REQUIRE(jobs.size() == 1);
  CHECK(jobs[0].dry_run);
  CHECK(jobs[0].inferred == 2);
  CHECK(jobs[0].sample == std::vector<std::string>{key(2), key(4)});
}

TEST_CASE("reconcile: the merged view takes pending marks over the store's, in key order",
          "[stream][ledger][reconcile]") {
  Rig rig;
  rig.seed(3);
  const LedgerTableId id = rig.store.ledger_table("tombsync", "public.users");
  rig.store.ledger[id.value()][key(3)] = 4;  // stamped by an earlier reconciliation
  rig.store.begin_reconcile("tombsync", {"public.users"}, false, false);  // mark 1 (the fake counts per table)
  rig.ledger.on_begin(Lsn(0x5000));
  rig.record(rig.event(Op::kUpdate, 2), false);  // pending put with mark 1
  rig.ledger.set_mark("public.users", 0);
  rig.record(rig.event(Op::kUpdate, 3), false);  // a plain put: the store's mark 4 stays
  rig.record(rig.event(Op::kInsert, 0), false);  // a plain put of a new key: mark 0
  LedgerView view(rig.store, "tombsync", "public.users", rig.ledger.pending_of(*rig.users));
  std::map<std::string, uint32_t> seen;
  std::vector<std::string> order;
  std::string k;
  uint32_t m = 0;
  while (view.next(k, m)) {
    seen[k] = m;
    order.push_back(k);
  }
  CHECK(seen == std::map<std::string, uint32_t>{{key(0), 0}, {key(1), 0}, {key(2), 1}, {key(3), 4}});
  CHECK(order == std::vector<std::string>{key(0), key(1), key(2), key(3)});
}

}  // namespace tombsync

namespace tombsync {

TEST_CASE("ledger: a chunk's rows after a pending clear wait for the cursor to pass the clear",
          "[stream][ledger][reconcile]") {
  Rig rig;
  rig.seed(2);
  rig.ledger.on_begin(Lsn(0x5000));
  rig.record(rig.event(Op::kInsert, 3), false);
  rig.ledger.on_clear(*rig.users);  // an expanded TRUNCATE
  rig.ledger.on_commit(Lsn(0x5000), Lsn(0x5010));
  rig.ledger.on_begin(Lsn(0x6000));  // a transaction without ledger changes
  rig.ledger.on_commit(Lsn(0x6000), Lsn(0x6010));
  rig.ledger.on_begin(Lsn(0x7000));  // a chunk's high watermark, its rows
  rig.record(rig.event(Op::kRead, 4), true);
  rig.ledger.on_commit(Lsn(0x7000), Lsn(0x7010));
  CHECK(rig.ledger.unsaved_before(Lsn(0x7010)) == Lsn(0x5010));
  CHECK_FALSE(rig.ledger.unsaved_before(Lsn(0x5010)));  // nothing before the clear's own transaction
  // Saved in that order, the chunk's key survives the clear.
  LedgerDelta upto, rows, rest;
  rig.ledger.take_acknowledged(Lsn(0x5010), upto);
  rig.store.save_confirmed("tombsync", Lsn(0x5010), upto);
  rig.ledger.take_snapshot_rows(Lsn(0x7010), rows);
  rig.store.save_snapshot("tombsync", "public.users", SnapshotProgress{}, rows);
  rig.ledger.take_acknowledged(Lsn(0x7010), rest);
  rig.store.save_confirmed("tombsync", Lsn(0x7010), rest);
  CHECK(rig.live() == std::set<std::string>{key(4)});
  CHECK_FALSE(rig.ledger.unsaved_before(Lsn(0x8000)));
}

}  // namespace tombsync
