#include "agent/stream/pipeline.h"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <string>

#include "agent/ops/heartbeat.h"
#include "agent/ops/kafka_prober.h"
#include "agent/source/source_setup.h"
#include "agent/stream/ack_tracker.h"
#include "agent/stream/checkpointer.h"
#include "agent/stream/kafka_record_sink.h"
#include "agent/stream/ledger_recorder.h"
#include "agent/stream/ledger_row_fill.h"
#include "agent/stream/reconciler.h"
#include "agent/stream/topic_cleanup.h"
#include "agent/stream/truncate_expander.h"
#include "agent/stream/pg_change_source.h"
#include "agent/stream/record_builder.h"
#include "agent/stream/session_start.h"
#include "agent/stream/snapshot_window.h"
#include "agent/stream/stream_gauges.h"
#include "agent/stream/pg_row_lookup.h"
#include "agent/stream/row_filler.h"
#include "agent/stream/stream_loop.h"
#include "base/error.h"
#include "base/log.h"
#include "connectors/kafka/kafka_sink.h"
#include "connectors/postgres/replication_stream.h"
#include "schemas/encoder.h"
#include "state/cursor_store.h"

namespace tombsync {
namespace {

std::unique_ptr<CursorStore> open_store(const Config& config) {
  std::error_code ec;
  std::filesystem::create_directories(config.state_dir, ec);
  if (ec) throw Error(ErrorKind::kState, "cannot create state_dir " + config.state_dir + ": " + ec.message());
  return open_rocksdb_cursor_store(config.state_dir);
}

std::unique_ptr<Encoder> session_encoder(const Config& config, const PreparedSource& source) {
  EncoderContext context;
  context.server_name = config.kafka.topic_prefix;  // Debezium's topic.prefix
  context.database = source.database;               // source.db
  context.version = std::string("tombsync-") + TOMBSYNC_VERSION;
  return make_encoder(config.format, context);
}

// Clears the stop signal's interrupter before the sink it points at goes.
struct InterrupterScope {
  StopSignal& stop;
  explicit InterrupterScope(StopSignal& s, KafkaSink& sink) : stop(s) {
    stop.set_interrupter([&sink] { sink.interrupt(); });
  }
  ~InterrupterScope() { stop.clear_interrupter(); }
};

struct StreamingFlag {
  Metrics& metrics;
  ~StreamingFlag() { metrics.streaming = false; }
};

}  // namespace

void run_pipeline(const Config& config, StopSignal& stop, Session& session) {
  Metrics& metrics = session.metrics;
  auto store = open_store(config);
  PreparedSource source = prepare_source(config);

  KafkaSink kafka(kafka_sink_options(config));
  InterrupterScope interrupter(stop, kafka);  // declared after the sink: cleared before it goes
  kafka.check_reachable();
  log::info("kafka reachable at {}", config.kafka.brokers);
  metrics.kafka_reachable = true;
  KafkaProber prober(kafka, metrics, config.kafka.brokers);

  pg::ReplicationStream stream(config.source.dsn);
  SessionStart start = start_session(config, source, *store, stream);
  const Lsn from = start.claim.start;
  stream.start(config.source.slot, config.source.publication, from);
  StreamingFlag streaming_flag{metrics};
  metrics.streaming = true;
  metrics.confirmed_lsn = static_cast<int64_t>(from.value());
  session.streamed = true;
  session.streaming_since = std::chrono::steady_clock::now();
  log::info("streaming slot {} publication {} from {} ({} tables, format {}, deletes {})", config.source.slot,
            config.source.publication, from.str(), config.source.tables.size(), to_string(config.format),
            to_string(config.deletes));

  auto encoder = session_encoder(config, source);
  RecordBuilder records(config, *encoder, start.record_source, &metrics);
  StreamGauges gauges(metrics, config.source.slot, config.health.max_lag_bytes);
  std::optional<LedgerRecorder> ledger;
  if (std::any_of(config.source.tables.begin(), config.source.tables.end(),
                  [&](const TableConfig& t) { return config.ledger_for(t) != LedgerMode::kNone; }))
    ledger.emplace(config, *store, config.source.slot);
  std::optional<LedgerRowFill> ledger_rows;
  const bool keeps_rows = std::any_of(config.source.tables.begin(), config.source.tables.end(),
                                      [&](const TableConfig& t) { return config.ledger_for(t) == LedgerMode::kRows; });
  if (ledger && keeps_rows) ledger_rows.emplace(*ledger, *encoder, &metrics);
  SnapshotWindow snapshot(config, *store, source.tables, source.type_names, gauges, ledger ? &*ledger : nullptr);
  if (snapshot.complete()) {  // initial_only, and every snapshot was done before
    stream.finish();
    return;
  }
  PgChangeSource changes(stream, source.tables, source.type_names);
  KafkaRecordSink sink(kafka);
  kafka.on_warning = [](const std::string& w) { log::warn("kafka: {}", w); };
  AckTracker tracker(from);
  Checkpointer checkpointer(*store, config.source.slot, changes, tracker, from,
                            std::chrono::milliseconds(config.source.status_interval_ms));
  Heartbeat heartbeat(config, metrics);  // its own thread and connection; off when interval is 0
  std::optional<Reconciler> reconciler;
  if (ledger) reconciler.emplace(config, *store, config.source.slot, *ledger, *encoder, metrics);
  std::unique_ptr<TopicCleanup> cleanup;
  std::optional<TruncateExpander> truncates;
  if (ledger && std::any_of(config.source.tables.begin(), config.source.tables.end(), [&](const TableConfig& t) {
        return config.truncate_for(t) == TruncateMode::kExpand;
      })) {
    cleanup = kafka_topic_cleanup(kafka_sink_options(config));
    truncates.emplace(config, *store, config.source.slot, *ledger, *encoder, *cleanup, metrics);
  }
  // Its connection opens at the first incomplete record (a key change's new row, or any update
  // of a complete_rows table, with unchanged TOAST values), so most sessions never open it.
  PgRowLookup lookup(config.source.dsn);
  std::function<bool(const TableSchema&)> complete_rows;  // null: no table asks (no per-update lookup)
  // `ledger: rows` completes every record too: from the ledger first, else from the source.
  if (keeps_rows || std::any_of(config.source.tables.begin(), config.source.tables.end(),
                                [](const TableConfig& t) { return t.complete_rows; }))
    complete_rows = [&config](const TableSchema& t) {
      const TableConfig* tc = config.find_table(t.schema, t.table);  // by schema and name, not a joined string
      return tc != nullptr && (tc->complete_rows || config.ledger_for(*tc) == LedgerMode::kRows);
    };
  RowFiller filler(lookup, &metrics, std::move(complete_rows));
  StreamLoop loop({changes, sink, records, tracker, checkpointer, start.redelivered, snapshot, gauges, metrics,
                   ledger ? &*ledger : nullptr, truncates ? &*truncates : nullptr, reconciler ? &*reconciler : nullptr,
                   &filler, ledger_rows ? &*ledger_rows : nullptr},
                  from, stop.flag());
  loop.run();
}

}  // namespace tombsync
