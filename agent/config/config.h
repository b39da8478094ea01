// The agent's configuration: one YAML file, validated completely before the
// agent touches Postgres or Kafka. Every problem is reported as
// tombsync::Error(ErrorKind::kConfig) with a single-line message that names
// the file, the line when known, the key path and the expected form, e.g.
//   config /etc/tombsync.yaml line 6: source.tables[1]: "users" is not
//   schema-qualified; expected "schema.table", e.g. "public.users"
// The full reference is docs/configuration.md; examples/tombsync.yaml is the
// annotated example.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "schemas/encoder.h"  // Format: the encoders own the output formats

namespace tombsync {

// What a DELETE becomes downstream (docs/contract.md 1.2): a delete event with
// is_deleted = true, a tombstone (null value), or the event then the tombstone.
enum class DeletePolicy { kBoth, kFlag, kTombstone };
// What redact_on_delete does to a listed column in a delete event's row image.
enum class RedactMode { kDrop, kHash };
enum class SnapshotMode { kInitial = 0, kNever = 1, kInitialOnly = 2 };  // order = YAML names
// What happens to a record larger than the producer's message.max.bytes
// (docs/configuration.md, "Oversized records"): stop with an error naming the
// record and the settings (kFail); or cut (kTruncateColumn, text and bytea
// columns) or write as null (kSkipColumn) its largest non-key values until it
// fits, logged, counted and named in the record's tombsync.oversized header.
enum class OversizedPolicy { kFail = 0, kTruncateColumn = 1, kSkipColumn = 2 };  // order = YAML names
// The key ledger (docs/architecture.md "The key ledger"): kKeys keeps, in the
// state store, every Kafka record key the table's topic holds as live; kNone
// keeps nothing; kRows keeps every key and, with it, the key's last complete row
// (compressed), so deletes carry the row they deleted and unchanged TOAST values
// are filled without reading the source (docs/deletes.md "Deleted rows"). A
// keyless table never has one (Config::ledger_for).
enum class LedgerMode { kNone = 0, kKeys = 1, kRows = 2 };  // order = YAML names
// What a TRUNCATE becomes (docs/deletes.md): kEvent, the truncate event alone;
// kExpand, the truncate event and then one delete (event and/or tombstone, per
// `deletes`) for every key the table's ledger holds, which empties it. kExpand
// needs the ledger (Config::truncate_for).
enum class TruncateMode { kExpand = 0, kEvent = 1 };  // order = YAML names
// What a start does when state_dir holds a cursor the server can no longer serve: the slot is
// missing, its wal_status is lost, or the cursor is ahead of the server's WAL (docs/deletes.md
// "Lost slot"). kStop refuses to start (the operator decides); kReconcile recreates the slot
// and reconciles every table that keeps a ledger, so rows deleted in the gap become inferred
// deletes instead of ghosts.
enum class OnSlotLoss { kStop = 0, kReconcile = 1 };  // order = YAML names

// The names used in the config file: "both", "flag", "tombstone"; "drop", "hash". (Format's
// names, "json", "protobuf", "debezium-json", are schemas/encoder.h's to_string.)
const char* to_string(DeletePolicy policy);
const char* to_string(RedactMode mode);
const char* to_string(OversizedPolicy policy);  // "fail", "truncate_column", "skip_column"
const char* to_string(LedgerMode mode);          // "none", "keys", "rows"
const char* to_string(TruncateMode mode);        // "expand", "event"
const char* to_string(OnSlotLoss mode);          // "stop", "reconcile"

// A table as Postgres names it in the catalog (and in pgoutput Relation
// messages): unquoted names in the config are folded to lower case, quoted
// ones ("MyTable") are kept as written, exactly as in SQL.
struct TableName {
  std::string schema, table;

  // "schema.table", unquoted: for logs, metrics and topic names. Not SQL.
  std::string qualified() const;
  // "\"schema\".\"table\"" with embedded quotes doubled: safe to splice into SQL
  // (CREATE PUBLICATION ... FOR TABLE).
  std::string sql_quoted() const;

