#include "examples/warehouse-loader/options.h"

#include <charconv>
#include <cstdlib>

#include "base/error.h"

namespace tombsync::loader {
namespace {

[[noreturn]] void bad(const std::string& message) { throw Error(ErrorKind::kConfig, message); }

size_t positive(const std::string& flag, const std::string& text) {
  size_t v = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size() || v == 0)
    bad(flag + " expects a positive integer, got '" + text + "'");
  return v;
}

// "public.users" or "public.users=app.public.users"; the topic defaults to <prefix>.<schema>.<table>.
TableSpec parse_table(const std::string& text) {
  TableSpec t;
  std::string name = text;
  if (auto eq = text.find('='); eq != std::string::npos) {
    name = text.substr(0, eq);
    t.topic = text.substr(eq + 1);
    if (t.topic.empty()) bad("--table " + text + ": the topic after '=' is empty");
  }
  auto dot = name.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == name.size() || name.find('.', dot + 1) != std::string::npos)
    bad("--table expects schema.table (optionally schema.table=topic), got '" + text + "'");
  t.schema = name.substr(0, dot);
  t.name = name.substr(dot + 1);
  return t;
}

}  // namespace

std::optional<std::chrono::seconds> parse_duration(const std::string& text) {
  if (text.empty()) return std::nullopt;
  int64_t n = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), n);
  if (r.ec != std::errc() || n < 0) return std::nullopt;
  std::string unit(r.ptr, text.data() + text.size());
  int64_t scale = 0;
  if (unit.empty() || unit == "s") scale = 1;
  else if (unit == "m") scale = 60;
  else if (unit == "h") scale = 3600;
  else if (unit == "d") scale = 86400;
  else return std::nullopt;
  return std::chrono::seconds(n * scale);
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
    else if (flag == "--batch-records") o.batch_records = positive(flag, next());
    else if (flag == "--batch-wait-ms") o.batch_wait = std::chrono::milliseconds(positive(flag, next()));
    else if (flag == "--order-settle-ms") o.order_settle = std::chrono::milliseconds(positive(flag, next()));
    else if (flag == "--table") {
      std::string list = next();
      for (size_t start = 0; start <= list.size();) {
        size_t comma = list.find(',', start);
        if (comma == std::string::npos) comma = list.size();
        if (comma > start) o.tables.push_back(parse_table(list.substr(start, comma - start)));
        start = comma + 1;
      }
    } else if (flag == "--purge-deleted-after" || flag == "--purge-interval" || flag == "--unique-wait") {
      std::string text = next();
      auto d = parse_duration(text);
      if (!d) bad(flag + " expects a duration such as 30d, 12h, 90m or 45s, got '" + text + "'");
      if (flag == "--purge-deleted-after") o.purge_deleted_after = *d;
      else if (*d == std::chrono::seconds(0)) bad(flag + " must be longer than 0s");
      else if (flag == "--purge-interval") o.purge_interval = *d;
      else o.unique_wait = *d;
    } else {
      bad("unknown argument '" + std::string(argv[i]) + "' (see --help)");
    }
  }
  if (o.help) return o;
  if (o.brokers.empty()) bad("--brokers is required: the Kafka bootstrap servers, e.g. 127.0.0.1:9092");
  if (o.source_dsn.empty())
    bad("--source-dsn is required: the loader reads each table's columns, key and unique indexes from the source");
  if (o.warehouse_dsn.empty()) bad("--warehouse-dsn is required: the Postgres database that holds the copy");
  if (o.tables.empty()) bad("--table is required: at least one schema.table to copy");
  for (auto& t : o.tables) {
    if (!t.topic.empty()) continue;
    if (o.topic_prefix.empty())
      bad("--topic-prefix is required for --table " + t.qualified() +
          " (tombsync's kafka.topic_prefix), or give its topic as --table " + t.qualified() + "=TOPIC");
    t.topic = o.topic_prefix + "." + t.qualified();
  }
  for (size_t a = 0; a < o.tables.size(); ++a)
    for (size_t b = a + 1; b < o.tables.size(); ++b)
      if (o.tables[a].name == o.tables[b].name)
        bad("--table " + o.tables[a].qualified() + " and " + o.tables[b].qualified() +
            " would share the warehouse table " + o.warehouse_schema + "." + o.tables[a].name +
            "; run a second loader with another --warehouse-schema for one of them");
  return o;
}

}  // namespace tombsync::loader
