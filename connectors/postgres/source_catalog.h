// What the start-up of a session writes to, or reads from, the source catalog
// besides the facts (source_facts.h): the publication tombsync creates or
// extends once the rules (agent/source/source_rules.h) allowed it, and the
// built-in type names the relation cache needs. Called by agent/source
// (source_setup.cc) on the plain SQL connection of a session's start.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "connectors/postgres/pg_connection.h"
#include "connectors/postgres/source_facts.h"

namespace tombsync::pg {

// A configured table as the start-up checks resolved it: what the change builder and the
// snapshotter key its events by.
struct ResolvedTable {
  std::string schema;
  std::string table;
  RelationId oid;
  char replica_identity = 'd';            // d default, f full, i index, n nothing
  bool partitioned = false;               // a partitioned table: published through its root
  std::vector<std::string> key_columns;   // empty only for an allowed keyless table
  std::string key_source;                 // "primary key", "replica identity index", "key_columns", "none"
  std::string qualified() const { return schema + "." + table; }
};

// The statements tombsync runs on a publication, also quoted in the rules' messages so an
// operator can run them by hand. An empty table list renders as "<the tables>" (messages only).
//   CREATE PUBLICATION "p" FOR TABLE "s"."t", ... WITH (publish_via_partition_root = true)
// Via the root, a partitioned table's changes arrive under its own name, not its partitions'.
std::string create_publication_sql(const std::string& publication, const std::vector<TableRef>& tables);
//   ALTER PUBLICATION "p" ADD TABLE "s"."t", ...
std::string add_tables_sql(const std::string& publication, const std::vector<TableRef>& tables);

class SourceCatalog {
 public:
  explicit SourceCatalog(PgConnection& conn) : conn_(conn) {}

  // Run the statements above; Error(kSource) with the server's reason when refused.
  void create_publication(const std::string& publication, const std::vector<TableRef>& tables);
  void add_tables(const std::string& publication, const std::vector<TableRef>& tables);
  // Names of every built-in type (OID < 16384), since pgoutput only sends Type
  // messages for user-defined ones.
  std::unordered_map<uint32_t, std::string> builtin_type_names();

 private:
  PgConnection& conn_;
};

}  // namespace tombsync::pg
