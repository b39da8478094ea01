// The key ledger's agent side (agent/stream/ledger_recorder.h) run in the
// streaming loop against the in-memory fakes (stream_fakes.h): which keys
// reach the ledger, and when. The ledger moves only in the writes that move
// the cursor (or a snapshot chunk's progress); a crash, simulated by dropping
// the loop with its pending changes, leaves the ledger and the cursor
// together; a restart that finds records in Kafka still applies their
// changes; a key change, a soft delete and a snapshot chunk's rows.
#include "agent/stream/ledger_recorder.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>

#include "agent/config/config.h"
#include "agent/stream/ledger_row_codec.h"
#include "agent/stream/row_filler.h"
#include "agent/stream/row_policy.h"
#include "agent/stream/stream_loop.h"
#include "schemas/encoder.h"
#include "tests/unit/agent/stream_fakes.h"
#include "tests/unit/schemas/event_fixtures.h"

namespace tombsync {
namespace {

using test::FakeChangeSource;
using test::FakeRecordSink;
using test::MemoryCursorStore;

const Lsn kStart{0x1000};

std::string temp_state_dir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "tombsync-ledger-XXXXXX").string();
  REQUIRE(mkdtemp(tmpl.data()) != nullptr);
  return tmpl;
}

// Kafka's answer to "is this topic compacted", fixed by the test.
struct FakeCleanup final : TopicCleanup {
  std::optional<bool> answer = false;
  int asked = 0;
  std::optional<bool> compacted(const std::string&, std::string& why) override {
    ++asked;
    if (!answer) why = "not authorised";
    return answer;
  }
};

// A session wired as run_pipeline wires it, with a LedgerRecorder (and, with `expand`, a
// TruncateExpander); the store outlives sessions.
// public.users(id int4 key, name text, gone bool): `gone` is its soft-delete column.
struct Session {
  Session(MemoryCursorStore& s, const Config& c, Lsn start)
      : store(s), config(c), tracker(start), checkpointer{store, "tombsync", source, tracker, start, std::chrono::hours(1)},
        ledger(config, store, "tombsync"), start_(start) {}

  MemoryCursorStore& store;
  const Config& config;
  FakeChangeSource source;
  FakeRecordSink sink;
  Metrics metrics{config};
  std::unique_ptr<Encoder> encoder = make_encoder(config.format, EncoderContext{.server_name = "app", .database = "app"});
  RecordBuilder records{config, *encoder, "7301/app/tombsync"};
  AckTracker tracker;
  Checkpointer checkpointer;
  StreamGauges gauges{metrics, "tombsync", int64_t{1} << 30};
  std::vector<pg::ResolvedTable> tables;
  std::unordered_map<uint32_t, std::string> type_names;
  SnapshotWindow snapshot{config, store, tables, type_names, gauges};
  RedeliveryFilter redelivered;
  LedgerRecorder ledger;
  FakeCleanup cleanup;
  TruncateExpander expander{config, store, "tombsync", ledger, *encoder, cleanup, metrics};
  bool expand = false;
  LedgerRowFill row_fill{ledger, *encoder, &metrics};
  bool rows = false;  // ledger: rows, as run_pipeline wires it
  RowFiller* filler = nullptr;  // the source lookup, when a test gives one
  std::atomic<bool> stopping{false};
  Lsn start_;

  void run() {
    StreamLoop loop({source, sink, records, tracker, checkpointer, redelivered, snapshot, gauges, metrics, &ledger,
                     expand ? &expander : nullptr, nullptr, filler, rows ? &row_fill : nullptr},
                    start_, stopping);
    source.on_empty = [this] { stopping = true; };
    loop.run();
  }
};

struct Rig {
  std::string state_dir = temp_state_dir();
  Config config = parse_config("source:\n  dsn: \"host=db dbname=app user=tombsync\"\n  tables:\n"
                               "    - { name: public.users, soft_delete_column: gone }\n"
                               "kafka:\n  brokers: kafka:9092\n  topic_prefix: app\nsnapshot: never\n"
                               "state_dir: " + state_dir + "\n",
                               "test");
  std::shared_ptr<const TableSchema> users = test::make_table(
      "public", "users",
      {{"id", ColumnType::kInt32, "int4", true}, {"name", ColumnType::kText, "text"}, {"gone", ColumnType::kBool, "bool"}});
  MemoryCursorStore store;
  ~Rig() { std::filesystem::remove_all(state_dir); }

