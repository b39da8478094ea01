// The key ledger in the RocksDB store (state/rocksdb_ledger.h): a delta is
// applied in the write of the cursor or snapshot progress it comes with, the
// counters stay exact (a put of a live key, an erase of a missing one change
// nothing), the last entry per key wins, keys stream in order, ids are stable,
// forget_slot keeps the ledger, and the read-only view sees all of it.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <tuple>
#include <vector>

#include "state/cursor_reader.h"
#include "state/cursor_store.h"

using namespace tombsync;

namespace {
std::string temp_dir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "tombsync-ledger-XXXXXX").string();
  REQUIRE(mkdtemp(tmpl.data()) != nullptr);
  return tmpl;
}

std::vector<std::string> keys_of(CursorStore& store, const std::string& table) {
  std::vector<std::string> out;
  auto it = store.ledger_keys("s1", table);
  std::string k;
  while (it->next(k)) out.push_back(k);
  return out;
}

using Op = LedgerDelta::Op;
}  // namespace

TEST_CASE("a ledger delta is written with the cursor, and the counter stays exact", "[state][ledger]") {
  auto dir = temp_dir();
  {
    auto store = open_rocksdb_cursor_store(dir);
    const LedgerTableId users = store->ledger_table("s1", "public.users");
    const LedgerTableId orders = store->ledger_table("s1", "public.orders");
    CHECK(users != orders);
    CHECK(store->ledger_table("s1", "public.users") == users);
    LedgerDelta d;
    d.add(users, Op::kPut, "k1");
    d.add(users, Op::kPut, "k2");
    d.add(users, Op::kPut, "k3");
    d.add(users, Op::kErase, "k3");   // last entry wins: gone
    d.add(users, Op::kErase, "nope");  // erasing a key the ledger lacks changes nothing
    d.add(orders, Op::kPut, "k1");     // another table's key space
    store->save_confirmed("s1", Lsn(0x100), d);
    CHECK(store->ledger_count("s1", "public.users") == 2);
    CHECK(store->ledger_count("s1", "public.orders") == 1);

    LedgerDelta again;
    again.add(users, Op::kPut, "k1");  // an update of a live row: no new key
    again.add(users, Op::kErase, "k2");
    again.add(users, Op::kPut, std::string("\x00\xff", 2));  // key bytes are bytes
    store->save_confirmed("s1", Lsn(0x200), again);
    CHECK(store->ledger_count("s1", "public.users") == 2);
  }
  auto store = open_rocksdb_cursor_store(dir);  // the counter and keys survive reopening
  CHECK(store->load_confirmed("s1") == Lsn(0x200));
  CHECK(store->ledger_count("s1", "public.users") == 2);
  CHECK(keys_of(*store, "public.users") == std::vector<std::string>{std::string("\x00\xff", 2), "k1"});
  CHECK(keys_of(*store, "public.orders") == std::vector<std::string>{"k1"});
  CHECK(keys_of(*store, "public.none").empty());
  CHECK(store->ledger_count("s1", "public.none") == 0);
  store.reset();

  // The read-only view of status and ledger-keys, with the same figures.
  auto stored = read_stored_cursor(dir, "s1");
  CHECK(stored.ledger_keys.at("public.users") == 2);
  CHECK(stored.ledger_keys.at("public.orders") == 1);
  std::vector<std::string> seen;
  CHECK(read_ledger_keys(dir, "s1", "public.users", [&](std::string_view k) { seen.emplace_back(k); }) == 2);
  CHECK(seen == std::vector<std::string>{std::string("\x00\xff", 2), "k1"});
  std::filesystem::remove_all(dir);
}

TEST_CASE("a clear empties one table's keys in the same write; entries after it apply", "[state][ledger]") {
  auto dir = temp_dir();
  {
    auto store = open_rocksdb_cursor_store(dir);
    const LedgerTableId t = store->ledger_table("s1", "public.t");
    const LedgerTableId other = store->ledger_table("s1", "public.other");
    LedgerDelta d;
    for (int i = 0; i < 100; ++i) d.add(t, Op::kPut, "k" + std::to_string(i));
    d.add(other, Op::kPut, "o1");
    store->save_confirmed("s1", Lsn(0x100), d);
    REQUIRE(store->ledger_count("s1", "public.t") == 100);

    LedgerDelta c;
    c.add(t, Op::kPut, "before");    // moot: the clear follows
    c.add(t, Op::kErase, "k5");      // moot too
    c.clear_table(t);
    c.add(t, Op::kPut, "k7");        // a key the store held: live again after the clear
    c.add(t, Op::kPut, "after");
    c.add(t, Op::kErase, "after2");  // never held: nothing
    store->save_confirmed("s1", Lsn(0x200), c);
    CHECK(store->ledger_count("s1", "public.t") == 2);
    CHECK(keys_of(*store, "public.t") == std::vector<std::string>{"after", "k7"});
    CHECK(keys_of(*store, "public.other") == std::vector<std::string>{"o1"});  // untouched

    LedgerDelta only_clear;
    only_clear.clear_table(t);
    store->save_confirmed("s1", Lsn(0x300), only_clear);
    CHECK(store->ledger_count("s1", "public.t") == 0);
    CHECK(keys_of(*store, "public.t").empty());
    LedgerDelta refill;
    refill.add(t, Op::kPut, "k1");
    store->save_confirmed("s1", Lsn(0x400), refill);
    CHECK(store->ledger_count("s1", "public.t") == 1);
  }
  auto store = open_rocksdb_cursor_store(dir);  // the counter and the keys survive a reopen
  CHECK(store->ledger_count("s1", "public.t") == 1);
  CHECK(keys_of(*store, "public.t") == std::vector<std::string>{"k1"});
  CHECK(store->ledger_count("s1", "public.other") == 1);
  std::filesystem::remove_all(dir);
}

