#include "agent/cli/drop_slot.h"

#include <unistd.h>

#include <filesystem>
#include <string>

#include "base/error.h"
#include "base/log.h"
#include "connectors/postgres/pg_connection.h"
#include "connectors/postgres/slot_admin.h"
#include "connectors/postgres/source_facts.h"
#include "state/cursor_store.h"

namespace tombsync {

int drop_slot(const Config& config, bool assume_yes, std::FILE* in, std::FILE* out) {
  const std::string& slot = config.source.slot;
  pg::PgConnection conn(config.source.dsn, pg::PgConnection::Mode::kSql);
  const pg::SlotFacts facts = pg::read_slot(conn, slot);
  const bool exists = facts.exists;
  if (exists && facts.active) {
    std::fprintf(out, "slot %s is in use by backend pid %d (a running tombsync?); stop it first, then run drop-slot "
                 "again\n", slot.c_str(), facts.active_pid.value_or(0));
    return 1;
  }
  // Opening the store also proves no agent runs with this state_dir (RocksDB's lock).
  std::unique_ptr<CursorStore> store;
  if (std::filesystem::exists(config.state_dir)) store = open_rocksdb_cursor_store(config.state_dir);
  const bool has_state = store && (store->load_confirmed(slot).has_value() ||
                                   store->load_source_identity(slot).has_value());
  if (!exists && !has_state) {
    std::fprintf(out, "slot %s does not exist and state_dir %s holds nothing for it; nothing to drop\n",
                 slot.c_str(), config.state_dir.c_str());
    return 0;
  }
  const std::string what =
      exists ? "drop replication slot " + slot + " (confirmed at " +
                   (facts.confirmed_flush ? facts.confirmed_flush->str() : std::string("?")) + ", holding " +
                   std::to_string(facts.retained_wal_bytes.value_or(0)) + " bytes of WAL)" +
                   (has_state ? " and forget its cursor" : "")
             : "forget the cursor of slot " + slot + " (the slot itself is already gone)";
  if (!assume_yes) {
    if (!isatty(fileno(in))) {
      std::fprintf(out, "drop-slot would %s. Changes not yet delivered are lost with it. Run it at a terminal "
                   "to confirm, or pass --yes\n", what.c_str());
      return 2;
    }
    std::fprintf(out, "This will %s.\nChanges not yet delivered to Kafka are lost; the next run creates a new slot "
                 "and reads every table again (snapshot: initial).\nType the slot name to confirm: ", what.c_str());
    std::fflush(out);
    char line[256] = {};
    std::string answer = std::fgets(line, sizeof line, in) ? line : "";
    while (!answer.empty() && (answer.back() == '\n' || answer.back() == '\r')) answer.pop_back();
    if (answer != slot) {
      std::fprintf(out, "not confirmed; nothing was dropped\n");
      return 1;
    }
  }
  if (exists) {
    pg::drop_replication_slot(conn, slot);
    log::info("dropped replication slot {}", slot);
  }
  if (store) store->forget_slot(slot);
  std::fprintf(out, "done: %s%s\n", exists ? "dropped slot " : "forgot the cursor of slot ", slot.c_str());
  return 0;
}

}  // namespace tombsync