  std::set<std::string> ledger() const { return store.keys_of("tombsync", "public.users"); }
  Lsn stored() { return store.confirmed.count("tombsync") ? store.confirmed["tombsync"] : Lsn(); }

  ChangeEvent event(Op op, Lsn commit, int64_t id, bool gone = false) const {
    ChangeEvent e = test::make_event(op, users, {test::int_value(id), test::text_value("n"), test::bool_value(gone)});
    e.source.commit_lsn = commit;
    e.source.lsn = Lsn(commit.value() - 0x10);
    return e;
  }
  // One transaction of `events` into s's script.
  static void transaction(Session& s, Lsn commit, Lsn end, std::vector<ChangeEvent> events) {
    SourceStep b;
    b.step.begin = pg::TxnBegin{commit, 731, UnixMicros{test::kCommitTs}};
    b.wal_end = commit;
    s.source.push(std::move(b));
    SourceStep d;
    d.events = std::move(events);
    d.wal_end = commit;
    s.source.push(std::move(d));
    SourceStep c;
    c.step.commit = pg::TxnCommit{commit, end};
    c.wal_end = end;
    s.source.push(std::move(c));
  }
  static void checkpoint_now(Session& s, Lsn wal_end) {
    SourceStep k;
    k.kind = SourceStep::Kind::kKeepalive;
    k.wal_end = wal_end;
    k.reply_requested = true;
    s.source.push(std::move(k));
  }
};

const std::string kKey1 = "{\"id\":1}", kKey2 = "{\"id\":2}", kKey3 = "{\"id\":3}";

TEST_CASE("ledger: keys enter and leave only in the write that moves the cursor", "[stream][ledger]") {
  Rig rig;
  Session s(rig.store, rig.config, kStart);
  Rig::transaction(s, Lsn(0x2000), Lsn(0x2010), {rig.event(Op::kInsert, Lsn(0x2000), 1), rig.event(Op::kInsert, Lsn(0x2000), 2)});
  s.source.then([&] {
    // Kafka has not acknowledged: neither the cursor nor the ledger moved.
    CHECK(rig.ledger().empty());
    s.sink.ack_all();
  });
  Rig::checkpoint_now(s, Lsn(0x2010));
  s.source.then([&] {
    CHECK(rig.stored() == Lsn(0x2010));
    CHECK(rig.ledger() == std::set<std::string>{kKey1, kKey2});
    CHECK(rig.store.ledger_count("tombsync", "public.users") == 2);
  });
  Rig::transaction(s, Lsn(0x3000), Lsn(0x3010), {rig.event(Op::kDelete, Lsn(0x3000), 1), rig.event(Op::kUpdate, Lsn(0x3000), 3)});
  s.source.then([&] {
    s.sink.ack_all();
    CHECK(rig.ledger() == std::set<std::string>{kKey1, kKey2});  // acknowledged, not saved yet
  });
  s.run();
  CHECK(rig.stored() == Lsn(0x3010));
  CHECK(rig.ledger() == std::set<std::string>{kKey2, kKey3});
  CHECK(s.ledger.pending_entries() == 0);
  CHECK(s.metrics.table("public.users")->ledger_keys == 2);
}

