#include "agent/cli/drop_slot.h"

#include <unistd.h>

#include <filesystem>
#include <string>

#include "state/cursor_store.h"
#include "base/error.h"
#include "base/log.h"
#include "connectors/postgres/pg_connection.h"

namespace tombsync {

int drop_slot(const Config& config, bool assume_yes, std::FILE* in, std::FILE* out) {
  const std::string& slot = config.source.slot;
  pg::PgConnection conn(config.source.dsn, pg::PgConnection::Mode::kSql);
  auto r = conn.exec_params(
      "SELECT active, coalesce(active_pid, 0), "
      "coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::bigint, "
      "coalesce(confirmed_flush_lsn::text, '?') FROM pg_replication_slots WHERE slot_name = $1",
      {slot}, "reading replication slot " + slot);
  const bool exists = PQntuples(r.get()) == 1;
  if (exists && std::string(PQgetvalue(r.get(), 0, 0)) == "t") {
    std::fprintf(out, "slot %s is in use by backend pid %s (a running tombsync?); stop it first, then run drop-slot "
                 "again\n", slot.c_str(), PQgetvalue(r.get(), 0, 1));
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
      exists ? "drop replication slot " + slot + " (confirmed at " + PQgetvalue(r.get(), 0, 3) + ", holding " +
                   PQgetvalue(r.get(), 0, 2) + " bytes of WAL)" + (has_state ? " and forget its cursor" : "")
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
    conn.exec_params("SELECT pg_drop_replication_slot($1)", {slot}, "dropping replication slot " + slot);
    log::info("dropped replication slot {}", slot);
  }
  if (store) store->forget_slot(slot);
  std::fprintf(out, "done: %s%s\n", exists ? "dropped slot " : "forgot the cursor of slot ", slot.c_str());
  return 0;
}

}  // namespace tombsync
