#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "state/cursor_store.h"
#include "base/error.h"

using namespace tombsync;

namespace {
std::string temp_dir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "tombsync-state-XXXXXX").string();
  REQUIRE(mkdtemp(tmpl.data()) != nullptr);
  return tmpl;
}
}  // namespace

TEST_CASE("a fresh store has no cursor, and a saved cursor survives reopening", "[state]") {
  auto dir = temp_dir();
  {
    auto store = open_rocksdb_cursor_store(dir);
    CHECK_FALSE(store->load_confirmed("s1").has_value());
    store->save_confirmed("s1", Lsn(0x16B374D848ULL));
    store->save_confirmed("s2", Lsn(42));
    store->save_source_identity("s1", "7311:app");
  }
  auto store = open_rocksdb_cursor_store(dir);
  REQUIRE(store->load_confirmed("s1").has_value());
  CHECK(store->load_confirmed("s1")->str() == "16/B374D848");
  CHECK(store->load_confirmed("s2")->value() == 42);
  CHECK(store->load_source_identity("s1") == std::optional<std::string>("7311:app"));
  CHECK_FALSE(store->load_source_identity("s2").has_value());
  std::filesystem::remove_all(dir);
}

TEST_CASE("a second store on the same directory is refused with a hint", "[state]") {
  auto dir = temp_dir();
  auto first = open_rocksdb_cursor_store(dir);
  try {
    open_rocksdb_cursor_store(dir);
    FAIL("second open succeeded");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kState);
    CHECK(std::string(e.what()).find("another tombsync") != std::string::npos);
  }
  first.reset();
  std::filesystem::remove_all(dir);
}

TEST_CASE("an unwritable state directory is a clear state error", "[state]") {
  CHECK_THROWS_AS(open_rocksdb_cursor_store("/proc/tombsync-cannot-exist/x"), Error);
}

TEST_CASE("lsn prints and parses as Postgres does", "[state][lsn]") {
  CHECK(Lsn(0).str() == "0/0");
  CHECK(Lsn(0x16B374D848ULL).str() == "16/B374D848");
  CHECK(Lsn::parse("16/B374D848") == Lsn(0x16B374D848ULL));
  CHECK(Lsn::parse("0/0") == Lsn(0));
  CHECK_FALSE(Lsn::parse("16B374D848").has_value());
  CHECK_FALSE(Lsn::parse("/1").has_value());
  CHECK_FALSE(Lsn::parse("1/").has_value());
  CHECK_FALSE(Lsn::parse("1/G").has_value());
  CHECK_FALSE(Lsn::parse("100000000/0").has_value());
}

TEST_CASE("snapshot progress survives reopening, and can be cleared", "[state][snapshot]") {
  auto dir = temp_dir();
  {
    auto store = open_rocksdb_cursor_store(dir);
    CHECK_FALSE(store->load_snapshot("s1", "public.users").has_value());
    store->save_snapshot("s1", "public.users", SnapshotProgress{false, std::vector<std::string>{"eu", "42"}, 2000});
    store->save_snapshot("s1", "public.orders", SnapshotProgress{true, std::nullopt, 0});
  }
  auto store = open_rocksdb_cursor_store(dir);
  auto users = store->load_snapshot("s1", "public.users");
  REQUIRE(users.has_value());
  CHECK_FALSE(users->done);
  CHECK(users->rows == 2000);
  CHECK(users->last_key == std::optional<std::vector<std::string>>(std::vector<std::string>{"eu", "42"}));
  auto orders = store->load_snapshot("s1", "public.orders");
  REQUIRE(orders.has_value());
  CHECK(orders->done);
  CHECK_FALSE(orders->last_key.has_value());
  CHECK_FALSE(store->load_snapshot("s2", "public.users").has_value());
  store->clear_snapshot("s1", "public.users");
  CHECK_FALSE(store->load_snapshot("s1", "public.users").has_value());
  std::filesystem::remove_all(dir);
}

TEST_CASE("forget_slot removes the slot's cursor, identity and snapshot progress, and nothing else", "[state]") {
  const std::string dir = temp_dir();
  auto store = open_rocksdb_cursor_store(dir);
  store->save_confirmed("a", Lsn{100});
  store->save_source_identity("a", "1/app");
  store->save_snapshot("a", "public.users", SnapshotProgress{});
  store->save_snapshot("a", "public.orders", SnapshotProgress{});
  store->save_confirmed("ab", Lsn{200});  // a slot whose name starts like the other's
  store->save_snapshot("ab", "public.users", SnapshotProgress{});
  store->forget_slot("a");
  CHECK_FALSE(store->load_confirmed("a"));
  CHECK_FALSE(store->load_source_identity("a"));
  CHECK_FALSE(store->load_snapshot("a", "public.users"));
  CHECK_FALSE(store->load_snapshot("a", "public.orders"));
  CHECK(store->load_confirmed("ab") == Lsn{200});
  CHECK(store->load_snapshot("ab", "public.users"));
  std::filesystem::remove_all(dir);
}
