#include "agent/stream/record_builder.h"

#include <cstdint>

#include "base/error.h"
#include "connectors/kafka/kafka_properties.h"
#include "schemas/time_format.h"

namespace tombsync {

RecordBuilder::RecordBuilder(const Config& config, const Encoder& encoder, std::string source, Metrics* metrics)
    : config_(config),
      encoder_(encoder),
      policy_(config),
      oversized_(producer_message_max_bytes(config.kafka.properties), encoder),
      metrics_(metrics),
      source_(std::move(source)) {}

const RecordBuilder::Route& RecordBuilder::route(const TableSchema& table) {
  // By relation OID: two configured names can print alike ("a.b".c and a."b.c").
  auto it = routes_.find(table.relid);
  if (it != routes_.end()) return it->second;
  const TableConfig* tc = config_.find_table(table.schema, table.table);
  if (tc == nullptr) throw Error(ErrorKind::kInternal, "no configuration for " + table.qualified());
  Route r{config_.topic_for(*tc), tc->deletes.value_or(config_.deletes), table.qualified(),
          tc->soft_delete_column.has_value(), !tc->redact_on_delete.empty(), config_.oversized_for(*tc),
          metrics_ ? metrics_->table(table.qualified()) : nullptr};
  return routes_.emplace(table.relid, std::move(r)).first->second;
}

Record RecordBuilder::base(const ChangeEvent& e, const Route& r, const char* op) {
  Record rec;
  rec.topic = r.topic;
  rec.commit_lsn = e.source.commit_lsn;
  // The position (commit LSN, seq) must never go back within a transaction: 2^32 records is the bound.
  if (seq_ == UINT32_MAX)
    throw Error(ErrorKind::kInternal, "transaction " + std::to_string(e.source.xid) + " has more than 4294967295 records; "
                                          "record positions would wrap");
  rec.seq = seq_++;
  if (txn_.commit_lsn != e.source.commit_lsn || txn_.text_commit_lsn.empty()) {
    // The transaction's headers are formatted once, not per record: this is the hot path.
    txn_.commit_lsn = e.source.commit_lsn;
    txn_.text_commit_lsn = e.source.commit_lsn.str();
    txn_.xid = std::to_string(e.source.xid);
    txn_.commit_ts = format_utc_micros(e.source.commit_ts_us.value());
  }
  rec.headers.reserve(8);
  rec.headers.emplace_back("tombsync.op", op);
  rec.headers.emplace_back("tombsync.lsn", e.source.lsn.str());
  rec.headers.emplace_back("tombsync.commit_lsn", txn_.text_commit_lsn);
  rec.headers.emplace_back("tombsync.seq", std::to_string(rec.seq));
  rec.headers.emplace_back("tombsync.xid", txn_.xid);
  rec.headers.emplace_back("tombsync.commit_ts", txn_.commit_ts);
  rec.headers.emplace_back("tombsync.table", r.table);
  rec.headers.emplace_back("tombsync.source", source_);
  // On the flagged delete and the tombstone alike; every format (debezium-json's envelope has no
  // field for it: the header is its marker, docs/event-format.md).
  if (e.is_deleted && e.origin == DeleteOrigin::kTruncate) rec.headers.emplace_back("tombsync.truncate", "true");
  if (e.is_deleted && e.origin == DeleteOrigin::kInferred) rec.headers.emplace_back("tombsync.inferred", "true");
  return rec;
}

void RecordBuilder::build(const ChangeEvent& e, std::vector<Record>& out) {
  try {
    const Route& r = route(*e.table);
    // Where RowPolicy::apply may change the event (a soft delete, then redaction): only then a copy.
    const bool rules_apply = (r.soft_delete && e.op != Op::kDelete) || (r.redact && e.is_deleted);
    if (e.op == Op::kTruncate || !rules_apply) return build_records(e, out);
    ChangeEvent copy = e;
    policy_.apply(copy);
    build_records(copy, out);
  } catch (const Error& err) {
    // The encoders name the column; the operator also needs the change.
    throw Error(err.kind(), std::string("encoding the ") + to_string(e.op) + " of " + e.table->qualified() +
                                " at LSN " + e.source.lsn.str() + " (transaction " + std::to_string(e.source.xid) +
                                "): " + err.what());
  }
}

void RecordBuilder::build_records(const ChangeEvent& e, std::vector<Record>& out) {
  const Route& r = route(*e.table);
  bool keyed = !e.table->key_indexes.empty();
  if (e.op == Op::kTruncate) {
    Record rec = base(e, r, to_string(e.op));
    rec.value = encoder_.value(e, rec.seq);
    rec.all_partitions = true;  // every key's partition must see it, in order with that key's changes
    out.push_back(std::move(rec));
    return;
  }
  std::optional<std::string> key;
  if (keyed) key = encoder_.key(e);
  // A keyless table has no key to spread it over partitions; one partition keeps its order.
  std::optional<KafkaPartition> partition;
  if (!keyed) partition = KafkaPartition(0);
  // A hard delete, or a row image the table's soft-delete column marks deleted.
  if (!e.is_deleted) {
    Record rec = base(e, r, to_string(e.op));
    rec.key = key;
    rec.partition = partition;
    rec.value = oversized_.value(e, r.oversized, rec, r.counters);
    out.push_back(std::move(rec));
    return;
  }
  // A keyless table has nothing a tombstone could name: its deletes are flagged events only.
  if (r.deletes != DeletePolicy::kTombstone || !keyed) {
    Record rec = base(e, r, to_string(e.op));  // "delete", or what a soft delete was in Postgres
    rec.deleted = true;
    rec.key = key;
    rec.partition = partition;
    rec.value = oversized_.value(e, r.oversized, rec, r.counters);
    out.push_back(std::move(rec));
  }
  if (r.deletes != DeletePolicy::kFlag && keyed) {
    Record tomb = base(e, r, "tombstone");
    tomb.key = std::move(key);
    out.push_back(std::move(tomb));  // value stays nullopt: a tombstone
  }
}

}  // namespace tombsync