TEST_CASE("snapshot rows' keys are written with the chunk's progress", "[state][ledger]") {
  auto dir = temp_dir();
  auto store = open_rocksdb_cursor_store(dir);
  const LedgerTableId users = store->ledger_table("s1", "public.users");
  LedgerDelta rows;
  for (int i = 0; i < 1000; ++i) rows.add(users, Op::kPut, "row" + std::to_string(i));
  store->save_snapshot("s1", "public.users", SnapshotProgress{false, std::vector<std::string>{"999"}, 1000}, rows);
  CHECK(store->ledger_count("s1", "public.users") == 1000);
  CHECK_FALSE(store->load_confirmed("s1").has_value());
  CHECK(store->load_snapshot("s1", "public.users")->rows == 1000);
  std::filesystem::remove_all(dir);
}

TEST_CASE("forgetting a slot keeps its key ledger; ids are per slot and table", "[state][ledger]") {
  auto dir = temp_dir();
  auto store = open_rocksdb_cursor_store(dir);
  const LedgerTableId a = store->ledger_table("s1", "public.users");
  const LedgerTableId b = store->ledger_table("s2", "public.users");
  CHECK(a != b);
  LedgerDelta d;
  d.add(a, Op::kPut, "k1");
  store->save_confirmed("s1", Lsn(0x100), d);
  store->forget_slot("s1");
  CHECK_FALSE(store->load_confirmed("s1").has_value());
  CHECK(store->ledger_count("s1", "public.users") == 1);  // the topic still holds k1 as live
  CHECK(store->ledger_count("s2", "public.users") == 0);
  std::filesystem::remove_all(dir);
}

TEST_CASE("a ledger delta round-trips its entries in order", "[state][ledger]") {
  LedgerDelta d;
  const std::string big(300, 'x');  // a length over one varint byte
  d.add(LedgerTableId(7), Op::kPut, "a");
  d.add(LedgerTableId(70000), Op::kErase, big);
  d.add(LedgerTableId(7), Op::kPut, "");
  LedgerDelta e;
  e.append(d);
  std::vector<std::tuple<uint32_t, Op, std::string>> seen;
  e.for_each([&](LedgerTableId id, Op op, std::string_view k) { seen.emplace_back(id.value(), op, std::string(k)); });
  REQUIRE(seen.size() == 3);
  CHECK(seen[0] == std::make_tuple(7u, Op::kPut, std::string("a")));
  CHECK(seen[1] == std::make_tuple(70000u, Op::kErase, big));
  CHECK(seen[2] == std::make_tuple(7u, Op::kPut, std::string()));
  CHECK(e.entries() == 3);
}

// Not a test: the store's cost per ledger change on the pipeline thread (collapse, MultiGet,
// batch, synced write), in the bench workload's shape: batches of 10,000 changes, 6,000 new keys,
// 3,000 updates of live keys, 1,000 deletes (delete event + tombstone). Run with
// `build/tests/unit_state "[.ledger-cost]"`; docs/performance.md quotes it.
TEST_CASE("ledger cost per change, bench-shaped batches", "[.ledger-cost]") {
  auto dir = temp_dir();
  auto store = open_rocksdb_cursor_store(dir);
  const LedgerTableId id = store->ledger_table("s1", "public.bench");
  auto key = [](uint64_t n) { return "{\"id\":" + std::to_string(n) + "}"; };
  double seconds = 0;
  uint64_t changes = 0;
  for (uint64_t k = 1; k <= 100; ++k) {
    LedgerDelta d;
    for (uint64_t i = 1; i <= 6000; ++i) d.add(id, Op::kPut, key(6000 * k + i));
    for (uint64_t i = 1; i <= 3000; ++i) d.add(id, Op::kPut, key(6000 * (k - 1) + i));
    for (uint64_t i = 5001; i <= 6000; ++i) {
      d.add(id, Op::kErase, key(6000 * (k - 1) + i));
      d.add(id, Op::kErase, key(6000 * (k - 1) + i));
    }
    changes += d.entries();
    const auto t0 = std::chrono::steady_clock::now();
    store->save_confirmed("s1", Lsn(k), d);
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  LedgerDelta none;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 100; ++i) store->save_confirmed("s1", Lsn(1000 + i), none);
  const double cursor_only = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  WARN("ledger: " << changes << " changes in 100 saves: " << seconds << " s, " << seconds / changes * 1e9
                  << " ns per change; a save without ledger changes: " << cursor_only / 100 * 1e6 << " us; keys "
                  << store->ledger_count("s1", "public.bench"));
  store.reset();
  std::filesystem::remove_all(dir);
}
