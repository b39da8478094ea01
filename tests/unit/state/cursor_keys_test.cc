// The state store's layout (state/cursor_keys.h), shared by the writer and the
// read-only view: what one writes, the other reads back.
#include "state/cursor_keys.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "state/crc32c.h"
#include "state/cursor_reader.h"

namespace tombsync {
namespace {

TEST_CASE("cursor values are version 1, the LSN big-endian and its CRC-32C; a damaged one is corrupt",
          "[state][keys]") {
  const std::string v = state::encode_cursor(Lsn(0x16B374D848));
  REQUIRE(v.size() == 13);
  CHECK(v[0] == 0x01);
  CHECK(static_cast<unsigned char>(v[4]) == 0x16);
  CHECK(static_cast<unsigned char>(v[8]) == 0x48);
  const auto decoded = state::decode_cursor(v);
  CHECK(decoded.lsn == Lsn(0x16B374D848));
  CHECK_FALSE(decoded.legacy);
  for (size_t i = 0; i < v.size(); ++i) {  // every single-bit flip is caught
    std::string bad = v;
    bad[i] = static_cast<char>(bad[i] ^ 0x10);
    const auto d = state::decode_cursor(bad);
    CHECK_FALSE(d.lsn.has_value());
    CHECK_FALSE(d.problem.empty());
  }
  std::string flipped = v;
  flipped[5] = static_cast<char>(flipped[5] ^ 1);
  CHECK(state::decode_cursor(flipped).problem.find("checksum mismatch") == 0);
  CHECK(state::decode_cursor(std::string(1, '\x02') + v.substr(1)).problem == "unknown format version 2");
  CHECK(state::decode_cursor("1234567").problem == "7 bytes, expected 13");
  CHECK(state::decode_cursor("").problem == "0 bytes, expected 13");
}

TEST_CASE("an 8-byte cursor of the release before the checksum is still read", "[state][keys][compat]") {
  const std::string old_value("\x00\x00\x00\x16\xB3\x74\xD8\x48", 8);  // what encode_cursor wrote then
  const auto decoded = state::decode_cursor(old_value);
  CHECK(decoded.lsn == Lsn(0x16B374D848));
  CHECK(decoded.legacy);
  CHECK(decoded.problem.empty());
}

TEST_CASE("crc32c is CRC-32C (Castagnoli)", "[state][keys]") {
  CHECK(state::crc32c("123456789") == 0xE3069283u);
  CHECK(state::crc32c("") == 0u);
  CHECK(state::crc32c(std::string(32, '\0')) == 0x8A9136AAu);  // RFC 3720 B.4
}

TEST_CASE("keys are laid out as the store has always laid them", "[state][keys]") {
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
