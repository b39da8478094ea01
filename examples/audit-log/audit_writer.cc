#include "examples/audit-log/audit_writer.h"

#include "base/error.h"
#include "examples/warehouse-loader/retention.h"

namespace tombsync::audit {

AuditWriter::AuditWriter(pg::PgConnection& conn, const Options& options)
    : conn_(conn),
      options_(options),
      table_(pg::quote_ident(options.schema) + ".audit_log"),
      offsets_(conn, pg::quote_ident(options.schema) + "._tombsync_audit_offsets", options.group) {}

void AuditWriter::ensure_tables() {
  offsets_.ensure_table(options_.schema);  // creates the schema too
  conn_.exec("CREATE TABLE IF NOT EXISTS " + table_ +
                 " (id bigserial PRIMARY KEY, table_name text NOT NULL, record_key jsonb, "
                 "action text NOT NULL CHECK (action IN ('delete', 'soft_delete', 'truncate', 'inferred')), "
                 "old_data jsonb NOT NULL, deleted_at timestamptz, source_lsn pg_lsn, "
                 "recorded_at timestamptz NOT NULL DEFAULT now(), "
                 // Bookkeeping: the record's stream position and slot history, and where Kafka holds it.
                 "commit_lsn pg_lsn NOT NULL, seq bigint NOT NULL, source text, "
                 "kafka_topic text NOT NULL, kafka_partition int NOT NULL, kafka_offset bigint NOT NULL)",
             "creating " + table_);
  // The retention purge's scan, and the usual question "what happened to this row".
  conn_.exec("CREATE INDEX IF NOT EXISTS audit_log_recorded_at ON " + table_ + " (recorded_at)",
             "indexing " + table_);
  conn_.exec("CREATE INDEX IF NOT EXISTS audit_log_table_key ON " + table_ + " (table_name, record_key)",
             "indexing " + table_);
}

BatchCounts AuditWriter::apply(const loader::Batch& batch) {
  BatchCounts counts;
  loader::RedeliveryFilter redeliveries(batch);
  nlohmann::json rows = nlohmann::json::array();
  for (const loader::LoaderRecord* r : batch.records) {
    ++counts.records;
    counts.last = r->position;
    const loader::TableSpec& table = options_.tables[r->table];
    if (redeliveries.redelivered(table.topic, *r)) {
      ++counts.redelivered;
      continue;
    }
    auto action = classify(*r);
    if (!action) {
      ++counts.skipped;
      continue;
    }
    ++counts.actions[static_cast<size_t>(*action)];
    rows.push_back(audit_row(*r, *action, table));
  }
  conn_.exec("BEGIN", "begin the batch transaction");
  try {
    if (!rows.empty())
      conn_.exec_params("INSERT INTO " + table_ +
                            " (table_name, record_key, action, old_data, deleted_at, source_lsn, commit_lsn, seq, "
                            "source, kafka_topic, kafka_partition, kafka_offset) "
                            "SELECT table_name, record_key, action, old_data, deleted_at, source_lsn, commit_lsn, seq, "
                            "source, kafka_topic, kafka_partition, kafka_offset FROM jsonb_to_recordset($1::jsonb) "
                            "AS x(table_name text, record_key jsonb, action text, old_data jsonb, "
                            "deleted_at timestamptz, source_lsn pg_lsn, commit_lsn pg_lsn, seq bigint, source text, "
                            "kafka_topic text, kafka_partition int, kafka_offset bigint)",
                        {rows.dump()}, "writing " + std::to_string(rows.size()) + " rows into " + table_);
    for (const auto& adv : batch.partitions) offsets_.advance(adv);
    conn_.exec("COMMIT", "committing the batch into " + table_);
  } catch (...) {
    PQclear(PQexec(conn_.raw(), "ROLLBACK"));
    throw;
  }
  return counts;
}

size_t AuditWriter::purge(std::chrono::seconds older_than) {
  return loader::delete_older_than(conn_, table_, "recorded_at", older_than);
}

}  // namespace tombsync::audit
