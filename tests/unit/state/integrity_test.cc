// The state store's integrity (docs/architecture.md, "State integrity"): a damaged WAL, SST
// block or cursor value is refused by the writer (run) and by the read-only view (check,
// status) with the same line; a store whose writer was killed is not damaged; an 8-byte cursor
// of the release before the checksum is read and upgraded by the next save.
#include <rocksdb/db.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "base/error.h"
#include "state/cursor_keys.h"
#include "state/cursor_reader.h"
#include "state/cursor_store.h"

namespace tombsync {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  std::string path;
  TempDir() {
    path = (fs::temp_directory_path() / "tombsync-integrity-XXXXXX").string();
    REQUIRE(mkdtemp(path.data()) != nullptr);
  }
  ~TempDir() { fs::remove_all(path); }
};

// The largest file of `dir` with extension `ext` (".log", ".sst"); the test needs one.
fs::path largest(const std::string& dir, const std::string& ext) {
  fs::path best;
  uintmax_t size = 0;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ext && e.file_size() >= size) best = e.path(), size = e.file_size();
  REQUIRE_FALSE(best.empty());
  return best;
}

// Writes 200 random bytes at `offset` (overwriting), or after the end when offset < 0.
void scribble(const fs::path& file, long offset) {
  std::mt19937 rng(20240610);
  std::string junk(200, '\0');
  for (char& c : junk) c = static_cast<char>(rng());
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  REQUIRE(f);
  if (offset < 0) f.seekp(0, std::ios::end); else f.seekp(offset);
  f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  REQUIRE(f);
}

// 100 synced cursor saves; a clean close keeps them in the WAL (RocksDB flushes the memtable to
// an SST only at the next open's recovery). Returns the WAL's path.
fs::path store_with_wal(const std::string& dir) {
  {
    auto store = open_rocksdb_cursor_store(dir);
    store->save_source_identity("s1", "7301/app");
    for (uint64_t i = 1; i <= 100; ++i) store->save_confirmed("s1", Lsn(0x1000 * i));
  }
  fs::path wal = largest(dir, ".log");
  REQUIRE(fs::file_size(wal) > 2000);
  return wal;
}

// What the writer throws on opening `dir` and reading its cursor; fails the test when nothing.
std::string writer_refusal(const std::string& dir) {
  try {
    auto store = open_rocksdb_cursor_store(dir);
    store->load_confirmed("s1");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kState);
    return e.what();
  }
  FAIL("the writer opened a damaged store and read its cursor");
  return {};
}

std::string reader_refusal(const std::string& dir) {
  try {
    read_stored_cursor(dir, "s1");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kState);
    return e.what();
  }
  FAIL("the read-only view read a damaged store");
  return {};
}

// The refusal's parts (state/store_integrity.h): the directory, what is damaged, no guess, the remedy.
void check_refusal(const std::string& line, const std::string& dir, const std::string& what) {
  INFO(line);
  CHECK(line.rfind("state store " + dir + " is damaged: " + what, 0) == 0);
  CHECK(line.find("tombsync will not guess a position") != std::string::npos);
  CHECK(line.find("Restore " + dir + " from a backup, or re-sync from a fresh, empty state_dir") != std::string::npos);
  CHECK(line.find("docs/operations.md#the-state-store-is-damaged") != std::string::npos);
  CHECK(line.find('\n') == std::string::npos);
}

