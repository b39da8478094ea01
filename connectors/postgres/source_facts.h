// What the source is, read once over a plain SQL connection: the server's
// settings, the connected role, each configured table, the publication and the
// slot. Plain facts, no judgement: agent/source/source_rules.h judges them, for
// `tombsync run` (which refuses the first problem) and `tombsync check` (which
// prints them all), and `tombsync status` reports them. Reading changes
// nothing in the database.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/lsn.h"
#include "connectors/postgres/pg_connection.h"
#include "schemas/change.h"

namespace tombsync::pg {

// A table as the catalog names it (unquoted, case as stored).
struct TableRef {
  std::string schema, table;
  std::string qualified() const { return schema + "." + table; }  // for messages; not SQL
  std::string sql() const;                                        // "schema"."table", quoted for SQL
  bool operator==(const TableRef&) const = default;
};

struct InspectRequest {
  std::vector<TableRef> tables;  // the configured tables, in config order
  std::string publication;       // "": not read (PublicationFacts::exists stays false)
  std::string slot;              // "": not read (SlotFacts::exists stays false)
};

struct ServerFacts {
  std::string version;              // current_setting('server_version'), "15.20 (Debian 15.20-0+deb12u1)"
  int version_num = 0;              // server_version_num, 150020
  std::string database;             // current_database()
  std::string wal_level;
  int max_replication_slots = 0;
  int used_replication_slots = 0;   // rows of pg_replication_slots, every database
  int max_wal_senders = 0;
  int used_wal_senders = 0;         // rows of pg_stat_replication
  std::string system_identifier;    // pg_control_system(); "" when the role may not call it
  std::optional<Lsn> current_wal;   // pg_current_wal_lsn() (on a standby: the last replayed)
};

struct RoleFacts {
  std::string name;  // current_user
  bool superuser = false;
  bool replication = false;              // rolreplication
  bool may_create_in_database = false;   // CREATE on the current database (to create a publication)
};

struct TableFacts {
  TableRef name;
  bool exists = false;          // a relation of that name is in that schema (any relkind)
  char relkind = 0;             // 'r' table, 'p' partitioned table, 'v' view, 'm', 'f', ...
  RelationId oid;
  std::string owner;
  bool owned = false;           // the role has its owner's privileges (may publish or alter it)
  bool readable = false;        // the role has SELECT on it
  char replica_identity = 'd';  // relreplident: d default, f full, i index, n nothing
  std::vector<std::string> columns;         // in attnum order, dropped ones left out
  std::vector<std::string> primary_key;     // in the index's column order; empty: none
  std::vector<std::string> identity_index;  // the REPLICA IDENTITY USING INDEX index's columns
  bool is_table() const { return relkind == 'r' || relkind == 'p'; }
  bool partitioned() const { return relkind == 'p'; }
};

// A table the publication publishes (listed) or names (member); both for most tables. A
// partitioned table named without publish_via_partition_root is a member that is not listed:
// its partitions are listed instead.
struct PublishedTable {
  TableRef name;
  bool listed = false;       // in pg_publication_tables: changes are sent under this name
  bool member = false;       // in pg_publication_rel: named by the publication itself
  bool column_list = false;  // PG15: a column list narrows what is sent
  bool row_filter = false;   // PG15: a WHERE clause narrows what is sent
};

struct PublicationFacts {
  bool exists = false;
  std::string owner;
  bool owned = false;  // the role has its owner's privileges (may alter it)
  bool all_tables = false;
  bool publishes_insert = false, publishes_update = false, publishes_delete = false,
       publishes_truncate = false;
  bool via_root = false;               // publish_via_partition_root
  std::vector<PublishedTable> tables;  // empty for FOR ALL TABLES, which covers every table
  const PublishedTable* find(const TableRef& table) const;  // nullptr: neither listed nor a member
};

struct SlotFacts {
  bool exists = false;
  std::string plugin;    // "" for a physical slot
  std::string database;  // "" for a physical slot
  bool active = false;
  std::optional<int> active_pid;
  std::optional<Lsn> confirmed_flush, restart_lsn;
  std::string wal_status;                   // reserved | extended | unreserved | lost; "" if unknown
  std::optional<int64_t> safe_wal_size;     // bytes of WAL before it is at risk; unset: unlimited
  std::optional<int64_t> retained_wal_bytes;  // current WAL - restart_lsn
  std::optional<bool> failover;             // PG17+: synchronised to standbys for failover
};

struct SourceFacts {
  ServerFacts server;
  RoleFacts role;
  std::vector<TableFacts> tables;  // one per requested table, in request order
  PublicationFacts publication;
  SlotFacts slot;
};

// Reads every fact with four catalog queries (settings, role and slot in one statement, so the
// slot's positions and the current WAL are of one instant; the tables; the publication; the
// system identifier). Throws Error(kSource) when a query fails; a pg_control_system() the role
// may not call leaves system_identifier empty instead.
SourceFacts inspect(PgConnection& conn, const InspectRequest& request);

// Only the slot (exists false when there is none), with its retained WAL: for drop-slot.
SlotFacts read_slot(PgConnection& conn, const std::string& slot);

}  // namespace tombsync::pg
