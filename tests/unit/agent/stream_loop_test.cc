// The streaming loop, its acknowledgement tracking and the checkpointer, run
// against in-memory fakes (stream_fakes.h): which positions reach the cursor
// store and Postgres when Kafka acknowledges out of order, when a produce
// fails, when a stop comes mid-transaction (orderly and forced), on
// keepalives, and on a restart whose partitions already hold records. The
// real services prove the whole in tests/integration.
#include "agent/stream/stream_loop.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "agent/config/config.h"
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

std::string temp_state_dir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "tombsync-loop-XXXXXX").string();
  REQUIRE(mkdtemp(tmpl.data()) != nullptr);
  return tmpl;
}

// One session's parts, wired as run_pipeline wires them, with fakes for the outside systems.
// The status interval is long, so positions are confirmed only where the loop is asked to
// (a keepalive that wants a reply, a blocked send once due, the stop, the error path), and every
// test checks the contract that no status update reports a position not yet saved.
struct Rig {
  explicit Rig(std::chrono::milliseconds status_interval = std::chrono::hours(1))
      : checkpointer{store, "tombsync", source, tracker, kStart, status_interval} {
    source.on_status = [this](Lsn l) {
      if (l > kStart && stored() < l) status_before_save = true;
    };
  }

  std::string state_dir = temp_state_dir();
  Config config = parse_config("source:\n  dsn: \"host=db dbname=app user=tombsync\"\n  tables: [public.users]\n"
                               "kafka:\n  brokers: kafka:9092\n  topic_prefix: app\nsnapshot: never\n"
                               "state_dir: " + state_dir + "\n",
                               "test");
  std::shared_ptr<const TableSchema> users =
      test::make_table("public", "users", {{"id", ColumnType::kInt32, "int4", true}, {"name", ColumnType::kText, "text"}});
  FakeChangeSource source;
  FakeRecordSink sink;
  MemoryCursorStore store;
  Metrics metrics{config};
  std::unique_ptr<Encoder> encoder = make_encoder(Format::kJson, EncoderContext{});
  RecordBuilder records{config, *encoder, "7301/app/tombsync"};
  AckTracker tracker{kStart};
  Checkpointer checkpointer;
  StreamGauges gauges{metrics, "tombsync", int64_t{1} << 30};
  std::vector<pg::ResolvedTable> tables;  // the snapshot window keeps a reference
  std::unordered_map<uint32_t, std::string> type_names;
  SnapshotWindow snapshot{config, store, tables, type_names, gauges};
  RedeliveryFilter redelivered;
  std::atomic<bool> stopping{false};
  bool status_before_save = false;

  ~Rig() {
    CHECK_FALSE(status_before_save);  // save (synced) before the flush LSN goes to Postgres
    std::filesystem::remove_all(state_dir);
  }

  void run(Lsn start = kStart) {
    StreamLoop loop({source, sink, records, tracker, checkpointer, redelivered, snapshot, gauges, metrics}, start,
                    stopping);
    loop.run();
  }
  void stop_when_done() {
    source.on_empty = [this] { stopping = true; };
  }

  void begin(Lsn commit) {
    SourceStep s;
    s.step.begin = pg::TxnBegin{commit, 731, UnixMicros{test::kCommitTs}};
    s.wal_end = commit;
    source.push(std::move(s));
  }
  void insert(Lsn commit, int64_t id) {
    SourceStep s;
    ChangeEvent e = test::make_event(Op::kInsert, users, {test::int_value(id), test::text_value("n")});
    e.source.commit_lsn = commit;
    e.source.lsn = Lsn(commit.value() - 0x10);
    s.events.push_back(std::move(e));
    s.wal_end = commit;
    source.push(std::move(s));
  }
  void truncate(Lsn commit) {
    SourceStep s;
    ChangeEvent e = test::make_event(Op::kTruncate, users, {});
    e.source.commit_lsn = commit;
    e.source.lsn = Lsn(commit.value() - 0x8);
    s.events.push_back(std::move(e));
    s.wal_end = commit;
    source.push(std::move(s));
  }
  void commit(Lsn commit, Lsn end) {
    SourceStep s;
    s.step.commit = pg::TxnCommit{commit, end};
    s.wal_end = end;
    source.push(std::move(s));
  }
  void transaction(Lsn commit_lsn, Lsn end, std::initializer_list<int64_t> ids) {
    begin(commit_lsn);
    for (auto id : ids) insert(commit_lsn, id);
    commit(commit_lsn, end);
  }
  void keepalive(Lsn wal_end, bool reply) {
    SourceStep s;
    s.kind = SourceStep::Kind::kKeepalive;
    s.wal_end = wal_end;
    s.reply_requested = reply;
    source.push(std::move(s));
  }
  Lsn stored() { return store.confirmed.count("tombsync") ? store.confirmed["tombsync"] : Lsn(); }
  Lsn last_status() {
    REQUIRE(!source.statuses.empty());
    return source.statuses.back();
  }
  // A keepalive that asks for a reply: the loop confirms what it may, now.
  void checkpoint_now(Lsn wal_end) { keepalive(wal_end, true); }
  uint64_t users_records() { return metrics.table("public.users")->records.load(); }
};

