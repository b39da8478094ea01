// RowFiller in the streaming loop, against an in-memory RowLookup: a key
// change whose new row has unchanged TOAST values is completed from the
// source; it and every later event of its transaction are held and sent in
// their original order with seq numbers in send order; one lookup per
// transaction (per table), at most max_held events held; a row gone is sent
// with the columns unchanged; the lookup happens before the commit is
// confirmed; a forced stop sends nothing of what is held; a lost lookup
// connection ends the session with nothing of the transaction confirmed.
#include "agent/stream/row_filler.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "agent/config/config.h"
#include "agent/stream/pg_row_lookup.h"
#include "agent/stream/stream_loop.h"
#include "base/error.h"
#include "schemas/encoder.h"
#include "tests/unit/agent/stream_fakes.h"
#include "tests/unit/schemas/event_fixtures.h"

namespace tombsync {
namespace {

using test::FakeChangeSource;
using test::FakeRecordSink;
using test::MemoryCursorStore;

const Lsn kStart{0x1000};

// The source's table by id, as a lookup reads it now; counts the lookups and their keys.
struct FakeLookup final : RowLookup {
  std::map<int64_t, std::string> bodies;  // id -> body (v is always 7)
  std::vector<size_t> key_counts;          // keys asked, per lookup
  bool fail = false;
  bool refuse = false;                     // the source refuses the query (the table altered, ...)
  std::vector<uint32_t> xids;              // the transaction each lookup waited for
  void lookup(const TableSchema& table, uint32_t xid, const std::vector<const std::vector<Datum>*>& keys,
              std::vector<std::vector<Datum>>& out) override {
    xids.push_back(xid);
    if (fail)
      throw Error(ErrorKind::kSource, "reading unchanged values of " + table.qualified() + " failed: connection lost",
                  Transient::kYes);
    if (refuse)
      throw Error(ErrorKind::kSource, "reading unchanged values of " + table.qualified() +
                                          " failed: ERROR: column \"body\" does not exist");
    key_counts.push_back(keys.size());
    for (const auto* k : keys) {
      auto it = bodies.find((*k)[0].i);
      if (it != bodies.end()) out.push_back({test::int_value(it->first), test::int_value(7), test::text_value(it->second)});
    }
  }
};

std::string temp_state_dir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "tombsync-fill-XXXXXX").string();
  REQUIRE(mkdtemp(tmpl.data()) != nullptr);
  return tmpl;
}

// One session's parts as run_pipeline wires them, with fakes for Postgres, Kafka and the store.
struct Rig {
  explicit Rig(size_t max_held = RowFiller::kMaxHeld) : filler{lookup, &metrics, nullptr, max_held} {}
  ~Rig() { std::filesystem::remove_all(state_dir); }

  std::string state_dir = temp_state_dir();
  Config config = parse_config("source:\n  dsn: \"host=db dbname=app user=tombsync\"\n  tables: [public.t]\n"
                               "kafka:\n  brokers: kafka:9092\n  topic_prefix: app\nsnapshot: never\ndeletes: flag\n"
                               "state_dir: " + state_dir + "\n",
                               "test");
  std::shared_ptr<const TableSchema> t = test::make_table(
      "public", "t",
      {{"id", ColumnType::kInt32, "int4", true}, {"v", ColumnType::kInt32, "int4"}, {"body", ColumnType::kText, "text"}});
  FakeChangeSource source;
  FakeRecordSink sink;
  MemoryCursorStore store;
  Metrics metrics{config};
  std::unique_ptr<Encoder> encoder = make_encoder(Format::kJson, EncoderContext{});
  RecordBuilder records{config, *encoder, "7301/app/tombsync"};
  AckTracker tracker{kStart};
  Checkpointer checkpointer{store, "tombsync", source, tracker, kStart, std::chrono::hours(1)};
  StreamGauges gauges{metrics, "tombsync", int64_t{1} << 30};
  std::vector<pg::ResolvedTable> tables;
  std::unordered_map<uint32_t, std::string> type_names;
  SnapshotWindow snapshot{config, store, tables, type_names, gauges};
  RedeliveryFilter redelivered;
  FakeLookup lookup;
  RowFiller filler;
  std::atomic<bool> stopping{false};
  Lsn txn{};

