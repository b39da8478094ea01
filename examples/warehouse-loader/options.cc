#include "examples/warehouse-loader/options.h"

namespace tombsync::loader {
namespace {

[[noreturn]] void bad(const std::string& message) { bad_flag(message); }

}  // namespace

ConsumerConfig consumer_config(const Options& o) {
  return {.brokers = o.brokers, .group = o.group, .client_id = "tombsync-warehouse-loader", .tables = o.tables,
          .order_settle = o.order_settle};
}

const char* usage() {
  return R"(usage: tombsync-warehouse-loader --brokers HOST:PORT --source-dsn DSN --warehouse-dsn DSN
                                  --topic-prefix PREFIX --table SCHEMA.TABLE[=TOPIC] [...] [options]

Keeps a Postgres warehouse copy of tombsync's table topics (format: json): the source columns plus
is_deleted, deleted_at, _synced_lsn, _synced_seq, _synced_at, a <table>_active view, and the source's
unique indexes as partial unique constraints (WHERE NOT is_deleted, checked at commit).

  --brokers LIST              Kafka bootstrap servers
  --source-dsn DSN            the source Postgres, read for columns, types, primary key, unique indexes
  --warehouse-dsn DSN         the warehouse Postgres
  --warehouse-schema NAME     schema of the warehouse tables (default public; created if missing)
  --topic-prefix PREFIX       tombsync's kafka.topic_prefix: table s.t is read from PREFIX.s.t
  --table S.T[=TOPIC]         a table to copy (repeat, or comma-separate); =TOPIC overrides its topic
  --group ID                  Kafka consumer group; offsets live in the warehouse under it
                              (default tombsync-warehouse-loader)
  --purge-tombstones          hard-delete the row on a tombstone (default: keep it, flagged)
  --purge-deleted-after DUR   hard-delete rows flagged longer than DUR (30d, 12h, 90m, 45s)
  --purge-interval DUR        how often that purge runs (default 1h; it also runs at start)
  --batch-records N           records per warehouse transaction at most (default 5000)
  --batch-wait-ms N           how long a batch may wait for more records (default 200)
  --order-settle-ms N         how long a record waits for partitions at their end to show
                              anything produced before it (default 500)
  --unique-wait DUR           how long a unique-index conflict may wait for the records that
                              resolve it before the loader stops (default 60s)
  --log-level LEVEL           debug, info, warn, error (default info)
  --help
)";
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    std::string value;
    bool has_inline = false;
    if (auto eq = flag.find('='); flag.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
      has_inline = true;
    }
    auto next = [&]() -> std::string {
      if (has_inline) return value;
      if (i + 1 >= argc) bad(flag + " needs a value (see --help)");
      return argv[++i];
    };
    if (flag == "--help" || flag == "-h") o.help = true;
    else if (flag == "--brokers") o.brokers = next();
    else if (flag == "--source-dsn") o.source_dsn = next();
    else if (flag == "--warehouse-dsn") o.warehouse_dsn = next();
    else if (flag == "--warehouse-schema") o.warehouse_schema = next();
    else if (flag == "--topic-prefix") o.topic_prefix = next();
    else if (flag == "--group") o.group = next();
    else if (flag == "--purge-tombstones") o.purge_tombstones = true;
    else if (flag == "--log-level") o.log_level = next();
    else if (flag == "--batch-records") o.batch_records = parse_positive(flag, next());
    else if (flag == "--batch-wait-ms") o.batch_wait = std::chrono::milliseconds(parse_positive(flag, next()));
    else if (flag == "--order-settle-ms") o.order_settle = std::chrono::milliseconds(parse_positive(flag, next()));
    else if (flag == "--table") parse_table_list(next(), o.tables);
    else if (flag == "--purge-deleted-after") o.purge_deleted_after = parse_duration_flag(flag, next(), true);
    else if (flag == "--purge-interval") o.purge_interval = parse_duration_flag(flag, next(), false);
    else if (flag == "--unique-wait") o.unique_wait = parse_duration_flag(flag, next(), false);
    else {
      bad("unknown argument '" + std::string(argv[i]) + "' (see --help)");
    }
  }
  if (o.help) return o;
  if (o.brokers.empty()) bad("--brokers is required: the Kafka bootstrap servers, e.g. 127.0.0.1:9092");
  if (o.source_dsn.empty())
    bad("--source-dsn is required: the loader reads each table's columns, key and unique indexes from the source");
  if (o.warehouse_dsn.empty()) bad("--warehouse-dsn is required: the Postgres database that holds the copy");
  if (o.tables.empty()) bad("--table is required: at least one schema.table to copy");
  resolve_topics(o.tables, o.topic_prefix);
  for (size_t a = 0; a < o.tables.size(); ++a)
    for (size_t b = a + 1; b < o.tables.size(); ++b)
      if (o.tables[a].name == o.tables[b].name)
        bad("--table " + o.tables[a].qualified() + " and " + o.tables[b].qualified() +
            " would share the warehouse table " + o.warehouse_schema + "." + o.tables[a].name +
            "; run a second loader with another --warehouse-schema for one of them");
  return o;
}

}  // namespace tombsync::loader