TEST_CASE("ledger: a crash drops the pending changes with the unsaved cursor; the restart applies them",
          "[stream][ledger]") {
  Rig rig;
  {
    Session s(rig.store, rig.config, kStart);
    Rig::transaction(s, Lsn(0x2000), Lsn(0x2010), {rig.event(Op::kInsert, Lsn(0x2000), 1)});
    s.source.then([&] { s.sink.ack_all(); });
    Rig::checkpoint_now(s, Lsn(0x2010));
    // Written to Kafka and acknowledged, but the process dies before the next checkpoint.
    Rig::transaction(s, Lsn(0x3000), Lsn(0x3010),
                     {rig.event(Op::kDelete, Lsn(0x3000), 1), rig.event(Op::kInsert, Lsn(0x3000), 2)});
    s.source.then([&] {
      s.sink.ack_all();
      CHECK(s.ledger.pending_entries() == 3);  // delete event + tombstone of 1, insert of 2
      throw std::runtime_error("kill -9");      // nothing more is saved: run() rethrows
    });
    CHECK_THROWS(s.run());
  }
  // save_after_error may have saved what was acknowledged; either way cursor and ledger agree.
  const bool saved_second = rig.stored() == Lsn(0x3010);
  CHECK(rig.ledger() == (saved_second ? std::set<std::string>{kKey2} : std::set<std::string>{kKey1}));

  // The hard crash proper: the restart begins at the saved cursor, and the RedeliveryFilter
  // finds the second transaction's records in Kafka. Their ledger changes still apply.
  rig.store.confirmed["tombsync"] = Lsn(0x2010);
  rig.store.ledger[rig.store.ledger_table("tombsync", "public.users").value()] = {{kKey1, 0}};
  Session r(rig.store, rig.config, Lsn(0x2010));
  r.redelivered.add_tail("app.public.users", KafkaPartition(0), StreamPosition{Lsn(0x3000), 2});
  Rig::transaction(r, Lsn(0x3000), Lsn(0x3010),
                   {rig.event(Op::kDelete, Lsn(0x3000), 1), rig.event(Op::kInsert, Lsn(0x3000), 2)});
  r.run();
  CHECK(r.sink.messages.empty());  // every record was in Kafka already
  CHECK(rig.stored() == Lsn(0x3010));
  CHECK(rig.ledger() == std::set<std::string>{kKey2});
}

TEST_CASE("ledger: a key change erases the old key and puts the new one", "[stream][ledger]") {
  Rig rig;
  Session s(rig.store, rig.config, kStart);
  Rig::transaction(s, Lsn(0x2000), Lsn(0x2010), {rig.event(Op::kInsert, Lsn(0x2000), 1)});
  // UPDATE users SET id = 3 WHERE id = 1: the change builder's delete of the old key, then the upsert.
  Rig::transaction(s, Lsn(0x3000), Lsn(0x3010),
                   {rig.event(Op::kDelete, Lsn(0x3000), 1), rig.event(Op::kUpdate, Lsn(0x3000), 3)});
  s.source.then([&] { s.sink.ack_all(); });
  s.run();
  CHECK(rig.ledger() == std::set<std::string>{kKey3});
}

TEST_CASE("ledger: a soft delete erases the key, a restore puts it back, under every delete policy",
          "[stream][ledger]") {
  for (const char* policy : {"both", "flag", "tombstone"}) {
    Rig rig;
    rig.config.deletes = policy == std::string("both")   ? DeletePolicy::kBoth
                         : policy == std::string("flag") ? DeletePolicy::kFlag
                                                         : DeletePolicy::kTombstone;
    Session s(rig.store, rig.config, kStart);
    Rig::transaction(s, Lsn(0x2000), Lsn(0x2010),
                     {rig.event(Op::kInsert, Lsn(0x2000), 1), rig.event(Op::kInsert, Lsn(0x2000), 2)});
    Rig::transaction(s, Lsn(0x3000), Lsn(0x3010),
                     {rig.event(Op::kUpdate, Lsn(0x3000), 1, true), rig.event(Op::kUpdate, Lsn(0x3000), 2, true)});
    Rig::transaction(s, Lsn(0x4000), Lsn(0x4010), {rig.event(Op::kUpdate, Lsn(0x4000), 2, false)});  // a restore
    s.source.then([&] { s.sink.ack_all(); });
    s.run();
    INFO(policy);
    CHECK(rig.ledger() == std::set<std::string>{kKey2});
  }
}

TEST_CASE("ledger: ledger: none keeps nothing, and a truncate changes nothing", "[stream][ledger]") {
  Rig rig;
  rig.config.source.tables[0].ledger = LedgerMode::kNone;
  Session s(rig.store, rig.config, kStart);
  Rig::transaction(s, Lsn(0x2000), Lsn(0x2010), {rig.event(Op::kInsert, Lsn(0x2000), 1)});
  s.source.then([&] { s.sink.ack_all(); });
  s.run();
  CHECK(rig.stored() == Lsn(0x2010));
  CHECK(rig.store.ledger_ids.empty());

  Rig keys;
  Session k(keys.store, keys.config, kStart);
  Rig::transaction(k, Lsn(0x2000), Lsn(0x2010), {keys.event(Op::kInsert, Lsn(0x2000), 1)});
  ChangeEvent t = test::make_event(Op::kTruncate, keys.users, {});
  t.source.commit_lsn = Lsn(0x3000);
  Rig::transaction(k, Lsn(0x3000), Lsn(0x3010), {t});
  k.source.then([&] { k.sink.ack_all(); });
  k.run();
  CHECK(keys.ledger() == std::set<std::string>{kKey1});  // expanding a truncate is a later step
}