TEST_CASE("out-of-order acknowledgements confirm only a fully acknowledged prefix", "[stream][loop]") {
  Rig rig;
  rig.sink.flush_acks_all = false;
  rig.transaction(Lsn(0x2000), Lsn(0x2010), {1, 2});  // messages 0, 1
  rig.transaction(Lsn(0x3000), Lsn(0x3010), {3});     // message 2
  Lsn seen_after_second{}, seen_after_first_half{};
  rig.source.then([&] { rig.sink.ack(2); });  // the later transaction first
  rig.checkpoint_now(Lsn(0x3010));
  rig.source.then([&] { seen_after_second = rig.last_status(); });
  rig.source.then([&] { rig.sink.ack(0); });
  rig.checkpoint_now(Lsn(0x3010));
  rig.source.then([&] { seen_after_first_half = rig.last_status(); });
  rig.source.then([&] { rig.sink.ack(1); });
  rig.checkpoint_now(Lsn(0x3010));
  rig.stop_when_done();
  rig.run();

  CHECK(seen_after_second == kStart);       // 0x2000 still has two messages out
  CHECK(seen_after_first_half == kStart);   // and then one
  CHECK(rig.stored() == Lsn(0x3010));       // both done: the later end LSN, at once
  REQUIRE(!rig.source.statuses.empty());
  CHECK(rig.last_status() == Lsn(0x3010));
  for (size_t i = 1; i < rig.source.statuses.size(); ++i)
    CHECK(rig.source.statuses[i - 1] <= rig.source.statuses[i]);  // never backwards
  for (Lsn l : rig.source.statuses) CHECK((l == kStart || l == Lsn(0x3010)));  // never 0x2010 alone
  CHECK(rig.source.finished);
  CHECK(rig.users_records() == 3);
}

TEST_CASE("a failed produce ends the session and saves only what Kafka acknowledged", "[stream][loop]") {
  Rig rig;
  rig.sink.flush_acks_all = false;
  rig.transaction(Lsn(0x2000), Lsn(0x2010), {1, 2});
  rig.source.then([&] { rig.sink.ack_all(); });
  rig.begin(Lsn(0x3000));
  rig.insert(Lsn(0x3000), 3);
  rig.insert(Lsn(0x3000), 4);  // its send fails
  rig.sink.fail_at_send = 3;
  rig.commit(Lsn(0x3000), Lsn(0x3010));

  REQUIRE_THROWS_AS(rig.run(), Error);
  CHECK(rig.stored() == Lsn(0x2010));  // saved on the error path
  for (Lsn l : rig.source.statuses) CHECK(l < Lsn(0x3000));
  CHECK_FALSE(rig.source.finished);
}

TEST_CASE("a stop mid-transaction finishes that transaction and reads no further", "[stream][loop]") {
  Rig rig;
  rig.begin(Lsn(0x2000));
  rig.insert(Lsn(0x2000), 1);
  rig.source.then([&] { rig.stopping = true; });
  rig.insert(Lsn(0x2000), 2);
  rig.commit(Lsn(0x2000), Lsn(0x2010));
  rig.transaction(Lsn(0x3000), Lsn(0x3010), {3});

  rig.run();
  CHECK(rig.sink.sent == 2);                 // both records of the open transaction
  CHECK(rig.source.remaining() == 3);        // the next transaction (begin, insert, commit) unread
  CHECK(rig.stored() == Lsn(0x2010));         // drained and confirmed on the way out
  CHECK(rig.last_status() == Lsn(0x2010));
  CHECK(rig.source.finished);
}

TEST_CASE("a record cut short by a forced stop: nothing after it is written, none of it confirmed",
          "[stream][loop]") {
  Rig rig;
  rig.sink.partition_count = 3;
  rig.sink.short_at_send = 1;  // the truncate (one copy per partition) gets 2 of its 3 copies through
  rig.begin(Lsn(0x2000));
  rig.insert(Lsn(0x2000), 1);
  rig.truncate(Lsn(0x2000));
  rig.insert(Lsn(0x2000), 2);  // the sink would take it: it must not be offered
  rig.commit(Lsn(0x2000), Lsn(0x2010));
  rig.stop_when_done();

  rig.run();
  REQUIRE(rig.sink.messages.size() == 3);  // the insert, and the truncate's two copies
  for (const auto& m : rig.sink.messages) CHECK(m.record.seq <= 1);
  CHECK(rig.sink.sent == 2);
  for (const auto& m : rig.sink.messages) CHECK(m.delivered);  // Kafka acknowledged all it got...
  CHECK(rig.stored() == Lsn());                                 // ...and still nothing is confirmed
  for (Lsn l : rig.source.statuses) CHECK(l == kStart);
}

