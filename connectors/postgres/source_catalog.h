// Pre-flight and setup of the source over a plain SQL connection: server
// settings, role rights, the configured tables and their keys, the
// publication and the slot. Every refusal is an Error(kSource) that names the
// object and says how to fix it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/lsn.h"
#include "connectors/postgres/pg_connection.h"

namespace tombsync::pg {

struct TableRequest {
  std::string schema;
  std::string table;
  std::vector<std::string> key_columns;  // configured override; empty = use the primary key
  bool allow_keyless = false;
};

struct ResolvedTable {
  std::string schema;
  std::string table;
  uint32_t oid = 0;
  char replica_identity = 'd';            // d default, f full, i index, n nothing
  bool partitioned = false;               // a partitioned table: published through its root
  std::vector<std::string> key_columns;   // empty only for an allowed keyless table
  std::string key_source;                 // "primary key", "replica identity index", "key_columns", "none"
  std::string qualified() const { return schema + "." + table; }
};

struct SlotInfo {
  std::string plugin;
  std::string database;
  bool active = false;
  std::optional<int> active_pid;
  std::optional<Lsn> confirmed_flush;
};

class SourceCatalog {
 public:
  explicit SourceCatalog(PgConnection& conn) : conn_(conn) {}

  // wal_level = logical, and free slots / senders.
  void check_server_settings();
  // The connected role may replicate (REPLICATION or superuser).
  void check_replication_role();
  // Each table exists, is readable, and has a usable key (or is allowed keyless).
  std::vector<ResolvedTable> resolve_tables(const std::vector<TableRequest>& requests);
  // Creates the publication, or adds missing tables to it, when `create`;
  // otherwise refuses if it does not cover every table. Returns what it did, for the log.
  std::vector<std::string> ensure_publication(const std::string& name,
                                              const std::vector<ResolvedTable>& tables, bool create);
  std::optional<SlotInfo> slot(const std::string& name);
  // Names of every built-in type (OID < 16384), since pgoutput only sends Type
  // messages for user-defined ones.
  std::unordered_map<uint32_t, std::string> builtin_type_names();
  std::string current_database();

 private:
  PgConnection& conn_;
};

}  // namespace tombsync::pg