namespace {
std::string header(const Record& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return "";
}
ChangeEvent truncate_of(const Rig& rig, Lsn commit) {
  ChangeEvent t = test::make_event(Op::kTruncate, rig.users, {});
  t.source.commit_lsn = commit;
  t.source.lsn = Lsn(commit.value() - 0x8);
  return t;
}
}  // namespace

TEST_CASE("ledger: an expanded TRUNCATE deletes every live key, saved or pending, then the ledger is empty",
          "[stream][ledger][truncate]") {
  Rig rig;
  Session s(rig.store, rig.config, kStart);
  s.expand = true;
  bool compacted = GENERATE(false, true);
  s.cleanup.answer = compacted;
  Rig::transaction(s, Lsn(0x2000), Lsn(0x2010), {rig.event(Op::kInsert, Lsn(0x2000), 1), rig.event(Op::kInsert, Lsn(0x2000), 2)});
  s.source.then([&] { s.sink.ack_all(); });
  Rig::checkpoint_now(s, Lsn(0x2010));
  s.source.then([&] { REQUIRE(rig.ledger() == std::set<std::string>{kKey1, kKey2}); });
  // Not acknowledged before the TRUNCATE: pending in the recorder, not in the store.
  Rig::transaction(s, Lsn(0x3000), Lsn(0x3010), {rig.event(Op::kInsert, Lsn(0x3000), 3), rig.event(Op::kDelete, Lsn(0x3000), 2)});
  Rig::transaction(s, Lsn(0x4000), Lsn(0x4010),
                   {rig.event(Op::kInsert, Lsn(0x4000), 4), truncate_of(rig, Lsn(0x4000)), rig.event(Op::kInsert, Lsn(0x4000), 5)});
  s.source.then([&] { s.sink.ack_all(); });
  s.run();

  std::vector<std::string> truncated;  // keys of the records marked truncate, in order
  size_t events = 0, truncate_records = 0;
  for (const auto& m : s.sink.messages) {
    if (header(m.record, "tombsync.commit_lsn") != Lsn(0x4000).str()) continue;
    if (header(m.record, "tombsync.op") == "truncate") ++truncate_records;
    if (header(m.record, "tombsync.truncate") != "true") continue;
    truncated.push_back(*m.record.key);
    if (m.record.value) {
      ++events;
      CHECK(m.record.value->find("\"__truncate\":true") != std::string::npos);
      CHECK(header(m.record, "tombsync.lsn") == Lsn(0x4000 - 0x8).str());
    }
  }
  // {1} saved, {3} pending, {4} earlier in the same transaction; {2} deleted before: in key order,
  // a delete event then a tombstone each (deletes: both).
  CHECK(truncated == std::vector<std::string>{kKey1, kKey1, kKey3, kKey3, "{\"id\":4}", "{\"id\":4}"});
  CHECK(events == 3);
  CHECK(truncate_records == (compacted ? 0u : static_cast<size_t>(s.sink.partition_count)));
  CHECK(rig.stored() == Lsn(0x4010));
  CHECK(rig.ledger() == std::set<std::string>{"{\"id\":5}"});  // the clear, then the insert after it
  CHECK(s.metrics.table("public.users")->truncate_deletes == 3);
  CHECK(s.metrics.table("public.users")->truncate_remaining == 0);
  CHECK(s.cleanup.asked == 1);
}

