// `ledger: rows` in the RocksDB store (state/rocksdb_ledger.h): a put with a
// row stores it with the key, a later put replaces it, a dry run's stamp keeps
// it, a put without a row (the table keeps keys only now) drops it, an erase
// and a clear remove it; ledger_row reads it and LedgerKeys streams
// it; counts stay those of keys; a key put before the table kept rows reads as
// live without a row; a store reopened reads the same.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

#include "state/cursor_store.h"

using namespace tombsync;

namespace {
std::string temp_dir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "tombsync-rows-XXXXXX").string();
  REQUIRE(mkdtemp(tmpl.data()) != nullptr);
  return tmpl;
}
using Op = LedgerDelta::Op;
}  // namespace

TEST_CASE("ledger rows: stored with the key, replaced, kept across marks, gone with the key", "[state][ledger][rows]") {
  const std::string dir = temp_dir();
  {
    auto store = open_rocksdb_cursor_store(dir);
    const LedgerTableId t = store->ledger_table("s1", "public.users");
    LedgerDelta d;
    d.add(t, Op::kPut, "k1", 0, "row-1a");
    d.add(t, Op::kPut, "k2", 0, "row-2");
    d.add(t, Op::kPut, "k3");  // a key without a row (put before the table kept rows)
    d.add(t, Op::kPut, "k1", 0, "row-1b");  // the last put of a key wins
    store->save_confirmed("s1", Lsn(0x100), d);
    CHECK(store->ledger_row(t, "k1") == std::optional<std::string>("row-1b"));
    CHECK(store->ledger_row(t, "k2") == std::optional<std::string>("row-2"));
    CHECK(store->ledger_row(t, "k3") == std::optional<std::string>(""));
    CHECK_FALSE(store->ledger_row(t, "k4").has_value());
    CHECK(store->ledger_count("s1", "public.users") == 3);

    LedgerDelta e;
    e.add(t, Op::kPut, "k2", 7);   // a stamped put without a row (a keys-only table now): the stale row goes
    e.add(t, Op::kMark, "k1", 7);  // a dry run's stamp: the row stays
    e.add(t, Op::kPut, "k3", 0, "row-3");  // a row for a key held without one
    store->save_confirmed("s1", Lsn(0x200), e);
    CHECK(store->ledger_row(t, "k1") == std::optional<std::string>("row-1b"));
    CHECK(store->ledger_row(t, "k2") == std::optional<std::string>(""));
    CHECK(store->ledger_row(t, "k3") == std::optional<std::string>("row-3"));
    std::map<std::string, std::pair<uint32_t, std::string>> seen;
    auto keys = store->ledger_keys("s1", "public.users");
    std::string k;
    while (keys->next(k)) seen[k] = {keys->mark(), std::string(keys->row())};
    CHECK(seen["k1"] == std::pair<uint32_t, std::string>(7, "row-1b"));
    CHECK(seen["k2"] == std::pair<uint32_t, std::string>(7, ""));
    CHECK(seen["k3"] == std::pair<uint32_t, std::string>(0, "row-3"));
    CHECK(store->ledger_count("s1", "public.users") == 3);

    LedgerDelta f;
    f.add(t, Op::kPut, "k2", 0, "row-2b");  // a plain put with a row keeps the stored mark
    f.add(t, Op::kErase, "k1");
    f.add(t, Op::kPut, "k3");  // a put without a row (the table keeps keys only now): the row is stale
    store->save_confirmed("s1", Lsn(0x300), f);
    CHECK_FALSE(store->ledger_row(t, "k1").has_value());
    CHECK(store->ledger_row(t, "k3") == std::optional<std::string>(""));
    CHECK(store->ledger_count("s1", "public.users") == 2);
  }
  {
    auto store = open_rocksdb_cursor_store(dir);  // what was saved is what a restart reads
    const LedgerTableId t = store->ledger_table("s1", "public.users");
    CHECK(store->ledger_row(t, "k2") == std::optional<std::string>("row-2b"));
    auto keys = store->ledger_keys("s1", "public.users");
    std::string k;
    REQUIRE(keys->next(k));
    CHECK(k == "k2");
    CHECK(keys->mark() == 7);
    LedgerDelta g;
    g.clear_table(t);
    g.add(t, Op::kPut, "k9", 0, "row-9");
    store->save_confirmed("s1", Lsn(0x400), g);
    CHECK_FALSE(store->ledger_row(t, "k2").has_value());
    CHECK(store->ledger_row(t, "k9") == std::optional<std::string>("row-9"));
    CHECK(store->ledger_count("s1", "public.users") == 1);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("LedgerDelta: a row travels with its put and is found again by offset", "[state][ledger][rows]") {
  LedgerDelta d;
  const LedgerTableId t(3);
  const size_t first = d.end_offset();
  d.add(t, Op::kPut, "key-a", 5, std::string(300, 'x'));  // a row longer than one varint byte
  const size_t second = d.end_offset();
  d.add(t, Op::kErase, "key-b");
  const size_t third = d.end_offset();
  d.add(t, Op::kPut, "key-c");
  CHECK(d.row_at(first) == std::string(300, 'x'));
  CHECK(d.row_at(second).empty());
  CHECK(d.row_at(third).empty());
  std::vector<std::tuple<Op, std::string, uint32_t, std::string>> seen;
  d.for_each([&](LedgerTableId, Op op, std::string_view key, uint32_t mark, std::string_view row) {
    seen.emplace_back(op, std::string(key), mark, std::string(row));
  });
  REQUIRE(seen.size() == 3);
  CHECK(seen[0] == std::make_tuple(Op::kPut, std::string("key-a"), 5u, std::string(300, 'x')));
  CHECK(seen[1] == std::make_tuple(Op::kErase, std::string("key-b"), 0u, std::string()));
  CHECK(seen[2] == std::make_tuple(Op::kPut, std::string("key-c"), 0u, std::string()));
}
