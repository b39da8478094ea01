#include "state/store_integrity.h"

#include <cstdio>

#include "base/error.h"

namespace tombsync::state {

void set_integrity_options(rocksdb::Options& options) {
  options.paranoid_checks = true;
  options.wal_recovery_mode = rocksdb::WALRecoveryMode::kAbsoluteConsistency;
}

DamageWitness::DamageWitness(std::shared_ptr<rocksdb::Logger> inner)
    : rocksdb::Logger(rocksdb::InfoLogLevel::INFO_LEVEL), inner_(std::move(inner)) {}

void DamageWitness::Logv(const char* format, va_list ap) {
  Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
}

void DamageWitness::Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) {
  if (level >= rocksdb::InfoLogLevel::WARN_LEVEL) {
    va_list copy;
    va_copy(copy, ap);
    char line[1024];
    std::vsnprintf(line, sizeof line, format, copy);
    va_end(copy);
    // db_impl_open.cc's reporter: "<dir>/<number>.log: dropping <n> bytes; <status>".
    const std::string text(line);
    const size_t at = text.find(".log: dropping ");
    if (at != std::string::npos) {
      const size_t slash = text.find_last_of("/ ", at);
      const size_t start = slash == std::string::npos ? 0 : slash + 1;
      std::lock_guard lock(mu_);
      damaged_wal_ = text.substr(start, at + 4 - start);  // "000004.log"
    }
  }
  if (inner_) inner_->Logv(level, format, ap);
}

void DamageWitness::Flush() {
  if (inner_) inner_->Flush();
}

std::string DamageWitness::damaged_wal() const {
  std::lock_guard lock(mu_);
  return damaged_wal_;
}

std::string damaged_part(const DamageWitness& witness, const rocksdb::Status& s) {
  const std::string wal = witness.damaged_wal();
  if (!wal.empty()) return "the write-ahead log " + wal;
  if (s.ToString().find(".sst") != std::string::npos) return "an SST file";
  return "a file of the store";
}

std::string damaged_message(const std::string& dir, const std::string& what, const std::string& detail) {
  return "state store " + dir + " is damaged: " + what + " (" + detail +
         "); tombsync will not guess a position to stream from. Restore " + dir +
         " from a backup, or re-sync from a fresh, empty state_dir (the agent then resumes at the slot's "
         "confirmed position and reads every table with snapshot: initial again); see "
         "docs/operations.md#the-state-store-is-damaged";
}

void refuse_damaged(const std::string& dir, const std::string& what, const std::string& detail) {
  throw Error(ErrorKind::kState, damaged_message(dir, what, detail));
}

}  // namespace tombsync::state