// A JDBC-style sink with truncate.enabled=true empties its table at a table-level truncate record on
// each partition, also after applying rows of other partitions from after the TRUNCATE: with the
// per-key deletes there, debezium-json has none, on any topic.
TEST_CASE("ledger: an expanded TRUNCATE in debezium-json has no table-level truncate record, only the deletes",
          "[stream][ledger][truncate]") {
  Rig rig;
  rig.config.format = Format::kDebeziumJson;
  Session s(rig.store, rig.config, kStart);
  s.expand = true;
  s.cleanup.answer = false;  // a topic that would take the keyless record
  Rig::transaction(s, Lsn(0x2000), Lsn(0x2010), {rig.event(Op::kInsert, Lsn(0x2000), 1), rig.event(Op::kInsert, Lsn(0x2000), 2)});
  Rig::transaction(s, Lsn(0x3000), Lsn(0x3010), {truncate_of(rig, Lsn(0x3000)), rig.event(Op::kInsert, Lsn(0x3000), 3)});
  s.source.then([&] { s.sink.ack_all(); });
  s.run();

  size_t keyless = 0, deletes = 0, tombstones = 0;
  for (const auto& m : s.sink.messages) {
    if (!m.record.key) ++keyless;
    if (header(m.record, "tombsync.truncate") != "true") continue;
    if (m.record.value) {
      ++deletes;
      CHECK(m.record.value->find("\"op\":\"d\"") != std::string::npos);
    } else {
      ++tombstones;
    }
  }
  CHECK(keyless == 0);
  CHECK(deletes == 2);
  CHECK(tombstones == 2);
  CHECK(s.cleanup.asked == 0);  // the format decides; Kafka is not asked
  CHECK(rig.ledger().size() == 1);
}

TEST_CASE("ledger: a restart re-expands a TRUNCATE in the same order, so Kafka's copies are skipped",
          "[stream][ledger][truncate]") {
  Rig rig;
  {
    Session s(rig.store, rig.config, kStart);
    s.expand = true;
    Rig::transaction(s, Lsn(0x2000), Lsn(0x2010),
                     {rig.event(Op::kInsert, Lsn(0x2000), 1), rig.event(Op::kInsert, Lsn(0x2000), 2),
                      rig.event(Op::kInsert, Lsn(0x2000), 3)});
    s.source.then([&] { s.sink.ack_all(); });
    Rig::checkpoint_now(s, Lsn(0x2010));
    Rig::transaction(s, Lsn(0x3000), Lsn(0x3010), {truncate_of(rig, Lsn(0x3000))});
    s.source.then([] { throw std::runtime_error("kill -9"); });  // sent, never acknowledged
    CHECK_THROWS(s.run());
    // save_after_error may have saved it (the fake acknowledges at the flush); either way the
    // cursor and the ledger agree. The hard crash proper: back to the state before the TRUNCATE.
    CHECK((rig.stored() == Lsn(0x3010) ? rig.ledger().empty() : rig.ledger().size() == 3));
    rig.store.confirmed["tombsync"] = Lsn(0x2010);
    rig.store.ledger[rig.store.ledger_table("tombsync", "public.users").value()] = {{kKey1, 0}, {kKey2, 0}, {kKey3, 0}};
    std::vector<std::string> first;
    for (const auto& m : s.sink.messages)
      if (header(m.record, "tombsync.truncate") == "true")
        first.push_back(*m.record.key + "/" + header(m.record, "tombsync.seq"));
    CHECK(first.size() == 6);
    // The restart: Kafka holds the truncate's records up to seq 4 (event 0, then {1}, {2}: 1-4).
    Session again(rig.store, rig.config, rig.stored());
    again.expand = true;
    again.redelivered.add_tail("app.public.users", KafkaPartition(0), StreamPosition{Lsn(0x3000), 4});
    again.sink.partition_count = 1;
    Rig::transaction(again, Lsn(0x3000), Lsn(0x3010), {truncate_of(rig, Lsn(0x3000))});
    again.source.then([&] { again.sink.ack_all(); });
    again.run();
    std::vector<std::string> resent;
    for (const auto& m : again.sink.messages)
      if (header(m.record, "tombsync.truncate") == "true")
        resent.push_back(*m.record.key + "/" + header(m.record, "tombsync.seq"));
    CHECK(resent == std::vector<std::string>(first.begin() + 4, first.end()));  // {3}'s, seq 5 and 6
    CHECK(rig.ledger().empty());
    CHECK(rig.stored() == Lsn(0x3010));
  }
}

