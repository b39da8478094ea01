// `tombsync status`: where the agent is. The cursor it last persisted (read
// from state_dir without taking the store's lock, so it works while the agent
// runs), the slot as Postgres sees it (confirmed_flush_lsn, restart_lsn,
// active/pid) with the lag in bytes against the server's current WAL, the
// publication and the configured tables. Read-only; never prints the DSN
// (host, port, database and user only).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "agent/config/config.h"
#include "agent/ops/job_progress.h"
#include "base/lsn.h"

namespace tombsync {

struct StatusReport {
  std::string config_path;

  struct Source {
    std::string host, port, dbname, user;  // from the DSN; never the password
    bool reachable = false;
    std::string server_version;
    std::string system_identifier;
    std::optional<Lsn> current_wal_lsn;  // pg_current_wal_lsn()
  } source;

  struct Slot {
    std::string name;
    bool exists = false;
    std::string plugin, database, wal_status;
    bool active = false;
    std::optional<long> active_pid;
    std::optional<Lsn> confirmed_flush_lsn, restart_lsn;
    std::optional<int64_t> lag_bytes;           // current WAL - confirmed_flush_lsn
    std::optional<int64_t> retained_wal_bytes;  // current WAL - restart_lsn
  } slot;

  struct Cursor {
    std::string state_dir;
    bool store_exists = false;
    std::optional<Lsn> lsn;              // the persisted, confirmed position
    std::optional<std::string> source;   // "<system identifier>/<database>" it belongs to
    std::optional<bool> matches_source;  // unknown while Postgres is unreachable
    std::optional<int64_t> lag_bytes;    // current WAL - cursor
    std::optional<long> agent_pid;       // the process holding state_dir's lock (a running agent)
  } cursor;

  struct Publication {
    std::string name;
    bool exists = false;
    bool all_tables = false;
    std::vector<std::string> tables;  // schema.table, as pg_publication_tables lists them (empty for ALL TABLES)
  } publication;

  struct Table {
    std::string name, topic;
    std::optional<bool> in_publication;  // unknown while Postgres is unreachable
    // From state_dir: "done", "running" (progress saved, not finished) or "none" (not started,
    // or never: streamed only); rows Kafka acknowledged.
    std::string snapshot = "none";
    uint64_t snapshot_rows = 0;
    // Keys the key ledger holds for the table (the store's counter, no scan); unset with
    // ledger: none.
    std::optional<uint64_t> ledger_keys;
    // The table's last TRUNCATE expansion, running or done (agent/ops/job_progress.h).
    std::optional<JobProgress> truncate;
    // The table's last reconciliation (`tombsync reconcile`, or after a lost slot), running or done.
    std::optional<JobProgress> reconcile;
  };
  std::vector<Table> tables;

  // What could not be read or does not add up (Postgres unreachable, an unreadable store, a cursor of
  // another database). Empty: the report is complete.
  std::vector<std::string> errors;

  bool ok() const { return errors.empty(); }
  std::string text() const;
  std::string json() const;  // one JSON object, one line
};

// Gathers the report. Never throws for an unreachable Postgres or an unreadable state store: those
// become `errors`, and what could be read is still reported.
StatusReport collect_status(const std::string& config_path, const Config& config);

}  // namespace tombsync