void put_raw(const std::string& dir, const std::string& key, const std::string& value) {
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  REQUIRE(rocksdb::DB::Open(options, dir, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  REQUIRE(db->Put(wo, key, value).ok());
}

std::string get_raw(const std::string& dir, const std::string& key) {
  rocksdb::Options options;
  rocksdb::DB* raw = nullptr;
  REQUIRE(rocksdb::DB::OpenForReadOnly(options, dir, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  std::string value;
  REQUIRE(db->Get(rocksdb::ReadOptions(), key, &value).ok());
  return value;
}

TEST_CASE("200 random bytes in the middle of the WAL: refused by run, check and status alike", "[state][integrity]") {
  TempDir dir;
  const fs::path wal = store_with_wal(dir.path);
  scribble(wal, static_cast<long>(fs::file_size(wal) / 2));
  const std::string line = writer_refusal(dir.path);
  check_refusal(line, dir.path, "the write-ahead log " + wal.filename().string() + " (Corruption: ");
  CHECK(reader_refusal(dir.path) == line);
  CHECK(writer_refusal(dir.path) == line);  // the refused open changed nothing: refused again
}

TEST_CASE("a damaged WAL tail is refused: overwritten, appended to, or cut inside its last record",
          "[state][integrity]") {
  TempDir dir;
  const fs::path wal = store_with_wal(dir.path);
  const auto size = fs::file_size(wal);
  SECTION("the last 200 bytes overwritten") { scribble(wal, static_cast<long>(size - 200)); }
  SECTION("200 bytes appended") { scribble(wal, -1); }
  // Not damage but a write torn by a power cut while it was being synced, never acknowledged;
  // RocksDB cannot tell it from damage, and the store refuses rather than guess (documented).
  SECTION("the last record cut short") { fs::resize_file(wal, size - 5); }
  const std::string line = writer_refusal(dir.path);
  check_refusal(line, dir.path, "the write-ahead log " + wal.filename().string() + " (Corruption: ");
  CHECK(reader_refusal(dir.path) == line);
}

TEST_CASE("a writer killed with SIGKILL leaves a store that opens, with its last synced cursor", "[state][integrity]") {
  TempDir dir;
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {  // no Catch2 in here: save, then die without closing anything
    auto store = open_rocksdb_cursor_store(dir.path);
    for (uint64_t i = 1; i <= 200; ++i) store->save_confirmed("s1", Lsn(i));
    ::kill(::getpid(), SIGKILL);
    ::_exit(3);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFSIGNALED(status));
  REQUIRE(fs::file_size(largest(dir.path, ".log")) > 0);
  CHECK(read_stored_cursor(dir.path, "s1").confirmed == Lsn(200));
  auto store = open_rocksdb_cursor_store(dir.path);
  CHECK(store->load_confirmed("s1") == Lsn(200));
}

TEST_CASE("the read-only view of a store an agent is writing sees no damage", "[state][integrity]") {
  TempDir dir;
  open_rocksdb_cursor_store(dir.path)->save_confirmed("s1", Lsn(1));
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {  // another process, as an agent is: it holds the lock while it saves
    auto store = open_rocksdb_cursor_store(dir.path);
    (void)!::write(ready[1], "r", 1);
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    for (uint64_t i = 2; std::chrono::steady_clock::now() < end; ++i) store->save_confirmed("s1", Lsn(i));
    ::_exit(0);
  }
  char c = 0;
  REQUIRE(::read(ready[0], &c, 1) == 1);
  Lsn last(0);
  int reads = 0;
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
  while (std::chrono::steady_clock::now() < end) {
    const StoredCursor seen = read_stored_cursor(dir.path, "s1");  // throws if it saw "damage"
    REQUIRE(seen.confirmed.has_value());
    CHECK(*seen.confirmed >= last);
    last = *seen.confirmed;
    ++reads;
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status));
  CHECK(reads > 5);
  ::close(ready[0]);
  ::close(ready[1]);
}

TEST_CASE("200 random bytes in an SST file: refused at open, by run, check and status alike", "[state][integrity]") {
  TempDir dir;
  store_with_wal(dir.path);
  open_rocksdb_cursor_store(dir.path);  // the open's recovery moves the WAL into an SST
  const fs::path sst = largest(dir.path, ".sst");
  const auto size = fs::file_size(sst);
  REQUIRE(size > 400);
  scribble(sst, 0);  // the first data block (the bloom filter and the properties follow it)
  const std::string line = writer_refusal(dir.path);
  INFO(line);
  check_refusal(line, dir.path, "an SST file (Corruption: ");
  CHECK(line.find(sst.string()) != std::string::npos);
  CHECK(reader_refusal(dir.path) == line);
}

TEST_CASE("a cursor value whose checksum fails is refused, naming the slot", "[state][integrity]") {
  TempDir dir;
  std::string value = state::encode_cursor(Lsn(0x2A000010));
  value[6] = static_cast<char>(value[6] ^ 0x04);
  put_raw(dir.path, state::cursor_key("s1"), value);
  const std::string line = writer_refusal(dir.path);
  check_refusal(line, dir.path, "the cursor of slot s1 is corrupt (checksum mismatch: stored 0x");
  CHECK(reader_refusal(dir.path) == line);
  put_raw(dir.path, state::cursor_key("s1"), "1234567");
  check_refusal(writer_refusal(dir.path), dir.path, "the cursor of slot s1 is corrupt (7 bytes, expected 13)");
}

TEST_CASE("snapshot progress that does not parse is refused like damage, naming the table", "[state][integrity]") {
  TempDir dir;
  put_raw(dir.path, state::snapshot_key("s1", "public.users"), "{\"done\": tr");
  std::string line;
  try {
    open_rocksdb_cursor_store(dir.path)->load_snapshot("s1", "public.users");
    FAIL("a malformed snapshot progress was read");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kState);
    line = e.what();
  }
  check_refusal(line, dir.path, "the snapshot progress of public.users (slot s1) is corrupt (");
  CHECK(reader_refusal(dir.path) == line);
}

TEST_CASE("an 8-byte cursor of the release before the checksum is read, and the next save upgrades it",
          "[state][integrity][compat]") {
  TempDir dir;
  put_raw(dir.path, state::cursor_key("s1"), std::string("\x00\x00\x00\x16\xB3\x74\xD8\x48", 8));
  CHECK(read_stored_cursor(dir.path, "s1").confirmed == Lsn(0x16B374D848));
  {
    auto store = open_rocksdb_cursor_store(dir.path);
    CHECK(store->load_confirmed("s1") == Lsn(0x16B374D848));
    store->save_confirmed("s1", Lsn(0x16B374D900));
  }
  const std::string upgraded = get_raw(dir.path, state::cursor_key("s1"));
  CHECK(upgraded == state::encode_cursor(Lsn(0x16B374D900)));
  CHECK(upgraded.size() == 13);
  CHECK(read_stored_cursor(dir.path, "s1").confirmed == Lsn(0x16B374D900));
}

}  // namespace
}  // namespace tombsync