TEST_CASE("ledger: snapshot rows go with their chunk's progress, not with the cursor", "[stream][ledger]") {
  Rig rig;
  LedgerRecorder rec(rig.config, rig.store, "tombsync");
  auto encoder = make_encoder(Format::kJson, EncoderContext{});
  RecordBuilder builder(rig.config, *encoder, "7301/app/tombsync");
  std::vector<Record> out;
  auto build = [&](const ChangeEvent& e) {
    out.clear();
    builder.build(e, out);
    return out;
  };
  rec.on_begin(Lsn(0x2000));  // the high watermark's transaction
  rec.on_records(*rig.users, build(rig.event(Op::kRead, Lsn(0x2000), 1)), true);
  rec.on_records(*rig.users, build(rig.event(Op::kRead, Lsn(0x2000), 2)), true);
  rec.on_commit(Lsn(0x2000), Lsn(0x2010));
  rec.on_begin(Lsn(0x3000));
  rec.on_records(*rig.users, build(rig.event(Op::kDelete, Lsn(0x3000), 2)), false);
  rec.on_commit(Lsn(0x3000), Lsn(0x3010));

  LedgerDelta rows;
  rec.take_snapshot_rows(Lsn(0x2010), rows);
  CHECK(rows.entries() == 2);
  rig.store.save_snapshot("tombsync", "public.users", SnapshotProgress{false, std::vector<std::string>{"2"}, 2}, rows);
  CHECK(rig.ledger() == std::set<std::string>{kKey1, kKey2});
  CHECK(rig.stored() == Lsn());  // the chunk's write carries the rows, the cursor did not move

  LedgerDelta stream;
  rec.take_acknowledged(Lsn(0x3010), stream);
  CHECK(stream.entries() == 2);  // the delete event and the tombstone of 2; the rows are not taken twice
  rig.store.save_confirmed("tombsync", Lsn(0x3010), stream);
  CHECK(rig.ledger() == std::set<std::string>{kKey1});
  CHECK(rec.pending_entries() == 0);
}

TEST_CASE("ledger: a transaction a forced stop left open is dropped, never saved", "[stream][ledger]") {
  Rig rig;
  LedgerRecorder rec(rig.config, rig.store, "tombsync");
  auto encoder = make_encoder(Format::kJson, EncoderContext{});
  RecordBuilder builder(rig.config, *encoder, "7301/app/tombsync");
  std::vector<Record> out;
  builder.build(rig.event(Op::kInsert, Lsn(0x2000), 1), out);
  rec.on_begin(Lsn(0x2000));
  rec.on_records(*rig.users, out, false);  // no Commit: the stop was forced
  rec.on_begin(Lsn(0x3000));
  rec.on_commit(Lsn(0x3000), Lsn(0x3010));
  LedgerDelta d;
  rec.take_acknowledged(Lsn(0x9000), d);
  CHECK(d.empty());
  CHECK(rec.pending_entries() == 0);
}

namespace {
// The value of the record at `i` with tombsync.op `op` for key `key`, from the session's sink.
std::vector<std::string> values_of(const Session& s, const std::string& key, const std::string& op) {
  std::vector<std::string> out;
  for (const auto& m : s.sink.messages)
    if (m.record.key == key && m.record.value && header(m.record, "tombsync.op") == op) out.push_back(*m.record.value);
  return out;
}
bool has(const std::string& value, const std::string& part) { return value.find(part) != std::string::npos; }
}  // namespace

