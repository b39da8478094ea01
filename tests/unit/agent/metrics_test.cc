// Metrics: counts per table from the records an event became (soft deletes
// included), readiness reasons, and the Prometheus text format.
#include "agent/ops/metrics.h"

#include <catch2/catch.hpp>

#include <chrono>

#include "agent/config/config.h"
#include "schemas/encoder.h"
#include "agent/stream/record_builder.h"

namespace tombsync {
namespace {

const std::string kYaml = R"(source:
  dsn: "host=db dbname=app"
  tables:
    - name: public.users
      soft_delete_column: archived
    - public.orders
kafka: {brokers: "k:9092", topic_prefix: app}
state_dir: /tmp/x
health: {max_lag_bytes: 1000}
)";

std::shared_ptr<const TableSchema> users() {
  auto t = std::make_shared<TableSchema>();
  t->relid = RelationId(1);
  t->schema = "public";
  t->table = "users";
  t->columns = {{"id", 23, -1, "int4", ColumnType::kInt32, true}, {"archived", 16, -1, "bool", ColumnType::kBool, false}};
  t->key_indexes = {0};
  return t;
}

ChangeEvent event(Op op, bool archived) {
  ChangeEvent e;
  e.op = op;
  e.table = users();
  Datum id, flag;
  id.state = flag.state = Datum::State::kPresent;
  id.i = 1;
  flag.b = archived;
  e.row = {id, flag};
  if (op == Op::kDelete) {
    e.is_deleted = true;
    e.deleted_at_us = UnixMicros{1};
  }
  return e;
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

TEST_CASE("metrics count soft and hard deletes, tombstones and records per table", "[metrics]") {
  Config config = parse_config(kYaml, "t");
  Metrics m(config);
  auto encoder = make_encoder(Format::kJson);
  RecordBuilder builder(config, *encoder, "1/app/s");
  Metrics::Table* t = m.table("public.users");
  REQUIRE(t != nullptr);
  CHECK(m.table("public.nope") == nullptr);
  for (const auto& e : {event(Op::kInsert, false), event(Op::kUpdate, true), event(Op::kDelete, false)}) {
    std::vector<Record> out;
    builder.build(e, out);
    Metrics::count(*t, e, out);
  }
  CHECK(t->events[static_cast<size_t>(Op::kInsert)] == 1);
  CHECK(t->events[static_cast<size_t>(Op::kUpdate)] == 1);
  CHECK(t->deletes == 2);     // the soft delete (an update) and the hard delete
  CHECK(t->tombstones == 2);  // deletes: both
  CHECK(t->records == 5);
  const std::string text = m.prometheus();
  CHECK(text.find("tombsync_deletes_total{table=\"public.users\"} 2\n") != std::string::npos);
  CHECK(text.find("tombsync_events_total{table=\"public.orders\",op=\"insert\"} 0\n") != std::string::npos);
  CHECK(text.find("# TYPE tombsync_replication_lag_bytes gauge\n") != std::string::npos);
}

TEST_CASE("readiness says why not: not streaming, Kafka, a stalled thread, lag", "[metrics]") {
  Config config = parse_config(kYaml, "t");
  Metrics m(config);
  std::string why;
  CHECK_FALSE(m.ready(why));
  CHECK(why.find("not streaming") != std::string::npos);
  m.streaming = true;
  m.alive_unix_ms = now_ms();
  CHECK(m.ready(why));
  m.kafka_reachable = false;
  CHECK_FALSE(m.ready(why));
  CHECK(why == "no Kafka broker answers");
  m.kafka_reachable = true;
  m.server_lsn = 5000;
  m.confirmed_lsn = 1000;
  CHECK_FALSE(m.ready(why));
  CHECK(why.find("replication lag 4000 bytes is above health.max_lag_bytes 1000") != std::string::npos);
  m.confirmed_lsn = 4500;
  CHECK(m.ready(why));
  m.alive_unix_ms = now_ms() - 60000;
  CHECK_FALSE(m.ready(why));
  CHECK(why.find("has not reported") != std::string::npos);
  CHECK(m.alive(why));  // /healthz allows five minutes
  m.alive_unix_ms = now_ms() - 400000;
  CHECK_FALSE(m.alive(why));
}

}  // namespace tombsync

namespace tombsync {

TEST_CASE("metrics export a reconciliation's phase and inferred deletes per table", "[metrics][reconcile]") {
  Config config = parse_config(kYaml, "t");
  Metrics m(config);
  Metrics::Table* t = m.table("public.users");
  REQUIRE(t != nullptr);
  t->reconcile_phase = 2;
  t->reconcile_inferred = 50;
  const std::string text = m.prometheus();
  CHECK(text.find("# TYPE tombsync_reconcile_phase gauge\n") != std::string::npos);
  CHECK(text.find("tombsync_reconcile_phase{table=\"public.users\"} 2\n") != std::string::npos);
  CHECK(text.find("tombsync_reconcile_phase{table=\"public.orders\"} 0\n") != std::string::npos);
  CHECK(text.find("# TYPE tombsync_reconcile_inferred_deletes_total counter\n") != std::string::npos);
  CHECK(text.find("tombsync_reconcile_inferred_deletes_total{table=\"public.users\"} 50\n") != std::string::npos);
}

}  // namespace tombsync
