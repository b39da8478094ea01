// The state store's layout (state/cursor_keys.h), shared by the writer and the
// read-only view: what one writes, the other reads back.
#include "state/cursor_keys.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "state/cursor_reader.h"

namespace tombsync {
namespace {

TEST_CASE("cursor values are 8 bytes big-endian and anything else is corrupt", "[state][keys]") {
  const std::string v = state::encode_cursor(Lsn(0x16B374D848));
  REQUIRE(v.size() == 8);
  CHECK(static_cast<unsigned char>(v[3]) == 0x16);
  CHECK(static_cast<unsigned char>(v[7]) == 0x48);
  CHECK(state::decode_cursor(v) == Lsn(0x16B374D848));
  CHECK_FALSE(state::decode_cursor("1234567").has_value());
  CHECK(state::cursor_key("s") == "cursor/s");
  CHECK(state::identity_key("s") == "source/s");
  CHECK(state::snapshot_key("s", "public.t").rfind(state::snapshot_prefix("s"), 0) == 0);
}

TEST_CASE("snapshot progress survives its encoding, with and without a last key", "[state][keys]") {
  SnapshotProgress p;
  p.rows = 42;
  p.last_key = std::vector<std::string>{"7", "eu"};
  const SnapshotProgress q = state::decode_snapshot(state::encode_snapshot(p));
  CHECK_FALSE(q.done);
  CHECK(q.rows == 42);
  CHECK(q.last_key == p.last_key);
  p.done = true;
  p.last_key.reset();
  const SnapshotProgress r = state::decode_snapshot(state::encode_snapshot(p));
  CHECK(r.done);
  CHECK_FALSE(r.last_key.has_value());
  CHECK_THROWS(state::decode_snapshot("{\"done\": true}"));
}

TEST_CASE("the read-only view reads what the writer wrote", "[state][keys]") {
  std::string dir = (std::filesystem::temp_directory_path() / "tombsync-keys-XXXXXX").string();
  REQUIRE(mkdtemp(dir.data()) != nullptr);
  {
    auto store = open_rocksdb_cursor_store(dir);
    store->save_confirmed("slot_a", Lsn(0x2A000010));
    store->save_source_identity("slot_a", "7301/app");
    SnapshotProgress p;
    p.done = true;
    p.rows = 9;
    store->save_snapshot("slot_a", "public.users", p);
  }
  const StoredCursor c = read_stored_cursor(dir, "slot_a");
  CHECK(c.store_exists);
  CHECK(c.confirmed == Lsn(0x2A000010));
  CHECK(c.source == std::optional<std::string>("7301/app"));
  REQUIRE(c.snapshots.count("public.users") == 1);
  CHECK(c.snapshots.at("public.users").done);
  CHECK(c.snapshots.at("public.users").rows == 9);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tombsync