TEST_CASE("ledger: rows gives deletes their old row and fills unchanged values, saved or pending",
          "[stream][ledger][rows]") {
  Rig rig;
  rig.config.source.tables[0].ledger = LedgerMode::kRows;
  rig.config.source.tables[0].redact_on_delete = {"name"};
  rig.config.source.tables[0].redact_mode = RedactMode::kHash;
  Session s(rig.store, rig.config, kStart);
  s.rows = true;
  auto named = [&](Op op, Lsn commit, int64_t id, const char* name) {
    ChangeEvent e = rig.event(op, commit, id);
    e.row[1] = test::text_value(name);
    return e;
  };
  auto key_only_delete = [&](Lsn commit, int64_t id) {  // the default replica identity's old row
    ChangeEvent e = rig.event(Op::kDelete, commit, id);
    e.row[1] = Datum::absent();
    e.row[2] = Datum::absent();
    return e;
  };
  auto unchanged_name = [&](ChangeEvent e) {
    e.row[1] = Datum::unchanged();
    return e;
  };
  Rig::transaction(s, Lsn(0x2000), Lsn(0x2010),
                   {named(Op::kInsert, Lsn(0x2000), 1, "ann"), named(Op::kInsert, Lsn(0x2000), 2, "bob")});
  s.source.then([&] { s.sink.ack_all(); });
  Rig::checkpoint_now(s, Lsn(0x2010));
  s.source.then([&] { REQUIRE(rig.store.ledger_row(*s.ledger.table_id(*rig.users), kKey1).value_or("").size() > 0); });
  // Saved rows: an update with name unchanged, a key-only delete. Pending rows (this transaction):
  // an insert then its key-only delete; a key change whose new row has name unchanged.
  ChangeEvent moved = unchanged_name(rig.event(Op::kUpdate, Lsn(0x3000), 5));
  moved.key_changed = true;
  Rig::transaction(s, Lsn(0x3000), Lsn(0x3010),
                   {unchanged_name(rig.event(Op::kUpdate, Lsn(0x3000), 1)), key_only_delete(Lsn(0x3000), 2),
                    named(Op::kInsert, Lsn(0x3000), 3, "cy"), key_only_delete(Lsn(0x3000), 3),
                    key_only_delete(Lsn(0x3000), 1), moved, key_only_delete(Lsn(0x3000), 4)});
  s.source.then([&] { s.sink.ack_all(); });
  s.run();

  const std::string bob_hash = "\"name\":\"" + sha256_hex("bob") + "\"";
  auto upd1 = values_of(s, kKey1, "update");
  REQUIRE(upd1.size() == 1);
  CHECK(has(upd1[0], "\"name\":\"ann\""));  // from the saved row
  CHECK_FALSE(has(upd1[0], "__unchanged"));
  auto del2 = values_of(s, kKey2, "delete");
  REQUIRE(del2.size() == 1);
  CHECK(has(del2[0], bob_hash));        // the old row, redacted as configured
  CHECK(has(del2[0], "\"gone\":false"));
  auto del3 = values_of(s, kKey3, "delete");
  REQUIRE(del3.size() == 1);
  CHECK(has(del3[0], "\"name\":\"" + sha256_hex("cy") + "\""));  // from the pending insert
  auto upd5 = values_of(s, "{\"id\":5}", "update");
  REQUIRE(upd5.size() == 1);
  CHECK(has(upd5[0], "\"name\":\"ann\""));  // the old key's row (1's, as updated)
  CHECK_FALSE(has(upd5[0], "__unchanged"));
  auto del4 = values_of(s, "{\"id\":4}", "delete");  // a key the ledger never saw: as Postgres sent it
  REQUIRE(del4.size() == 1);
  CHECK_FALSE(has(del4[0], "\"name\""));
  CHECK(s.metrics.table("public.users")->ledger_rows_missing == 1);
  CHECK(s.metrics.table("public.users")->ledger_rows_filled >= 4);
  CHECK(rig.ledger() == std::set<std::string>{"{\"id\":5}"});
  CHECK(rig.store.ledger_row(*s.ledger.table_id(*rig.users), "{\"id\":5}").value_or("").find("ann") != std::string::npos);
}


namespace {
// A source read for RowFiller: every key it is asked for has name "SOURCE"; counts the keys.
struct NamingLookup final : RowLookup {
  std::vector<std::vector<int64_t>> asked;
  void lookup(const TableSchema&, uint32_t, const std::vector<const std::vector<Datum>*>& keys,
              std::vector<std::vector<Datum>>& out) override {
    asked.emplace_back();
    for (const auto* k : keys) {
      asked.back().push_back((*k)[0].i);
      out.push_back({(*k)[0], test::text_value("SOURCE"), test::bool_value(false)});
    }
  }
};
Record keyed(int64_t id, bool put) {
  Record r;
  r.key = "{\"id\":" + std::to_string(id) + "}";
  if (put) r.value = "{}";
  return r;
}
}  // namespace

