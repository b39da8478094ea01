// The state store's integrity rules, in one place for the writer
// (rocksdb_cursor_store.cc) and the read-only view (cursor_reader.cc), so that
// `run`, `check` and `status` open the store with the same checks and refuse a
// damaged one with the same line (docs/architecture.md, "State integrity").
#pragma once

#include <rocksdb/env.h>
#include <rocksdb/options.h>
#include <rocksdb/status.h>

#include <cstdarg>
#include <memory>
#include <mutex>
#include <string>

namespace tombsync::state {

// Sets what both opens promise: paranoid_checks, and
// WALRecoveryMode::kAbsoluteConsistency, which refuses to open when any WAL
// record is corrupt or the WAL ends in an incomplete record, where the default
// (kPointInTimeRecovery) silently recovers to the last good record before it.
void set_integrity_options(rocksdb::Options& options);

// The info_log of both opens. It remembers the WAL file RocksDB names when
// recovery meets a corrupt record ("<dir>/000004.log: dropping 3267 bytes;
// Corruption: checksum mismatch", logged before Open returns the bare status),
// and forwards every line to `inner` (the writer's LOG file), or drops it when
// `inner` is null (the read-only view, which writes nothing in state_dir).
// RocksDB calls it from its own threads too: thread-safe.
class DamageWitness final : public rocksdb::Logger {
 public:
  explicit DamageWitness(std::shared_ptr<rocksdb::Logger> inner);
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override;
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override;
  void Flush() override;
  // The WAL file named in the last such line (e.g. "000004.log"); empty when none was.
  std::string damaged_wal() const;

 private:
  std::shared_ptr<rocksdb::Logger> inner_;
  mutable std::mutex mu_;
  std::string damaged_wal_;  // under mu_
};

// What a Corruption status `s` of an Open or a checksum verification says is
// damaged, for damaged_message(): "the write-ahead log 000004.log" when the
// witness saw the WAL named, "an SST file" when the status names one, else "a
// file of the store" (the MANIFEST, CURRENT; the status names it).
std::string damaged_part(const DamageWitness& witness, const rocksdb::Status& s);

// The one line that refuses a damaged store: names the directory, what is
// damaged (`what`, e.g. "the cursor of slot s") and how (`detail`, RocksDB's
// status or the decoder's reason), says that tombsync will not guess a
// position, and gives the remedy (restore from a backup, or re-sync from a
// fresh state_dir) with the recipe in docs/operations.md.
std::string damaged_message(const std::string& dir, const std::string& what, const std::string& detail);

// Throws Error(kState, damaged_message(...)).
[[noreturn]] void refuse_damaged(const std::string& dir, const std::string& what, const std::string& detail);

}  // namespace tombsync::state