  void run() {
    StreamLoop loop({source, sink, records, tracker, checkpointer, redelivered, snapshot, gauges, metrics, nullptr,
                     nullptr, nullptr, &filler},
                    kStart, stopping);
    loop.run();
  }
  void push(ChangeEvent e) {
    e.source.commit_lsn = txn;
    e.source.lsn = Lsn(txn.value() - 0x10);
    SourceStep s;
    s.events.push_back(std::move(e));
    s.wal_end = txn;
    source.push(std::move(s));
  }
  void begin(Lsn commit) {
    txn = commit;
    SourceStep s;
    s.step.begin = pg::TxnBegin{commit, 731, UnixMicros{test::kCommitTs}};
    s.wal_end = commit;
    source.push(std::move(s));
  }
  void insert(int64_t id, std::string body) {
    push(test::make_event(Op::kInsert, t, {test::int_value(id), test::int_value(7), test::text_value(std::move(body))}));
  }
  // UPDATE t SET id = to WHERE id = from, body unchanged TOAST: what ChangeBuilder makes of it.
  void key_change(int64_t from, int64_t to) {
    push(test::make_event(Op::kDelete, t, {test::int_value(from), Datum::absent(), Datum::absent()}));
    ChangeEvent e = test::make_event(Op::kUpdate, t, {test::int_value(to), test::int_value(7), Datum::unchanged()});
    e.key_changed = true;
    push(std::move(e));
  }
  void update_v(int64_t id) {  // body unchanged, but a consumer keeps the value it has
    push(test::make_event(Op::kUpdate, t, {test::int_value(id), test::int_value(8), Datum::unchanged()}));
  }
  void commit(Lsn end) {
    SourceStep s;
    s.step.commit = pg::TxnCommit{txn, end};
    s.wal_end = end;
    source.push(std::move(s));
  }
  Lsn stored() { return store.confirmed.count("tombsync") ? store.confirmed["tombsync"] : Lsn(); }
  const std::string& value(size_t i) { return *sink.messages.at(i).record.value; }
  Metrics::Table& counters() { return *metrics.table("public.t"); }
};

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST_CASE("a key change's unchanged value is read from the source; later events wait and keep their order",
          "[stream][fill]") {
  Rig rig;
  rig.lookup.bodies = {{3, "big-3"}, {4, "big-4"}};
  rig.begin(Lsn(0x2000));
  rig.insert(1, "small");     // sent at once: nothing before it is incomplete
  rig.key_change(2, 3);       // the delete of 2 is sent, the update of 3 is held
  rig.insert(4, "big-4");     // held behind it
  rig.update_v(1);            // not a key change: held, but not looked up
  rig.commit(Lsn(0x2010));
  rig.source.on_empty = [&] { rig.stopping = true; };

  rig.run();
  REQUIRE(rig.sink.messages.size() == 5);
  for (size_t i = 0; i < 5; ++i) CHECK(rig.sink.messages[i].record.seq == i);  // seq follows send order
  CHECK(has(rig.value(0), "\"small\""));
  CHECK(has(rig.value(1), "\"id\":2"));
  CHECK(has(rig.value(2), "\"id\":3"));
  CHECK(has(rig.value(2), "\"big-3\""));
  CHECK_FALSE(has(rig.value(2), "__unchanged"));
  CHECK(has(rig.value(3), "\"id\":4"));
  CHECK(has(rig.value(4), "__unchanged"));  // an ordinary update keeps listing it
  CHECK(rig.lookup.key_counts == std::vector<size_t>{1});
  CHECK(rig.lookup.xids == std::vector<uint32_t>{731});  // read once the transaction is visible
  CHECK(rig.counters().fill_queries == 1);
  CHECK(rig.counters().fill_rows == 1);
  CHECK(rig.counters().fill_missing == 0);
  const std::string exported = rig.metrics.prometheus();
  CHECK(has(exported, "tombsync_fill_queries_total{table=\"public.t\"} 1\n"));
  CHECK(has(exported, "tombsync_fill_rows_total{table=\"public.t\"} 1\n"));
  CHECK(has(exported, "tombsync_fill_missing_total{table=\"public.t\"} 0\n"));
  CHECK(has(exported, "# TYPE tombsync_fill_seconds_total counter"));
  CHECK(rig.stored() == Lsn(0x2010));
}

TEST_CASE("one lookup per transaction however many keys changed, and none for a complete transaction",
          "[stream][fill]") {
  Rig rig;
  for (int64_t id = 100; id < 110; ++id) rig.lookup.bodies[id] = "b" + std::to_string(id);
  rig.begin(Lsn(0x2000));
  for (int64_t i = 0; i < 5; ++i) rig.key_change(i, 100 + i);
  rig.commit(Lsn(0x2010));
  rig.begin(Lsn(0x3000));
  rig.insert(50, "x");
  rig.commit(Lsn(0x3010));
  rig.begin(Lsn(0x4000));
  for (int64_t i = 5; i < 10; ++i) rig.key_change(i, 100 + i);
  rig.commit(Lsn(0x4010));
  rig.source.on_empty = [&] { rig.stopping = true; };

  rig.run();
  CHECK(rig.lookup.key_counts == std::vector<size_t>{5, 5});
  REQUIRE(rig.sink.messages.size() == 21);
  for (size_t i = 0; i < 10; ++i) CHECK(rig.sink.messages[i].record.seq == i);
  for (int64_t i = 0; i < 5; ++i) CHECK(has(rig.value(static_cast<size_t>(2 * i + 1)), "\"b" + std::to_string(100 + i) + "\""));
  for (const auto& m : rig.sink.messages) CHECK_FALSE(has(*m.record.value, "__unchanged"));
  CHECK(rig.stored() == Lsn(0x4010));
}