  bool operator==(const TableName&) const = default;
};

// Per-table overrides; a table listed in the short form has none.
struct TableConfig {
  TableName name;
  std::optional<DeletePolicy> deletes;   // unset: Config::deletes applies (see deletes_for)
  std::vector<std::string> key_columns;  // overrides the primary key; names as in the catalog
  // Stream a table that has no key: its events have a null Kafka key, and its
  // deletes need REPLICA IDENTITY FULL to carry a row. Validation guarantees
  // that such a table's effective policy is kFlag (a null-keyed tombstone
  // deletes nothing) and that key_columns is empty.
  bool allow_keyless = false;
  std::optional<std::string> topic;  // overrides <prefix>.<schema>.<table>
  std::optional<SnapshotMode> snapshot;  // initial | never; unset: the global mode applies
  // A column the application sets to soft-delete a row (a timestamp, or a
  // boolean): a row image where it is set (non-null, or true) is delivered as
  // a delete (docs/contract.md 1.3); one where it is clear, as an upsert (a restore).
  std::optional<std::string> soft_delete_column;
  // Columns removed (kDrop) or replaced by their SHA-256 (kHash) in the row
  // image of delete events, hard or soft, so the audit trail drops personal data.
  std::vector<std::string> redact_on_delete;
  RedactMode redact_mode = RedactMode::kDrop;
  std::optional<OversizedPolicy> oversized;  // unset: Config::oversized applies
  std::optional<LedgerMode> ledger;          // unset: Config::ledger applies
  std::optional<TruncateMode> truncate;      // unset: Config::truncate, else by the ledger
  // Every insert/update record (a restore included) carries every column: unchanged TOAST
  // values are read from the source (RowFiller), not only a primary-key change's.
  bool complete_rows = false;
};

struct Config {
  struct Source {
    std::string dsn;                  // libpq conninfo or postgresql:// URI (required)
    std::string slot = "tombsync";    // [a-z0-9_]{1,63}
    std::string publication = "tombsync";  // [a-z_][a-z0-9_]{0,62}
    bool create_publication = true;   // create/alter the publication to cover `tables` when missing
    bool create_slot = true;
    std::vector<TableConfig> tables;  // non-empty, unique, schema-qualified, in file order
    int status_interval_ms = 1000;    // standby status update cadence (100..60000)
    // A file whose content (trailing newline removed) is the Postgres password:
    // a mounted Kubernetes Secret. Used when the DSN has no password; read again
    // by every connection (pg::set_password_file), so a rotation applies at the
    // next reconnect.
    std::string password_file;
  } source;
  struct Kafka {
    std::string brokers;       // "host:port[,host:port]" (required); whitespace removed
    std::string topic_prefix;  // [A-Za-z0-9._-]+ (required)
    // librdkafka passthrough. Never holds a property tombsync owns
    // (owned_properties() in connectors/kafka/kafka_properties.h: bootstrap.servers,
    // acks, enable.idempotence, partitioner, delivery.report.only.error, and aliases).
    std::map<std::string, std::string> properties;
    int connect_timeout_ms = 10000;  // 100..300000
    // librdkafka property -> file holding its value (sasl.password, ...); read
    // at load time, merged into `properties`, never logged.
    std::map<std::string, std::string> property_files;
  } kafka;
  Format format = Format::kJson;
  DeletePolicy deletes = DeletePolicy::kBoth;
  OversizedPolicy oversized = OversizedPolicy::kFail;
  LedgerMode ledger = LedgerMode::kKeys;
  std::optional<TruncateMode> truncate;  // unset: kExpand where the table keeps a ledger
  OnSlotLoss on_slot_loss = OnSlotLoss::kStop;
  std::string state_dir;  // RocksDB cursor store directory (required)
  // initial: a table without finished snapshot progress is read whole, then streamed;
  // never: only changes; initial_only: snapshot, then exit once it is confirmed.
  SnapshotMode snapshot = SnapshotMode::kInitial;
  int snapshot_chunk_rows = 10000;  // 100..1000000
  // Parallel snapshot reads: tables read at once, one Postgres connection each.
  int snapshot_max_connections = 2;  // 1..16
  struct Http {
    std::string address;  // "host:port" for /healthz, /readyz, /metrics; empty: no server
  } http;
  struct Health {
    // Replication lag (bytes of WAL not yet confirmed) above which a warning is
    // logged once per crossing and /readyz reports not ready.
    int64_t max_lag_bytes = int64_t{1} << 30;
    // /readyz also fails when Kafka has not acknowledged a pending record for this long.
    int kafka_stall_ms = 30000;
  } health;
  struct Heartbeat {
    // Write a pg_logical_emit_message this often so the slot advances on a
    // database whose published tables are idle while others write. 0: off.
    int interval_ms = 0;
  } heartbeat;
  struct Reconnect {
    // After a lost Postgres connection: exponential back-off with jitter (a random wait in
    // [base/2, base]).
    int initial_backoff_ms = 500;
    int max_backoff_ms = 30000;
    int max_attempts = 0;  // 0: retry forever
  } reconnect;
  struct Log {
    std::string level = "info";   // debug | info | warn | error
    std::string format = "text";  // text | json
  } log;

  // The configured table, or nullptr when the table is not in source.tables.
  // Names are compared exactly, as Postgres reports them (already folded).
  const TableConfig* find_table(const std::string& schema, const std::string& table) const;
  // The table's override, else "<topic_prefix>.<schema>.<table>". Validation
  // guarantees the result is a legal Kafka topic name.
  std::string topic_for(const TableConfig& table) const;
  // The table's override, else the global policy.
  DeletePolicy deletes_for(const TableConfig& table) const;
  // The table's override, else the global policy.
  OversizedPolicy oversized_for(const TableConfig& table) const;
  // The table's override, else the global mode; kNone for a keyless table (no key to keep).
  LedgerMode ledger_for(const TableConfig& table) const;
  // kEvent for a table without a ledger (a keyless one; an explicit expand with ledger: none is
  // refused when the config is read); else the table's override, else the global mode, else kExpand.
  TruncateMode truncate_for(const TableConfig& table) const;
  // kNever globally wins; otherwise the table's override, else the global mode.
  SnapshotMode snapshot_for(const TableConfig& table) const;
};

// Loading (config_parser.cc). Both return a Config that passed every check above, or throw
// Error(kConfig) with the first problem, in the one-line form described at the top.
// Reads and validates the file; a missing or unreadable file is a kConfig error.
Config load_config_file(const std::string& path);
// Validates YAML text; `origin` names it in messages ("config <origin> line N: ...").
// Reads the process environment for ${VAR} substitution.
Config parse_config(const std::string& yaml_text, const std::string& origin);

}  // namespace tombsync
