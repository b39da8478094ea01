// tombsync-audit-log: consumes tombsync's table topics (format: json) and writes
// every delete (hard, soft, TRUNCATE-expanded, inferred) into a Postgres table
// audit_log, exactly once (offsets kept with the rows, README.md).
// Exit status: 0 after SIGTERM/SIGINT, 1 on a runtime failure, 2 on bad arguments.
#include <cstdio>

#include "base/error.h"
#include "examples/audit-log/audit_writer.h"
#include "examples/audit-log/options.h"
#include "examples/warehouse-loader/consumer.h"
#include "examples/warehouse-loader/log.h"
#include "examples/warehouse-loader/process.h"

namespace tombsync::audit {
namespace {

namespace log = tombsync::log;

void log_batch(const BatchCounts& c, long ms) {
  log::info("batch applied: {} records ({} delete, {} soft_delete, {} truncate, {} inferred, {} skipped, "
            "{} redelivered) up to position {} in {} ms",
            c.records, c.actions[static_cast<size_t>(Action::kDelete)],
            c.actions[static_cast<size_t>(Action::kSoftDelete)], c.actions[static_cast<size_t>(Action::kTruncate)],
            c.actions[static_cast<size_t>(Action::kInferred)], c.skipped, c.redelivered, c.last.str(), ms);
}

void purge(AuditWriter& writer, std::chrono::seconds older_than) {
  size_t n = writer.purge(older_than);
  log::info("purged {} rows of {} recorded more than {} s ago", n, writer.table(), older_than.count());
}

int run(const Options& o) {
  using Clock = std::chrono::steady_clock;
  auto db = loader::connect_flag(o.target_dsn, "--target-dsn");
  AuditWriter writer(*db, o);
  writer.ensure_tables();
  loader::Consumer consumer(consumer_config(o), [&](const std::vector<loader::PartitionId>& ids) {
    return writer.offsets().load(ids);
  });
  log::info("recording the deletes of {} tables from Kafka {} into {} ({}), consumer group {}", o.tables.size(),
            o.brokers, writer.table(), db->describe(), o.group);

  auto next_purge = Clock::now();
  Clock::time_point batch_since{};  // zero: no batch waiting
  while (!loader::stop_requested()) {
    if (o.purge_after && Clock::now() >= next_purge) {
      purge(writer, *o.purge_after);
      next_purge = Clock::now() + o.purge_interval;
    }
    consumer.poll(std::chrono::milliseconds(50));
    if (consumer.buffered() == 0) {
      batch_since = {};
      continue;
    }
    auto now = Clock::now();
    if (batch_since == Clock::time_point{}) batch_since = now;
    bool waited = now - batch_since >= o.batch_wait;
    if (consumer.buffered() < o.batch_records && !consumer.all_partitions_ready() && !waited) continue;
    loader::Batch batch = consumer.next_batch(o.batch_records);
    if (batch.empty()) continue;
    BatchCounts counts = writer.apply(batch);
    consumer.committed(batch);
    log_batch(counts, std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - now).count());
    batch_since = {};
  }
  log::info("stopping: signal received, the last batch is committed");
  return 0;
}

}  // namespace
}  // namespace tombsync::audit

int main(int argc, char** argv) {
  using namespace tombsync;
  audit::Options options;
  try {
    options = audit::parse_options(argc, argv);
    tombsync::log::configure(options.log_level, "text");
  } catch (const Error& e) {
    std::fprintf(stderr, "tombsync-audit-log: %s\n", e.what());
    return 2;
  }
  if (options.help) {
    std::fputs(audit::usage(), stdout);
    return 0;
  }
  loader::install_stop_signals();
  try {
    return audit::run(options);
  } catch (const Error& e) {
    tombsync::log::error("{}", e.what());
    return 1;
  } catch (const std::exception& e) {
    tombsync::log::error("unexpected failure: {}", e.what());
    return 1;
  }
}