TEST_CASE("at most max_held events are held: at the bound they are looked up and sent, in order", "[stream][fill]") {
  Rig rig(3);
  for (int64_t id = 100; id < 110; ++id) rig.lookup.bodies[id] = "b" + std::to_string(id);
  rig.begin(Lsn(0x2000));
  for (int64_t i = 0; i < 4; ++i) rig.key_change(i, 100 + i);  // 8 events; 7 held from the first update
  rig.commit(Lsn(0x2010));
  rig.source.on_empty = [&] { rig.stopping = true; };

  rig.run();
  // d0 is sent at once; held: u100 d1 u101 (the bound: looked up and sent); d2 is sent at once
  // (nothing is held), then held: u102 d3 u103 (the bound again).
  CHECK(rig.lookup.key_counts == std::vector<size_t>{2, 2});
  REQUIRE(rig.sink.messages.size() == 8);
  for (size_t i = 0; i < 8; ++i) {
    CHECK(rig.sink.messages[i].record.seq == i);
    CHECK(has(rig.value(i), "\"id\":" + std::to_string(i % 2 ? 100 + i / 2 : i / 2)));
    CHECK_FALSE(has(rig.value(i), "__unchanged"));
  }
  CHECK(rig.counters().fill_queries == 2);
}

TEST_CASE("a row deleted before the lookup keeps its columns unchanged, counted as missing", "[stream][fill]") {
  Rig rig;  // the source no longer has id 3 (a later transaction deleted it)
  rig.begin(Lsn(0x2000));
  rig.key_change(2, 3);
  rig.commit(Lsn(0x2010));
  rig.source.on_empty = [&] { rig.stopping = true; };

  rig.run();
  REQUIRE(rig.sink.messages.size() == 2);
  CHECK(has(rig.value(1), "\"id\":3"));
  CHECK(has(rig.value(1), "\"__unchanged\":[\"body\"]"));
  CHECK(rig.counters().fill_queries == 1);
  CHECK(rig.counters().fill_rows == 0);
  CHECK(rig.counters().fill_missing == 1);
  CHECK(rig.stored() == Lsn(0x2010));
}

TEST_CASE("held events go out before the commit is handed to the tracker", "[stream][fill]") {
  Rig rig;
  rig.lookup.bodies = {{3, "big-3"}};
  rig.sink.flush_acks_all = false;
  rig.begin(Lsn(0x2000));
  rig.key_change(2, 3);
  rig.commit(Lsn(0x2010));
  size_t sent_at_commit = 0;
  rig.source.then([&] {
    sent_at_commit = rig.sink.messages.size();
    rig.sink.ack_all();  // Kafka acknowledges only now
    rig.stopping = true;
  });

  rig.run();
  CHECK(sent_at_commit == 2);  // both records were handed over by the time the commit was read
  CHECK(rig.tracker.acked() == Lsn(0x2010));
  CHECK(rig.stored() == Lsn(0x2010));
}

TEST_CASE("a forced stop sends nothing of what is held and confirms nothing of the transaction", "[stream][fill]") {
  Rig rig;
  rig.lookup.bodies = {{3, "big-3"}};
  rig.begin(Lsn(0x2000));
  rig.key_change(2, 3);
  rig.insert(9, "x");
  rig.source.then([&] {
    rig.stopping = true;
    rig.sink.interrupt();  // the grace period ran out
  });
  rig.insert(10, "y");
  rig.commit(Lsn(0x2010));

  rig.run();
  CHECK(rig.sink.messages.size() == 1);  // the delete of 2, sent before anything was held
  CHECK(rig.lookup.key_counts.empty());
  CHECK(rig.stored() == Lsn());
  for (Lsn l : rig.source.statuses) CHECK(l == kStart);
}

