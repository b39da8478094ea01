// tombsync-warehouse-loader: consumes tombsync's table topics (format: json) and
// keeps a Postgres warehouse copy of each table with deleted rows flagged.
// Exit status: 0 after SIGTERM/SIGINT, 1 on a runtime failure, 2 on bad arguments.
#include <algorithm>
#include <cstdio>
#include <memory>

#include "examples/warehouse-loader/catalog.h"
#include "examples/warehouse-loader/consumer.h"
#include "base/error.h"
#include "examples/warehouse-loader/log.h"
#include "examples/warehouse-loader/merge.h"
#include "examples/warehouse-loader/options.h"
#include "examples/warehouse-loader/process.h"
#include "examples/warehouse-loader/purge.h"
#include "examples/warehouse-loader/warehouse_ddl.h"

namespace tombsync::loader {
namespace {

void log_batch(const std::vector<TableShape>& shapes, const MergeOutcome& out, long ms) {
  for (const auto& [table, c] : out.counts)
    log::info("batch applied: {} {} records ({} upserts, {} deletes, {} tombstones, {} rows truncated, {} stale, "
              "{} redelivered) up to position {} in {} ms",
              shapes[table].spec.qualified(), c.records, c.upserts, c.deletes, c.tombstones, c.truncated, c.stale,
              c.redelivered, c.last.str(), ms);
}

int run(const Options& o) {
  using Clock = std::chrono::steady_clock;
  auto source = connect_flag(o.source_dsn, "--source-dsn");
  std::vector<TableShape> shapes;
  for (const auto& t : o.tables) shapes.push_back(read_table_shape(*source, t));
  auto wh = connect_flag(o.warehouse_dsn, "--warehouse-dsn");
  WarehouseMerge merge(*wh, o, shapes);
  merge.offsets().ensure_table(o.warehouse_schema);
  for (const auto& s : shapes) ensure_warehouse_table(*wh, o.warehouse_schema, s);

  Consumer consumer(consumer_config(o), [&](const std::vector<PartitionId>& ids) { return merge.load_offsets(ids); });
  log::info("loading {} tables from Kafka {} into schema {} ({}), consumer group {}{}", shapes.size(), o.brokers,
            o.warehouse_schema, wh->describe(), o.group, o.purge_tombstones ? ", tombstones hard-delete" : "");

  auto next_purge = Clock::now();
  // Zero means "not waiting" (std::optional<time_point> trips GCC 12's maybe-uninitialized).
  Clock::time_point batch_since{}, conflict_since{};
  size_t batch_cap = o.batch_records;  // grows while a unique conflict waits for the records that resolve it
  while (!stop_requested()) {
    if (o.purge_deleted_after && Clock::now() >= next_purge) {
      purge_deleted(*wh, o.warehouse_schema, shapes, *o.purge_deleted_after);
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
    Batch batch = consumer.next_batch(batch_cap);
    if (batch.empty()) continue;

    auto outcome = merge.apply(batch);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - now).count();
    switch (outcome.status) {
      case MergeOutcome::Status::kApplied:
        consumer.committed(batch);
        log_batch(shapes, outcome, ms);
        conflict_since = {};
        batch_since = {};
        batch_cap = o.batch_records;
        break;
      case MergeOutcome::Status::kUniqueConflict:
        // Another partition has not delivered the change that frees the value yet; it will.
        if (conflict_since == Clock::time_point{}) {
          conflict_since = now;
          log::info("batch of {} records waits for more records: {}", batch.records.size(), outcome.detail);
        } else if (now - conflict_since > o.unique_wait) {
          throw Error(ErrorKind::kSource,
                      "a unique index in the warehouse keeps refusing a batch (" + outcome.detail + ") after " +
                          std::to_string(o.unique_wait.count()) +
                          " s of waiting for the record that frees the value; the warehouse holds a row the "
                          "source no longer has: check the index against the source's");
        }
        // The row that gives the value up is later on its own partition: take more of the stream.
        batch_cap = std::min(batch_cap * 2, std::max<size_t>(o.batch_records, 1'000'000));
        consumer.poll(std::chrono::milliseconds(200));
        break;
      case MergeOutcome::Status::kSchemaChanged: {
        TableShape& shape = shapes[outcome.table];
        log::info("{} has a new column {}: reading the source catalog again", shape.spec.qualified(), outcome.detail);
        shape = read_table_shape(*source, shape.spec);
        if (!shape.column(outcome.detail))
          throw Error(ErrorKind::kSource, shape.spec.topic + " carries column " + outcome.detail + " that " +
                                              shape.spec.qualified() + " in the source (" + source->describe() +
                                              ") does not have: check --table and --source-dsn");
        ensure_warehouse_table(*wh, o.warehouse_schema, shape);
        merge.forget_statements();
        break;
      }
    }
  }
  log::info("stopping: signal received, the last batch is committed");
  return 0;
}

}  // namespace
}  // namespace tombsync::loader

int main(int argc, char** argv) {
  using namespace tombsync;
  loader::Options options;
  try {
    options = loader::parse_options(argc, argv);
    tombsync::log::configure(options.log_level, "text");
  } catch (const Error& e) {
    std::fprintf(stderr, "tombsync-warehouse-loader: %s\n", e.what());
    return 2;
  }
  if (options.help) {
    std::fputs(loader::usage(), stdout);
    return 0;
  }
  loader::install_stop_signals();
  try {
    return loader::run(options);
  } catch (const Error& e) {
    tombsync::log::error("{}", e.what());
    return 1;
  } catch (const std::exception& e) {
    tombsync::log::error("unexpected failure: {}", e.what());
    return 1;
  }
}