TEST_CASE("ledger: rows while events are held: the ledger first, the source only for what it lacks",
          "[stream][ledger][rows]") {
  Rig rig;
  rig.config.source.tables[0].ledger = LedgerMode::kRows;
  NamingLookup lookup;
  Session s(rig.store, rig.config, kStart);
  s.rows = true;
  RowFiller filler(lookup, &s.metrics, [](const TableSchema&) { return true; });
  s.filler = &filler;
  auto named = [&](Op op, Lsn commit, int64_t id, const char* name) {
    ChangeEvent e = rig.event(op, commit, id);
    e.row[1] = test::text_value(name);
    return e;
  };
  auto unchanged_name = [&](Lsn commit, int64_t id) {
    ChangeEvent e = rig.event(Op::kUpdate, commit, id);
    e.row[1] = Datum::unchanged();
    return e;
  };
  Rig::transaction(s, Lsn(0x2000), Lsn(0x2010), {named(Op::kInsert, Lsn(0x2000), 1, "ann")});
  // 9 was never seen: its update is held for the source; 1's first update behind it comes from the
  // ledger (no held event changed 1); its second (1 held now) waits for the source as well.
  Rig::transaction(s, Lsn(0x3000), Lsn(0x3010),
                   {unchanged_name(Lsn(0x3000), 9), unchanged_name(Lsn(0x3000), 1), unchanged_name(Lsn(0x3000), 1)});
  s.source.then([&] { s.sink.ack_all(); });
  s.run();
  REQUIRE(lookup.asked.size() == 1);
  CHECK(lookup.asked[0] == std::vector<int64_t>{9, 1});
  auto upd1 = values_of(s, kKey1, "update");
  REQUIRE(upd1.size() == 2);
  CHECK(has(upd1[0], "\"name\":\"ann\""));     // from the ledger, as of the event
  CHECK(has(upd1[1], "\"name\":\"SOURCE\""));  // the source: the ledger could not know the held change
}

TEST_CASE("ledger: rows: a transaction a forced stop left open does not hide older unsaved rows or clears",
          "[stream][ledger][rows]") {
  Rig rig;
  rig.config.source.tables[0].ledger = LedgerMode::kRows;
  LedgerRecorder rec(rig.config, rig.store, "tombsync");
  const std::string key = kKey1;
  auto row_named = [&](const char* name) {
    return std::vector<Datum>{test::int_value(1), test::text_value(name), test::bool_value(false)};
  };
  auto name_of = [&](std::optional<std::string_view> stored) {
    std::vector<Datum> row{test::int_value(1), Datum::absent(), Datum::absent()};
    if (stored) fill_from_ledger_row(*rig.users, *stored, row);
    return row[1].present() ? row[1].text : std::string("(none)");
  };
  const auto r1 = row_named("one"), r2 = row_named("two");
  rec.on_begin(Lsn(0x2000));
  rec.on_records(*rig.users, {keyed(1, true)}, false, &r1);
  rec.on_commit(Lsn(0x2000), Lsn(0x2010));  // committed, not saved
  rec.on_begin(Lsn(0x3000));
  rec.on_records(*rig.users, {keyed(1, true)}, false, &r2);
  CHECK(name_of(rec.row_of(*rig.users, key)) == "two");
  rec.on_begin(Lsn(0x4000));  // 0x3000 never committed: dropped
  CHECK(name_of(rec.row_of(*rig.users, key)) == "one");

  rec.on_clear(*rig.users);  // 0x4000 truncates the table ...
  rec.on_commit(Lsn(0x4000), Lsn(0x4010));
  CHECK(name_of(rec.row_of(*rig.users, key)) == "(none)");
  rec.on_begin(Lsn(0x5000));
  rec.on_records(*rig.users, {keyed(1, true)}, false, &r2);
  rec.on_clear(*rig.users);
  rec.on_begin(Lsn(0x6000));  // ... and 0x5000, with a clear of its own, is dropped: 0x4000's still holds
  CHECK(name_of(rec.row_of(*rig.users, key)) == "(none)");
  LedgerDelta saved;
  rec.take_acknowledged(Lsn(0x4010), saved);
  rig.store.save_confirmed("tombsync", Lsn(0x4010), saved);
  CHECK_FALSE(rec.row_of(*rig.users, key).has_value());
}
}  // namespace
}  // namespace tombsync
