#include "examples/audit-log/options.h"

namespace tombsync::audit {

using loader::bad_flag;

loader::ConsumerConfig consumer_config(const Options& o) {
  return {.brokers = o.brokers, .group = o.group, .client_id = "tombsync-audit-log", .tables = o.tables,
          .order_settle = o.order_settle, .target = "the audit database", .session_timeout = o.session_timeout};
}

const char* usage() {
  return R"(usage: tombsync-audit-log --brokers HOST:PORT --target-dsn DSN --topic-prefix PREFIX
                          --table SCHEMA.TABLE[=TOPIC] [...] [options]

Writes every delete of tombsync's table topics (format: json) into a Postgres table audit_log:
hard deletes, soft deletes, TRUNCATE-expanded deletes and inferred deletes, each exactly once.
The topics need the agent's deletes: both or flag (deletes: tombstone sends no delete events).

  --brokers LIST              Kafka bootstrap servers
  --target-dsn DSN            the Postgres that holds audit_log (alias: --audit-dsn)
  --schema NAME               schema of audit_log and its offsets table (default public; created if missing)
  --topic-prefix PREFIX       tombsync's kafka.topic_prefix: table s.t is read from PREFIX.s.t
  --table S.T[=TOPIC]         a table to audit (repeat, or comma-separate); =TOPIC overrides its topic
  --group ID                  Kafka consumer group; offsets live in the audit database under it
                              (default tombsync-audit-log)
  --purge-after DUR           delete audit rows recorded longer ago than DUR (365d, 12h, 90m, 45s)
  --purge-interval DUR        how often that purge runs (default 1h; it also runs at start)
  --batch-records N           records per audit transaction at most (default 5000)
  --batch-wait-ms N           how long a batch may wait for more records (default 200)
  --order-settle-ms N         how long a record waits for partitions at their end to show
                              anything produced before it (default 500)
  --session-timeout-ms N      how long the group waits for a consumer that stopped (crashed)
                              before its partitions move to another or to its restart
                              (default 10000; the broker allows 6000 and up by default)
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
      if (i + 1 >= argc) bad_flag(flag + " needs a value (see --help)");
      return argv[++i];
    };
    if (flag == "--help" || flag == "-h") o.help = true;
    else if (flag == "--brokers") o.brokers = next();
    else if (flag == "--target-dsn" || flag == "--audit-dsn") o.target_dsn = next();
    else if (flag == "--schema") o.schema = next();
    else if (flag == "--topic-prefix") o.topic_prefix = next();
    else if (flag == "--group") o.group = next();
    else if (flag == "--log-level") o.log_level = next();
    else if (flag == "--table") loader::parse_table_list(next(), o.tables);
    else if (flag == "--purge-after") o.purge_after = loader::parse_duration_flag(flag, next(), false);
    else if (flag == "--purge-interval") o.purge_interval = loader::parse_duration_flag(flag, next(), false);
    else if (flag == "--batch-records") o.batch_records = loader::parse_positive(flag, next());
    else if (flag == "--batch-wait-ms") o.batch_wait = std::chrono::milliseconds(loader::parse_positive(flag, next()));
    else if (flag == "--order-settle-ms")
      o.order_settle = std::chrono::milliseconds(loader::parse_positive(flag, next()));
    else if (flag == "--session-timeout-ms")
      o.session_timeout = std::chrono::milliseconds(loader::parse_positive(flag, next()));
    else bad_flag("unknown argument '" + std::string(argv[i]) + "' (see --help)");
  }
  if (o.help) return o;
  if (o.brokers.empty()) bad_flag("--brokers is required: the Kafka bootstrap servers, e.g. 127.0.0.1:9092");
  if (o.target_dsn.empty()) bad_flag("--target-dsn is required: the Postgres database that holds audit_log");
  if (o.tables.empty()) bad_flag("--table is required: at least one schema.table whose deletes to record");
  loader::resolve_topics(o.tables, o.topic_prefix);
  return o;
}

}  // namespace tombsync::audit