TEST_CASE("a forced stop while the held events are sent: none after the cut is offered", "[stream][fill]") {
  Rig rig;
  rig.sink.partition_count = 3;
  rig.lookup.bodies = {{3, "big-3"}};
  rig.begin(Lsn(0x2000));
  rig.key_change(2, 3);
  rig.insert(9, "x");
  rig.commit(Lsn(0x2010));
  rig.source.on_empty = [&] { rig.stopping = true; };
  rig.sink.short_at_send = 1;  // the filled update gets no copy through: the stop was forced

  rig.run();
  CHECK(rig.sink.sent == 2);  // the delete and the update were offered; the insert was not
  CHECK(rig.sink.messages.size() == 1);
  CHECK(rig.stored() == Lsn());
}

TEST_CASE("a lost lookup connection ends the session; nothing of the transaction is confirmed", "[stream][fill]") {
  Rig rig;
  rig.lookup.fail = true;
  rig.begin(Lsn(0x2000));
  rig.insert(1, "a");
  rig.commit(Lsn(0x2010));
  rig.begin(Lsn(0x3000));
  rig.key_change(2, 3);
  rig.commit(Lsn(0x3010));

  try {
    rig.run();
    FAIL("the lookup's error did not end the session");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kSource);
    CHECK(e.transient());
  }
  CHECK(rig.stored() <= Lsn(0x2010));  // the first transaction at most; never the second
  for (Lsn l : rig.source.statuses) CHECK(l <= Lsn(0x2010));
}

TEST_CASE("a lookup the source refuses leaves the columns unchanged and the stream goes on", "[stream][fill]") {
  Rig rig;  // e.g. a later ALTER TABLE dropped the column: every replay would fail the same way
  rig.lookup.refuse = true;
  rig.begin(Lsn(0x2000));
  rig.key_change(2, 3);
  rig.insert(4, "d");
  rig.commit(Lsn(0x2010));
  rig.source.on_empty = [&] { rig.stopping = true; };

  rig.run();
  REQUIRE(rig.sink.messages.size() == 3);
  CHECK(has(rig.value(1), "\"id\":3"));
  CHECK(has(rig.value(1), "\"__unchanged\":[\"body\"]"));
  CHECK(has(rig.value(2), "\"id\":4"));  // what came after it, in order
  CHECK(rig.counters().fill_missing == 1);
  CHECK(rig.stored() == Lsn(0x2010));
}

TEST_CASE("a replay of a transaction gives every record the same position", "[stream][fill]") {
  auto positions = [](Rig& rig) {
    rig.lookup.bodies = {{3, "big-3"}, {5, "big-5"}};
    rig.begin(Lsn(0x2000));
    rig.insert(1, "a");
    rig.key_change(2, 3);
    rig.insert(4, "b");
    rig.key_change(1, 5);
    rig.commit(Lsn(0x2010));
    rig.source.on_empty = [&] { rig.stopping = true; };
    rig.run();
    std::vector<std::pair<uint32_t, std::string>> out;
    for (const auto& m : rig.sink.messages) out.emplace_back(m.record.seq, *m.record.key);
    return out;
  };
  Rig first, again;
  const auto a = positions(first);
  CHECK(a.size() == 6);
  CHECK(a == positions(again));
}

TEST_CASE("only a key change's update with unchanged values needs a lookup by default", "[stream][fill]") {
  FakeLookup lookup;
  RowFiller filler(lookup, nullptr);
  auto t = test::make_table("public", "t", {{"id", ColumnType::kInt32, "int4", true}, {"body", ColumnType::kText, "text"}});
  ChangeEvent moved = test::make_event(Op::kUpdate, t, {test::int_value(1), Datum::unchanged()});
  moved.key_changed = true;
  CHECK(filler.needs_fill(moved));
  ChangeEvent whole = moved;
  whole.row[1] = test::text_value("x");
  CHECK_FALSE(filler.needs_fill(whole));
  ChangeEvent plain = moved;
  plain.key_changed = false;
  CHECK_FALSE(filler.needs_fill(plain));
  RowFiller every(lookup, nullptr, [](const TableSchema&) { return true; });  // complete_rows: true
  CHECK(every.needs_fill(plain));
}

TEST_CASE("lookup keys are written as Postgres reads them back", "[stream][fill]") {
  CHECK(key_literal_text(ColumnType::kInt64, test::int_value(-42)) == "-42");
  CHECK(key_literal_text(ColumnType::kBool, test::bool_value(true)) == "t");
  CHECK(key_literal_text(ColumnType::kBytea, test::text_value(std::string("\x00\xff", 2))) == "\\x00ff");
  CHECK(key_literal_text(ColumnType::kText, test::text_value("it's")) == "it's");  // quoted by libpq
  CHECK(key_literal_text(ColumnType::kFloat64, test::float_value(1.5, "1.5")) == "1.5");
}

}  // namespace
}  // namespace tombsync
