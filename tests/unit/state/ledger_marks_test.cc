// Reconciliation marks in the RocksDB store's key ledger (state/rocksdb_ledger.h,
// CursorStore::begin_reconcile): a put with a mark stamps a new key and
// restamps a held one; a plain put never rewrites a held key (an update costs a
// read); a kMark stamps only keys the ledger holds; marks grow per table and
// survive forget_slot; a reconciliation's progress round-trips, and with
// forget_cursor the cursor goes in the same write.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

#include "state/cursor_store.h"

using namespace tombsync;

namespace {
std::string temp_dir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "tombsync-marks-XXXXXX").string();
  REQUIRE(mkdtemp(tmpl.data()) != nullptr);
  return tmpl;
}

std::map<std::string, uint32_t> marks_of(CursorStore& store, const std::string& table) {
  std::map<std::string, uint32_t> out;
  auto it = store.ledger_keys("s1", table);
  std::string k;
  while (it->next(k)) out[k] = it->mark();
  return out;
}

using Op = LedgerDelta::Op;
}  // namespace

TEST_CASE("ledger marks: stamped by marked puts and kMark, kept by plain puts", "[state][ledger][reconcile]") {
  auto dir = temp_dir();
  {
    auto store = open_rocksdb_cursor_store(dir);
    const LedgerTableId t = store->ledger_table("s1", "public.t");
    LedgerDelta d;
    d.add(t, Op::kPut, "a");
    d.add(t, Op::kPut, "b");
    d.add(t, Op::kPut, "c");
    store->save_confirmed("s1", Lsn(0x10), d);
    CHECK(marks_of(*store, "public.t") == std::map<std::string, uint32_t>{{"a", 0}, {"b", 0}, {"c", 0}});

    LedgerDelta m;
    m.add(t, Op::kPut, "a", 7);   // held: restamped
    m.add(t, Op::kMark, "b", 7);  // held: stamped, still one key
    m.add(t, Op::kMark, "x", 7);  // not held: a dry run's mark adds nothing
    m.add(t, Op::kPut, "d", 7);   // new: written with its mark
    store->save_confirmed("s1", Lsn(0x20), m);
    CHECK(marks_of(*store, "public.t") == std::map<std::string, uint32_t>{{"a", 7}, {"b", 7}, {"c", 0}, {"d", 7}});
    CHECK(store->ledger_count("s1", "public.t") == 4);

    LedgerDelta plain;
    plain.add(t, Op::kPut, "a");  // an update after the reconciliation: the mark stays
    plain.add(t, Op::kErase, "b");
    plain.add(t, Op::kMark, "b", 8);  // after its erase: still gone
    plain.add(t, Op::kPut, "e");
    plain.add(t, Op::kMark, "e", 8);  // after its put in the same delta: the put carries it
    store->save_confirmed("s1", Lsn(0x30), plain);
    CHECK(marks_of(*store, "public.t") == std::map<std::string, uint32_t>{{"a", 7}, {"c", 0}, {"d", 7}, {"e", 8}});
    CHECK(store->ledger_count("s1", "public.t") == 4);

    LedgerDelta cleared;
    cleared.add(t, Op::kMark, "a", 9);
    cleared.clear_table(t);
    cleared.add(t, Op::kMark, "c", 9);  // after the clear: nothing is held
    cleared.add(t, Op::kPut, "f", 9);
    store->save_confirmed("s1", Lsn(0x40), cleared);
    CHECK(marks_of(*store, "public.t") == std::map<std::string, uint32_t>{{"f", 9}});
    CHECK(store->ledger_count("s1", "public.t") == 1);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("begin_reconcile: a new mark per table, kept across forget_slot; forget_cursor in the same write",
          "[state][ledger][reconcile]") {
  auto dir = temp_dir();
  {
    auto store = open_rocksdb_cursor_store(dir);
    store->save_confirmed("s1", Lsn(0x100));
    store->save_source_identity("s1", "7301/app");
    SnapshotProgress done;
    done.done = true;
    done.rows = 5;
    store->save_snapshot("s1", "public.other", done);

    auto first = store->begin_reconcile("s1", {"public.a", "public.b"}, true, false, "req-1");
    CHECK(first == std::vector<uint32_t>{1, 1});
    CHECK(store->slot_incarnation("s1") == 0);  // a request does not start the slot over
    auto p = store->load_snapshot("s1", "public.a");
    REQUIRE(p);
    CHECK_FALSE(p->done);
    CHECK(p->rows == 0);
    CHECK_FALSE(p->last_key);
    CHECK(p->reconcile_mark == 1);
    CHECK(p->dry_run);
    CHECK(p->request_id == "req-1");
    CHECK(store->load_confirmed("s1") == Lsn(0x100));  // not forgotten
    CHECK(store->load_snapshot("s1", "public.other")->done);

    store->forget_slot("s1");
    CHECK(store->slot_incarnation("s1") == 1);  // a drop-slot starts the slot over too
    auto second = store->begin_reconcile("s1", {"public.a"}, false, true);
    CHECK(second == std::vector<uint32_t>{2});  // the mark outlives the slot's state
    CHECK(store->slot_incarnation("s1") == 2);
    CHECK_FALSE(store->load_confirmed("s1"));
    CHECK_FALSE(store->load_source_identity("s1"));
    CHECK_FALSE(store->load_snapshot("s1", "public.other"));
    CHECK_FALSE(store->load_snapshot("s1", "public.a")->dry_run);
  }
  {
    auto store = open_rocksdb_cursor_store(dir);  // durable
    CHECK(store->load_snapshot("s1", "public.a")->reconcile_mark == 2);
    CHECK(store->slot_incarnation("s1") == 2);
    CHECK(store->begin_reconcile("s1", {"public.b", "public.a"}, false, true) == std::vector<uint32_t>{2, 3});
    CHECK(store->slot_incarnation("s1") == 3);
    CHECK(store->slot_incarnation("s2") == 0);
    store->start_incarnation("s2");  // a fresh history: random, never 0
    const uint32_t fresh = store->slot_incarnation("s2");
    CHECK(fresh != 0);
    store->start_incarnation("s2");  // kept once set
    CHECK(store->slot_incarnation("s2") == fresh);
    store->start_incarnation("s1");
    CHECK(store->slot_incarnation("s1") == 3);
    SnapshotProgress plain;  // a plain snapshot's progress has no mark
    store->save_snapshot("s1", "public.c", plain);
    CHECK(store->load_snapshot("s1", "public.c")->reconcile_mark == 0);
  }
  std::filesystem::remove_all(dir);
}