TEST_CASE("a forced stop leaves the transaction in hand unread", "[stream][loop]") {
  Rig rig;
  rig.begin(Lsn(0x2000));
  rig.insert(Lsn(0x2000), 1);
  rig.source.then([&] {
    rig.stopping = true;
    rig.sink.interrupt();  // the grace period ran out with Kafka unreachable
  });
  rig.insert(Lsn(0x2000), 2);
  rig.commit(Lsn(0x2000), Lsn(0x2010));

  rig.run();
  CHECK(rig.source.remaining() == 2);  // not read on: the stop was forced
  CHECK(rig.sink.messages.size() == 1);
  CHECK(rig.stored() == Lsn());
  for (Lsn l : rig.source.statuses) CHECK(l == kStart);
}

TEST_CASE("a keepalive confirms the server's position only while nothing is in flight", "[stream][loop]") {
  Rig rig;
  rig.sink.flush_acks_all = false;
  rig.keepalive(Lsn(0x5000), true);
  Lsn idle_confirmed{};
  rig.source.then([&] { idle_confirmed = rig.last_status(); });
  rig.transaction(Lsn(0x6000), Lsn(0x6010), {1});  // not acknowledged yet
  rig.keepalive(Lsn(0x7000), true);
  Lsn busy_confirmed{};
  rig.source.then([&] { busy_confirmed = rig.last_status(); });
  rig.source.then([&] { rig.sink.ack_all(); });
  rig.stop_when_done();
  rig.run();

  CHECK(idle_confirmed == Lsn(0x5000));  // an idle publication does not pin WAL
  CHECK(busy_confirmed == Lsn(0x5000));  // not past a transaction Kafka has not acknowledged
  CHECK(rig.stored() == Lsn(0x6010));
}

TEST_CASE("a restart skips what Kafka holds past the cursor and writes the rest", "[stream][loop]") {
  Rig rig;
  // The earlier session wrote records 0 and 1 of 0x3000 to the only partition, then died.
  rig.redelivered.add_tail("app.public.users", KafkaPartition(0), StreamPosition{Lsn(0x3000), 1});
  rig.transaction(Lsn(0x0800), Lsn(0x0810), {9});        // before the start: delivered long ago
  rig.transaction(Lsn(0x3000), Lsn(0x3010), {1, 2, 3});  // seq 0, 1 in Kafka; 2 not
  rig.transaction(Lsn(0x4000), Lsn(0x4010), {4});
  rig.stop_when_done();
  rig.run();

  REQUIRE(rig.sink.messages.size() == 2);
  CHECK(rig.sink.messages[0].record.commit_lsn == Lsn(0x3000));
  CHECK(rig.sink.messages[0].record.seq == 2);
  CHECK(rig.sink.messages[1].record.commit_lsn == Lsn(0x4000));
  CHECK_FALSE(rig.redelivered.active());  // past every tail: off
  CHECK(rig.stored() == Lsn(0x4010));
  auto* t = rig.metrics.table("public.users");
  CHECK(t->redelivered == 2);
  CHECK(t->records == 2);
  CHECK(t->events[static_cast<size_t>(Op::kInsert)] == 2);  // the log's totals read the same counters
}

TEST_CASE("a keepalive inside a transaction the start position skips confirms nothing", "[stream][loop]") {
  Rig rig;
  rig.begin(Lsn(0x0800));  // committed before the start: delivered by an earlier session
  rig.keepalive(Lsn(0x5000), true);
  Lsn during{};
  rig.source.then([&] { during = rig.last_status(); });
  rig.insert(Lsn(0x0800), 1);
  rig.commit(Lsn(0x0800), Lsn(0x0810));
  rig.stop_when_done();
  rig.run();

  CHECK(during == kStart);  // the keepalive's position is not the stream's while a transaction is open
  CHECK(rig.sink.messages.empty());
}

TEST_CASE("while a full queue blocks a send, status updates still go out once due", "[stream][loop]") {
  Rig rig(std::chrono::milliseconds(0));  // due at every look
  rig.sink.block_at_send = 1;
  size_t before = 0, during = 0;
  rig.sink.before_block = [&] { before = rig.source.statuses.size(); };
  rig.sink.after_block = [&] { during = rig.source.statuses.size() - before; };
  rig.transaction(Lsn(0x2000), Lsn(0x2010), {1, 2});
  rig.stop_when_done();
  rig.run();

  CHECK(during > 0);  // answered the walsender from inside the blocked send
  CHECK(rig.stored() == Lsn(0x2010));
}

TEST_CASE("an acknowledgement for no pending transaction stops the session and saves nothing", "[stream][loop]") {
  Rig rig;
  rig.transaction(Lsn(0x2000), Lsn(0x2010), {1});
  rig.source.then([&] {
    rig.sink.ack_all();
    rig.sink.deliver_unknown(Lsn(0x9999));
  });
  rig.transaction(Lsn(0x3000), Lsn(0x3010), {2});
  rig.stop_when_done();  // a loop that ignored the report would end here, and fail below

  try {
    rig.run();
    FAIL("the loop went on after a delivery report it cannot place");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kInternal);
    CHECK(std::string(e.what()).find("0/9999") != std::string::npos);
  }
  CHECK(rig.store.saves == 0);  // the tracker's bookkeeping failed: trust nothing it says
}

}  // namespace
}  // namespace tombsync
