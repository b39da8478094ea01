#include "state/cursor_reader.h"

#include <fcntl.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/options.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <filesystem>
#include <memory>

#include "base/error.h"
#include "state/cursor_keys.h"

namespace tombsync {
namespace {


// Without an info_log of its own, RocksDB would open (and rotate) the writer's LOG file.
class NullLogger final : public rocksdb::Logger {
 public:
  using rocksdb::Logger::Logv;
  void Logv(const char*, va_list) override {}
};

[[noreturn]] void fail(const std::string& dir, const std::string& what) {
  throw Error(ErrorKind::kState, "state store " + dir + ": " + what);
}

}  // namespace

StoredCursor read_stored_cursor(const std::string& state_dir, const std::string& slot) {
  StoredCursor out;
  std::error_code ec;
  if (!std::filesystem::exists(std::filesystem::path(state_dir) / "CURRENT", ec)) return out;
  out.store_exists = true;

  rocksdb::Options options;
  options.create_if_missing = false;
  options.max_open_files = 16;
  options.info_log = std::make_shared<NullLogger>();
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::OpenForReadOnly(options, state_dir, &raw);
  if (!s.ok()) fail(state_dir, "cannot open read-only: " + s.ToString());
  std::unique_ptr<rocksdb::DB> db(raw);

  auto get = [&](const std::string& key) -> std::optional<std::string> {
    std::string value;
    auto st = db->Get(rocksdb::ReadOptions(), key, &value);
    if (st.IsNotFound()) return std::nullopt;
    if (!st.ok()) fail(state_dir, "read of " + key + " failed: " + st.ToString());
    return value;
  };
  if (auto v = get(state::cursor_key(slot))) {
    out.confirmed = state::decode_cursor(*v);
    if (!out.confirmed)
      fail(state_dir, "cursor for slot " + slot + " is corrupt (" + std::to_string(v->size()) + " bytes)");
  }
  out.source = get(state::identity_key(slot));
  const std::string prefix = state::snapshot_prefix(slot);
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    const std::string table = it->key().ToString().substr(prefix.size());
    try {
      const SnapshotProgress p = state::decode_snapshot(it->value().ToString());
      out.snapshots[table] = {p.done, p.rows};
    } catch (const std::exception& e) {
      fail(state_dir, "snapshot progress of " + table + " is corrupt: " + e.what());
    }
  }
  return out;
}

std::optional<long> state_dir_lock_holder(const std::string& state_dir) {
  std::string path = (std::filesystem::path(state_dir) / "LOCK").string();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct flock query {};
  query.l_type = F_WRLCK;  // RocksDB's lock: a write lock over the whole LOCK file
  query.l_whence = SEEK_SET;
  query.l_start = 0;
  query.l_len = 0;
  int rc = ::fcntl(fd, F_GETLK, &query);
  ::close(fd);
  if (rc != 0 || query.l_type == F_UNLCK) return std::nullopt;
  return static_cast<long>(query.l_pid);
}

}  // namespace tombsync
