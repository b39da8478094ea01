#include "agent/stream/pipeline.h"

#include <chrono>
#include <exception>
#include <functional>
#include <filesystem>
#include <optional>
#include <vector>

#include "agent/stream/ack_tracker.h"
#include "connectors/postgres/change_builder.h"
#include "state/cursor_store.h"
#include "schemas/encoder.h"
#include "base/error.h"
#include "agent/ops/heartbeat.h"
#include "agent/ops/kafka_prober.h"
#include "connectors/kafka/kafka_sink.h"
#include "base/log.h"
#include "connectors/postgres/pg_connection.h"
#include "connectors/kafka/murmur2.h"
#include "connectors/kafka/partition_tail.h"
#include "connectors/postgres/pgoutput_decoder.h"
#include "agent/stream/record_builder.h"
#include "agent/stream/redelivery_filter.h"
#include "connectors/postgres/replication_stream.h"
#include "agent/snapshot/snapshot_request.h"
#include "agent/snapshot/snapshotter.h"
#include "agent/source/source_setup.h"
#include "connectors/postgres/source_catalog.h"
#include "agent/stream/stream_stats.h"

namespace tombsync {
namespace {

using Clock = std::chrono::steady_clock;
// Messages in flight above which no new snapshot chunk starts (the stream goes first).
constexpr size_t kSnapshotMaxInFlight = 50000;

KafkaSinkOptions sink_options(const Config& config) {
  KafkaSinkOptions o;
  o.brokers = config.kafka.brokers;
  o.properties = config.kafka.properties;
  o.connect_timeout_ms = config.kafka.connect_timeout_ms;
  // librdkafka's errors reach the agent through the sink's error path; its own lines are detail.
  o.log = [](int level, const std::string& facility, const std::string& message) {
    if (level <= 4) log::warn("librdkafka {}: {}", facility, message);
    else log::debug("librdkafka {}: {}", facility, message);
  };
  return o;
}

int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// After an unclean stop, reads the last record of every partition of every
// table topic, so records Kafka already holds are not written again.
RedeliveryFilter load_redelivery_filter(const Config& config, Lsn start, const std::string& source) {
  RedeliveryFilter filter;
  for (const auto& table : config.source.tables) {
    auto topic = config.topic_for(table);
    for (const auto& tail : read_partition_tails(sink_options(config), topic)) {
      auto pos = position_from_headers(tail.headers, source);
      // Tails from before the cursor belong to transactions that are skipped anyway.
      if (pos && pos->commit_lsn >= start) filter.add_tail(topic, tail.partition, *pos);
    }
  }
  return filter;
}

// Whether every partition the record goes to already holds it.
bool already_in_kafka(const RedeliveryFilter& filter, KafkaSink& sink, const Record& r) {
  StreamPosition pos{r.commit_lsn, r.seq};
  int partitions = sink.partitions(r.topic);
  if (r.all_partitions) {
    for (int p = 0; p < partitions; ++p)
      if (!filter.already_written(r.topic, p, pos)) return false;
    return true;
  }
  if (r.partition) return filter.already_written(r.topic, *r.partition, pos);
  if (!r.key) return false;
  return filter.already_written(r.topic, murmur2_partition(*r.key, partitions), pos);
}

}  // namespace

void run_pipeline(const Config& config, StopSignal& stop, Session& session) {
  Metrics& metrics = session.metrics;
  const auto& slot = config.source.slot;
  std::error_code ec;
  std::filesystem::create_directories(config.state_dir, ec);
  if (ec) throw Error(ErrorKind::kState, "cannot create state_dir " + config.state_dir + ": " + ec.message());
  auto store = open_rocksdb_cursor_store(config.state_dir);

  PreparedSource source = prepare_source(config);

  KafkaSink sink(sink_options(config));
  stop.set_interrupter([&sink] { sink.interrupt(); });
  // Runs before the sink is destroyed (declared after it), so the signal thread never sees a dead sink.
  struct ClearInterrupter {
    StopSignal& s;
    ~ClearInterrupter() { s.clear_interrupter(); }
  } clear_interrupter{stop};
  sink.check_reachable();
  log::info("kafka reachable at {}", config.kafka.brokers);
  metrics.kafka_reachable = true;
  KafkaProber prober(sink, metrics, config.kafka.brokers);

  pg::ReplicationStream stream(config.source.dsn);
  const SlotClaim claim = claim_slot(config, source, *store, stream);
  const std::optional<Lsn>& cursor = claim.cursor;
  const Lsn start = claim.start;
  const std::string& source_identity = claim.identity;

  const std::string record_source = source_identity + "/" + slot;
  RedeliveryFilter redelivered;
  // Also without a cursor when the slot existed: a first session that died before anything was
  // acknowledged may have written part of a transaction.
  if (cursor || claim.slot_existed) {
    redelivered = load_redelivery_filter(config, start, record_source);
    if (redelivered.active())
      log::info("restart after {}: {} partitions hold records past the cursor; those records will not be "
                "written again", start.str(), redelivered.tails());
  }
  uint64_t redelivered_skipped = 0;

  stream.start(slot, config.source.publication, start);
  struct StreamingFlag {
    Metrics& m;
    ~StreamingFlag() { m.streaming = false; }
  } streaming_flag{metrics};
  metrics.streaming = true;
  metrics.confirmed_lsn = static_cast<int64_t>(start.value());
  session.streamed = true;
  session.streaming_since = Clock::now();
  log::info("streaming slot {} publication {} from {} ({} tables, format {}, deletes {})", slot,
            config.source.publication, start.str(), config.source.tables.size(),
            to_string(config.format), to_string(config.deletes));

  EncoderContext encoder_context;
  encoder_context.server_name = config.kafka.topic_prefix;  // Debezium's topic.prefix
  encoder_context.database = source.database;               // source.db
  encoder_context.version = std::string("tombsync-") + TOMBSYNC_VERSION;
  auto encoder = make_encoder(config.format, encoder_context);
  RecordBuilder records(config, *encoder, record_source);
  auto find_resolved = [&](const std::string& name) -> const pg::ResolvedTable* {
    for (const auto& t : source.tables)
      if (t.qualified() == name) return &t;
    return nullptr;
  };
  // Whether `name` may be snapshotted on request; logs why not.
  auto snapshot_allowed = [&](const std::string& name) {
    const pg::ResolvedTable* t = find_resolved(name);
    const TableConfig* tc = t ? config.find_table(t->schema, t->table) : nullptr;
    if (tc == nullptr) {
      log::warn("snapshot of {} requested, but it is not in source.tables; ignored", name);
      return false;
    }
    if (config.snapshot_for(*tc) == SnapshotMode::kNever) {
      log::warn("snapshot of {} requested, but its snapshot mode is never; ignored", name);
      return false;
    }
    return true;
  };
  for (const auto& name : take_snapshot_requests(config.state_dir))
    if (snapshot_allowed(name)) {
      store->clear_snapshot(slot, name);
      log::info("snapshot of {} requested: it is read again from its first row", name);
    }
  const auto type_names = source.type_names;  // kept for snapshots requested later
  std::unique_ptr<Snapshotter> snapshot;
  if (config.snapshot != SnapshotMode::kNever) {
    snapshot = std::make_unique<Snapshotter>(config, slot, *store, source.tables, source.type_names);
    if (snapshot->finished()) {
      snapshot.reset();
      log::info("snapshot: every table's snapshot was done before; streaming only");
    }
  } else {
    log::info("snapshot: never; streaming only");
  }
  if (config.snapshot == SnapshotMode::kInitialOnly && !snapshot) {
    log::info("snapshot: initial_only and every table's snapshot is done; nothing to do");
    stream.finish();
    return;
  }
  pg::ChangeBuilder builder(source.tables, std::move(source.type_names));
  AckTracker tracker(start);
  StreamStats stats;
  std::optional<std::string> delivery_bug;
  bool delivered = false;  // a delivery report arrived since the gauges were last published
  sink.on_delivered = [&](const Delivery& d) {
    delivered = true;
    if (!tracker.on_delivered(d.commit_lsn) && !delivery_bug)
      delivery_bug = "delivery report for transaction " + d.commit_lsn.str() + ", which is not pending";
  };
  sink.on_warning = [](const std::string& w) { log::warn("kafka: {}", w); };

  Lsn stored = start;
  Lsn server_end = start;
  bool skipping = false;   // a transaction the stored cursor says is already delivered
  bool abandoned = false;  // the stop was interrupted mid-transaction: send nothing more of it
  int frames_since_poll = 0;
  auto next_request_check = Clock::now() + std::chrono::seconds(1);
  auto status_every = std::chrono::milliseconds(config.source.status_interval_ms);
  auto next_status = Clock::now() + status_every;
  auto next_report = Clock::now() + std::chrono::seconds(10);
  std::vector<ChangeEvent> events;
  std::vector<Record> out;
  std::unordered_map<uint32_t, Metrics::Table*> metric_tables;  // by relation OID
  auto metrics_table = [&](const TableSchema& t) {
    auto it = metric_tables.find(t.relid);
    if (it == metric_tables.end()) it = metric_tables.emplace(t.relid, metrics.table(t.qualified())).first;
    return it->second;
  };
  Heartbeat heartbeat(config, metrics);  // its own thread and connection; off when interval is 0

  // Gauges for /metrics and /readyz, and the lag alarm (logged once per crossing).
  auto kafka_progress = Clock::now();
  bool lag_alarm = false;
  auto publish_snapshot = [&] {
    if (!snapshot) return;
    for (const auto& st : snapshot->status()) {
      Metrics::Table* t = metrics.table(st.table);
      if (t == nullptr) continue;
      t->snapshot_rows_estimated.store(static_cast<int64_t>(st.rows_estimated_total), std::memory_order_relaxed);
      t->snapshot_state.store(st.done ? 2 : 1, std::memory_order_relaxed);
    }
  };
  auto publish_gauges = [&] {
    const auto now = Clock::now();
    publish_snapshot();
    const size_t in_flight = sink.in_flight();
    if (delivered || in_flight == 0) kafka_progress = now;
    delivered = false;
    metrics.queue_depth.store(static_cast<int64_t>(in_flight), std::memory_order_relaxed);
    metrics.oldest_unacked_ms.store(
        std::chrono::duration_cast<std::chrono::milliseconds>(now - kafka_progress).count(), std::memory_order_relaxed);
    metrics.server_lsn.store(static_cast<int64_t>(server_end.value()), std::memory_order_relaxed);
    metrics.confirmed_lsn.store(static_cast<int64_t>(stored.value()), std::memory_order_relaxed);
    metrics.alive_unix_ms.store(now_unix_ms(), std::memory_order_relaxed);
    const int64_t lag = metrics.lag_bytes();
    if (!lag_alarm && lag > config.health.max_lag_bytes) {
      lag_alarm = true;
      log::warn("slot {} lag {} bytes is above health.max_lag_bytes {} (confirmed {}, server at {}, {} messages "
                "waiting for Kafka); Postgres keeps that WAL until tombsync catches up",
                slot, lag, config.health.max_lag_bytes, stored.str(), server_end.str(), in_flight);
    } else if (lag_alarm && lag <= config.health.max_lag_bytes / 2) {
      lag_alarm = false;  // hysteresis: no flapping around the threshold
      log::info("slot {} lag back to {} bytes (confirmed {})", slot, lag, stored.str());
    }
  };

  auto confirm = [&](bool reply_requested) {
    Lsn acked = tracker.acked();
    if (snapshot) snapshot->on_acknowledged(acked);  // chunk progress before the cursor passes it
    if (acked > stored) {
      store->save_confirmed(slot, acked);  // durable before Postgres may discard the WAL
      stored = acked;
    }
    stream.send_status(stored, reply_requested);
    next_status = Clock::now() + status_every;
    publish_gauges();
  };

  // While a full producer queue blocks send(), keep answering the walsender,
  // or it ends the connection after wal_sender_timeout.
  sink.while_blocked = [&] {
    if (Clock::now() >= next_status) confirm(false);
  };

  // On stop, finish the transaction being read: a half-sent transaction would
  // be sent again whole after the restart, duplicating its first records.
  // Sends the records of `batch` (stream changes, or a snapshot chunk's rows).
  auto produce = [&](const std::vector<ChangeEvent>& batch) {
    for (const auto& e : batch) {
      if (skipping || abandoned) return;
      out.clear();
      records.build(e, out);
      size_t skipped = 0;
      for (const auto& r : out) {
        if (redelivered.active() && already_in_kafka(redelivered, sink, r)) {
          ++redelivered_skipped;
          ++skipped;
          continue;
        }
        size_t needed = r.all_partitions ? static_cast<size_t>(sink.partitions(r.topic)) : 1;
        size_t sent = sink.send(r);
        tracker.on_sent(sent);
        // Only an interrupted stop hands over less. Nothing after a missing record may be
        // written: the restart's RedeliveryFilter would take it as proof the gap was written.
        if (sent < needed) {
          abandoned = true;
          return;
        }
      }
      stats.count(e, out);
      if (Metrics::Table* t = metrics_table(*e.table)) Metrics::count(*t, e, out, skipped);
    }
    if (!batch.empty()) metrics.last_event_unix_ms.store(now_unix_ms(), std::memory_order_relaxed);
  };
  std::optional<pg::TxnBegin> txn;
  std::vector<ChangeEvent> snapshot_rows;
  bool snapshot_complete = false;  // initial_only: every table read and acknowledged

  // When an error leaves the loop (a lost connection, above all), what Kafka already has in
  // hand is given a few seconds to be acknowledged and the acknowledged position is saved, so
  // the next session (after a reconnect, or a restart) resends as little as possible.
  struct SaveOnError {
    std::function<void()> save;
    int uncaught = std::uncaught_exceptions();
    ~SaveOnError() {
      if (std::uncaught_exceptions() > uncaught) try {
          save();
        } catch (...) {  // the error in flight is the one to report
        }
    }
  } save_on_error{[&] {
    if (delivery_bug) return;  // the tracker's own bookkeeping failed: trust nothing it says
    sink.flush(10000);
    if (snapshot) snapshot->on_acknowledged(tracker.acked());  // chunk progress before the cursor passes it
    if (Lsn acked = tracker.acked(); acked > stored) {
      store->save_confirmed(slot, acked);
      log::info("saved the cursor of slot {} at {}: Kafka acknowledged everything before it", slot, acked.str());
    }
  }};
  const auto& stopping = stop.flag();
  while ((!stopping.load(std::memory_order_relaxed) && !snapshot_complete) ||
         (builder.in_transaction() && !sink.interrupted() && !abandoned)) {
    // A running snapshot waits on Kafka's acknowledgements between chunks, not on the stream.
    auto frame = stream.read(std::chrono::milliseconds(snapshot ? 1 : 50));
    if (frame) {
      if (auto* x = std::get_if<pg::XLogData>(&*frame)) {
        server_end = std::max(server_end, x->wal_end);
        auto step = builder.apply(pg::decode_pgoutput(x->payload, x->wal_start), x->wal_start, events);
        if (step.begin) {
          txn = step.begin;
          skipping = step.begin->commit_lsn < start;
          abandoned = false;
          if (!skipping) {
            tracker.on_begin(step.begin->commit_lsn);
            records.begin_transaction();
          }
        }
        if (snapshot)
          for (const auto& e : events) snapshot->on_change(e);
        produce(events);
        events.clear();
        if (step.message && snapshot && txn && !skipping) {
          snapshot->on_message(*step.message, *txn, x->wal_start, snapshot_rows);
          produce(snapshot_rows);
          snapshot_rows.clear();
        }
        if (step.commit) {
          if (skipping) ++stats.skipped_transactions;
          else if (!abandoned) {
            if (snapshot) snapshot->on_commit(step.commit->commit_lsn, step.commit->end_lsn);
            tracker.on_commit(step.commit->commit_lsn, step.commit->end_lsn);
          }
          if (redelivered.active()) {
            redelivered.observe_commit(step.commit->commit_lsn);
            if (!redelivered.active())
              log::info("caught up with Kafka after the restart: {} records were already there and not "
                        "written again", redelivered_skipped);
          }
          skipping = false;
        }
        if (step.notice) log::warn("{}", *step.notice);
      } else if (auto* k = std::get_if<pg::PrimaryKeepalive>(&*frame)) {
        server_end = std::max(server_end, k->wal_end);
        if (!builder.in_transaction()) tracker.on_keepalive(k->wal_end);
        if (k->reply_requested) confirm(false);
      }
    }
    // Delivery reports are served in batches: a poll per frame costs more in locking than it
    // gains in promptness (a full queue is served inside send() anyway).
    if (!frame || ++frames_since_poll >= 64) {
      sink.poll(0);
      frames_since_poll = 0;
    }
    if (delivery_bug) throw Error(ErrorKind::kInternal, *delivery_bug);
    auto now = Clock::now();
    // A snapshot chunk's progress is saved as soon as Kafka has it, so the next chunk can start.
    if (now >= next_status || (snapshot && snapshot->confirmable(tracker.acked()))) confirm(false);
    if (now >= next_report) {
      log::info("{}", stats.report(tracker.acked(), server_end, sink.in_flight()));
      next_report = now + std::chrono::seconds(10);
    }
    if (now >= next_request_check) {
      next_request_check = now + std::chrono::seconds(1);
      for (const auto& name : take_snapshot_requests(config.state_dir)) {
        if (!snapshot_allowed(name)) continue;
        const pg::ResolvedTable* t = find_resolved(name);
        if (snapshot && snapshot->is_reading(t->oid)) {
          log::info("snapshot of {} requested while it is being read; the running snapshot continues", name);
        } else {
          store->clear_snapshot(slot, name);
          if (snapshot) snapshot->add_table(*t);
          else snapshot = std::make_unique<Snapshotter>(config, slot, *store, source.tables, type_names);
          log::info("snapshot of {} requested: reading it again while the stream goes on", name);
        }
      }
    }
    if (snapshot) {
      // A chunk starts between transactions, and only while the producer keeps up: the
      // chunk's rows wait in memory until its high watermark comes back through the stream.
      if (!stopping.load() && !builder.in_transaction() && snapshot->wants_chunk() &&
          sink.in_flight() < kSnapshotMaxInFlight)
        snapshot->start_chunk();
      for (const auto& line : snapshot->progress_lines()) log::info("{}", line);
      if (snapshot->finished()) {
        publish_snapshot();  // the final state, before the snapshotter goes
        log::info("snapshot: every table's snapshot is done and acknowledged");
        if (config.snapshot == SnapshotMode::kInitialOnly) {
          log::info("snapshot: initial_only, so stopping");
          snapshot_complete = true;
        } else {
          snapshot.reset();
        }
      }
    }
  }

  if (sink.interrupted())
    log::warn("stop interrupted: Kafka did not take the records in hand within the grace period; what it "
              "did not acknowledge is not confirmed and will be streamed again after the restart");
  log::info("stopping: stopped reading; waiting for Kafka to acknowledge {} in-flight messages", sink.in_flight());
  if (!sink.flush(sink.interrupted() ? 1000 : 10000))
    log::warn("Kafka did not acknowledge {} messages within 10 s; they are not confirmed and will be sent "
              "again on restart", sink.in_flight());
  confirm(false);
  stream.finish();
  log::info("stopped: slot {} confirmed at {} ({})", slot, stored.str(), stats.totals());
}

}  // namespace tombsync
