// Initial snapshots: existing rows arrive as op=read events, consistent with
// the stream at the hand-off, resumable after a crash, and for tables added
// to the config later.
#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <random>
#include <regex>
#include <thread>

#include "tests/integration/harness.h"
#include "tests/integration/topic_state.h"

using namespace tombsync::it;
using nlohmann::json;

namespace {

// Waits until the slot confirmed everything written so far.
void wait_confirmed(const std::string& slot) {
  Sql super(ServiceEnv::get().pg_superuser_dsn);
  uint64_t target = std::stoull(super.scalar("SELECT pg_current_wal_lsn() - '0/0'").value());
  REQUIRE(eventually([&] { return confirmed_flush(super, slot) >= target; }, std::chrono::seconds(120)));
}

}  // namespace

TEST_CASE("a table snapshotted while inserts, updates and deletes run materialises to the table",
          "[integration][snapshot]") {
  const auto& env = ServiceEnv::get();
  std::string n = unique_name("snapconc");
  Sql sql(env.pg_dsn);
  sql.exec("CREATE TABLE " + n + " (id int PRIMARY KEY, v int, pad text)");
  // The size: a million rows, while a writer keeps changing them.
  const int table_rows = 1000000;
  sql.exec("INSERT INTO " + n + " SELECT g, 0, repeat('x', 100) FROM generate_series(1, " + std::to_string(table_rows) + ") g");
  Agent agent({.name = n, .tables = {"public." + n}});
  std::atomic<bool> stop_writer{false};
  std::atomic<int> writes{0};
  agent.start();
  std::thread writer([&] {
    Sql w(env.pg_dsn);
    std::mt19937 rng(42);
    int next_id = table_rows + 1;
    while (!stop_writer.load()) {
      int id = static_cast<int>(rng() % table_rows) + 1;
      switch (rng() % 3) {
        case 0: w.exec("UPDATE " + n + " SET v = v + 1 WHERE id = " + std::to_string(id)); break;
        case 1: w.exec("DELETE FROM " + n + " WHERE id = " + std::to_string(id)); break;
        default: w.exec("INSERT INTO " + n + " VALUES (" + std::to_string(next_id++) + ", 7, 'new')"); break;
      }
      ++writes;
    }
  });
  agent.wait_streaming(std::chrono::seconds(600));  // returns once the snapshot is acknowledged
  stop_writer = true;
  writer.join();
  wait_confirmed(n);
  auto rs = read_topic(agent.topic("public." + n), 0, std::chrono::seconds(60));
  auto m = materialize(rs);
  auto rows = sql.query("SELECT id, v FROM " + n);
  WARN("snapshot with " << writes.load() << " concurrent writes: " << rs.size() << " records, " << m.reads.size()
                        << " keys read by the snapshot, " << rows.size() << " rows in the table, "
                        << m.deleted.size() << " keys deleted");
  CHECK(m.live.size() == rows.size());
  size_t mismatched = 0;
  for (const auto& row : rows) {
    std::string key = json{{"id", std::stoi(row[0].value())}}.dump();
    auto it = m.live.find(key);
    if (it == m.live.end() || it->second["v"] != std::stoi(row[1].value())) ++mismatched;
  }
  CHECK(mismatched == 0);
  for (const auto& [key, v] : m.deleted) {
    CHECK(v["is_deleted"] == true);
    CHECK(v["deleted_at"].is_string());
  }
  for (const auto& [key, count] : m.reads) CHECK(count == 1);  // no key read twice
  CHECK(agent.stop(SIGTERM) == 0);
  drop_replication_objects(n);
}

TEST_CASE("an empty table, a composite key and collation-sensitive text keys snapshot completely",
          "[integration][snapshot]") {
  const auto& env = ServiceEnv::get();
  std::string n = unique_name("snapkeys");
  Sql sql(env.pg_dsn);
  sql.exec("CREATE TABLE " + n + "_empty (id int PRIMARY KEY)");
  sql.exec("CREATE TABLE " + n + "_comp (region text, seq int, PRIMARY KEY (region, seq))");
  sql.exec("INSERT INTO " + n + "_comp SELECT r, s FROM unnest(ARRAY['eu', 'us', 'apac']) r, generate_series(1, 700) s");
  sql.exec("CREATE TABLE " + n + "_text (name text COLLATE \"en-x-icu\" PRIMARY KEY)");
  sql.exec("INSERT INTO " + n + "_text SELECT unnest(ARRAY['a', 'B', 'b', 'A', 'ä', 'Ä', 'z', 'Z', 'é', 'e', 'E', "
           "'ß', 'ss', 'Straße', 'strasse', 'a b', 'a-b', 'ab', '', ' ', '0', '10', '9'])");
  sql.exec("INSERT INTO " + n + "_text SELECT 'k' || g FROM generate_series(1, 500) g");
  Agent agent({.name = n,
               .tables = {"public." + n + "_empty", "public." + n + "_comp", "public." + n + "_text"},
               .extra_yaml = "snapshot_chunk_rows: 100\n"});
  agent.start();
  agent.wait_streaming(std::chrono::seconds(120));
  CHECK(topic_end_offsets(agent.topic("public." + n + "_empty")) == 0);
  auto comp = materialize(read_topic(agent.topic("public." + n + "_comp"), 2100));
  CHECK(comp.live.size() == 2100);
  CHECK(comp.reads.size() == 2100);
  auto text = materialize(read_topic(agent.topic("public." + n + "_text"), 523));
  CHECK(text.live.size() == 523);
  for (const char* k : {"ä", "Straße", "", " ", "ß"}) CHECK(text.live.count(json{{"name", k}}.dump()) == 1);
  CHECK(agent.log().find("snapshot of public." + n + "_empty done: 0 rows") != std::string::npos);
  CHECK(agent.stop(SIGTERM) == 0);
  drop_replication_objects(n);
}

TEST_CASE("kill -9 in the middle of a snapshot: the restart continues from its last chunk",
          "[integration][snapshot]") {
  const auto& env = ServiceEnv::get();
  std::string n = unique_name("snapkill");
  const int rows = 200000, chunk = 5000;
  Sql sql(env.pg_dsn);
  sql.exec("CREATE TABLE " + n + " (id int PRIMARY KEY, pad text)");
  sql.exec("INSERT INTO " + n + " SELECT g, repeat('y', 150) FROM generate_series(1, " + std::to_string(rows) + ") g");
  AgentOptions options{.name = n, .tables = {"public." + n},
                       .extra_yaml = "snapshot_chunk_rows: " + std::to_string(chunk) + "\n"};
  Agent first(options);
  first.start();
  // Kill once about half of the rows are in Kafka.
  REQUIRE(eventually([&] { return topic_end_offsets(first.topic("public." + n)) >= rows / 2; },
                     std::chrono::seconds(180)));
  first.stop(SIGKILL);
  auto before = topic_end_offsets(first.topic("public." + n));
  options.state_dir = first.state_dir();
  Agent second(options);
  second.start();
  second.wait_streaming(std::chrono::seconds(180));
  auto rs = read_topic(second.topic("public." + n), rows);
  auto m = materialize(rs);
  size_t resent = 0;
  for (const auto& [key, count] : m.reads) resent += static_cast<size_t>(count - 1);
  std::smatch resumed;
  auto log = second.log();
  bool found = std::regex_search(log, resumed, std::regex("resumes after (\\d+) rows"));
  WARN("kill -9 mid-snapshot: " << before << " rows in Kafka at the kill, restart " <<
       (found ? "resumed after " + resumed[1].str() + " rows" : std::string("did not resume")) << ", " << resent
       << " rows sent twice (chunk size " << chunk << ")");
  CHECK(found);
  CHECK(m.live.size() == static_cast<size_t>(rows));
  // At most the chunks whose progress was not saved at the kill (Snapshotter::kMaxUnsavedChunks):
  // the ones Kafka had not acknowledged yet and the one read ahead.
  CHECK(resent <= static_cast<size_t>(3 * chunk));
  CHECK(second.stop(SIGTERM) == 0);
  drop_replication_objects(n);
}

TEST_CASE("a table added to the config is backfilled while another keeps streaming", "[integration][snapshot]") {
  const auto& env = ServiceEnv::get();
  std::string n = unique_name("backfill");
  Sql sql(env.pg_dsn);
  sql.exec("CREATE TABLE " + n + "_a (id int PRIMARY KEY, v int)");
  sql.exec("CREATE TABLE " + n + "_b (id int PRIMARY KEY, v int)");
  sql.exec("INSERT INTO " + n + "_b SELECT g, g FROM generate_series(1, 5000) g");
  AgentOptions options{.name = n, .tables = {"public." + n + "_a"}};
  Agent first(options);
  first.start();
  first.wait_streaming();
  sql.exec("INSERT INTO " + n + "_a VALUES (1, 1)");
  REQUIRE(read_topic(first.topic("public." + n + "_a"), 1).size() == 1);
  CHECK(first.stop(SIGTERM) == 0);

  options.tables.push_back("public." + n + "_b");
  options.state_dir = first.state_dir();
  options.extra_yaml = "snapshot_chunk_rows: 500\n";
  Agent second(options);
  second.start();
  std::thread writer([&] {
    Sql w(env.pg_dsn);
    for (int i = 2; i <= 200; ++i) w.exec("INSERT INTO " + n + "_a VALUES (" + std::to_string(i) + ", 1)");
  });
  second.wait_streaming(std::chrono::seconds(120));
  writer.join();
  auto a = materialize(read_topic(second.topic("public." + n + "_a"), 200));
  auto b = materialize(read_topic(second.topic("public." + n + "_b"), 5000));
  CHECK(a.live.size() == 200);
  CHECK(a.reads.empty());  // already snapshotted (empty) at its first start: not read again
  CHECK(b.live.size() == 5000);
  CHECK(b.reads.size() == 5000);
  CHECK(second.log().find("snapshot of public." + n + "_b starts") != std::string::npos);
  CHECK(second.stop(SIGTERM) == 0);
  drop_replication_objects(n);
}

TEST_CASE("snapshot: initial_only reads the tables, then exits 0", "[integration][snapshot]") {
  const auto& env = ServiceEnv::get();
  std::string n = unique_name("snaponly");
  Sql sql(env.pg_dsn);
  sql.exec("CREATE TABLE " + n + " (id int PRIMARY KEY)");
  sql.exec("INSERT INTO " + n + " SELECT generate_series(1, 1234)");
  Agent agent({.name = n, .tables = {"public." + n}, .extra_yaml = "snapshot: initial_only\n"});
  CHECK(agent.run_to_exit(std::chrono::seconds(120)) == 0);
  CHECK(materialize(read_topic(agent.topic("public." + n), 1234)).live.size() == 1234);
  drop_replication_objects(n);
}

TEST_CASE("tombsync snapshot --table reads a table again while the agent streams", "[integration][snapshot]") {
  const auto& env = ServiceEnv::get();
  std::string n = unique_name("ondemand");
  Sql sql(env.pg_dsn);
  sql.exec("CREATE TABLE " + n + " (id int PRIMARY KEY, v int)");
  sql.exec("INSERT INTO " + n + " SELECT g, 0 FROM generate_series(1, 3000) g");
  Agent agent({.name = n, .tables = {"public." + n}, .extra_yaml = "snapshot_chunk_rows: 1000\n"});
  agent.start();
  agent.wait_streaming(std::chrono::seconds(120));
  sql.exec("DELETE FROM " + n + " WHERE id > 2000");
  sql.exec("UPDATE " + n + " SET v = 1 WHERE id <= 10");
  std::string cmd = std::string(TOMBSYNC_BINARY) + " snapshot --config " + agent.config_path() + " --table public." + n +
                    " 2>&1";
  auto out = run_capture(cmd);
  CHECK(out.find("requested a snapshot of public." + n) != std::string::npos);
  REQUIRE(eventually([&] { return agent.log().find("requested: reading it again") != std::string::npos; },
                     std::chrono::seconds(30)));
  // The second snapshot is done once its "done" line appears a second time.
  auto done_lines = [&] {
    auto log = agent.log();
    size_t count = 0;
    for (size_t at = log.find("snapshot of public." + n + " done"); at != std::string::npos;
         at = log.find("snapshot of public." + n + " done", at + 1))
      ++count;
    return count;
  };
  REQUIRE(eventually([&] { return done_lines() >= 2; }, std::chrono::seconds(60)));
  auto m = materialize(read_topic(agent.topic("public." + n), 3000 + 2000));
  CHECK(m.live.size() == 2000);  // deleted rows are not resurrected by the second read
  size_t read_twice = 0;
  for (const auto& [key, count] : m.reads)
    if (count == 2) ++read_twice;
  CHECK(read_twice == 2000);
  CHECK(m.live.at(json{{"id", 5}}.dump())["v"] == 1);
  CHECK(agent.stop(SIGTERM) == 0);
}

TEST_CASE("tombsync snapshot refuses a table that is not configured", "[integration][snapshot]") {
  std::string n = unique_name("ondemandbad");
  Agent agent({.name = n, .tables = {"public." + n}});
  std::string cmd = std::string(TOMBSYNC_BINARY) + " snapshot --config " + agent.config_path() +
                    " --table public.nope 2>&1; echo \"exit=$?\"";
  auto out = run_capture(cmd);
  CHECK(out.find("is not in source.tables") != std::string::npos);
  CHECK(out.find("exit=2") != std::string::npos);
}

TEST_CASE("three tables snapshotted in parallel over at most two connections, while they stream",
          "[integration][snapshot]") {
  const auto& env = ServiceEnv::get();
  std::string n = unique_name("snappar");
  const std::vector<std::string> tables = {n + "_a", n + "_b", n + "_c"};
  const int rows = 60000;
  Sql sql(env.pg_dsn);
  for (const auto& t : tables) {
    sql.exec("CREATE TABLE " + t + " (id int PRIMARY KEY, v int, pad text)");
    sql.exec("INSERT INTO " + t + " SELECT g, 0, repeat('p', 80) FROM generate_series(1, " + std::to_string(rows) +
             ") g");
  }
  AgentOptions options{.name = n, .tables = {}, .extra_yaml = "snapshot_chunk_rows: 2000\nsnapshot_max_connections: 2\n"};
  for (const auto& t : tables) options.tables.push_back("public." + t);
  Agent agent(options);

  // Samples the snapshot connections (application_name tombsync-snapshot) of this test's database.
  std::atomic<bool> stop{false};
  std::atomic<int> most_connections{0};
  std::atomic<int> samples{0};
  std::thread sampler([&] {
    Sql super(env.pg_superuser_dsn);
    while (!stop.load()) {
      int now = std::stoi(super.scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                                       "'tombsync-snapshot'").value());
      most_connections = std::max(most_connections.load(), now);
      ++samples;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  std::atomic<int> writes{0};
  std::thread writer([&] {
    Sql w(env.pg_dsn);
    std::mt19937 rng(7);
    int next_id = rows + 1;
    while (!stop.load()) {
      const std::string& t = tables[rng() % tables.size()];
      int id = static_cast<int>(rng() % rows) + 1;
      switch (rng() % 3) {
        case 0: w.exec("UPDATE " + t + " SET v = v + 1 WHERE id = " + std::to_string(id)); break;
        case 1: w.exec("DELETE FROM " + t + " WHERE id = " + std::to_string(id)); break;
        default: w.exec("INSERT INTO " + t + " VALUES (" + std::to_string(next_id++) + ", 5, 'n')"); break;
      }
      ++writes;
    }
  });
  agent.start();
  agent.wait_streaming(std::chrono::seconds(300));  // every table's snapshot acknowledged
  stop = true;
  writer.join();
  sampler.join();
  wait_confirmed(n);

  // Per table: the topic, materialised per key, equals the table; no key read twice.
  std::map<std::string, std::pair<uint64_t, uint64_t>> read_span;  // table -> commit LSNs of its read events
  for (const auto& t : tables) {
    auto rs = read_topic(agent.topic("public." + t), 0, std::chrono::seconds(60));
    auto m = materialize(rs);
    auto expected = sql.query("SELECT id, v FROM " + t);
    CHECK(m.live.size() == expected.size());
    size_t mismatched = 0;
    for (const auto& row : expected) {
      auto it = m.live.find(json{{"id", std::stoi(row[0].value())}}.dump());
      if (it == m.live.end() || it->second["v"] != std::stoi(row[1].value())) ++mismatched;
    }
    CHECK(mismatched == 0);
    for (const auto& [key, count] : m.reads) CHECK(count == 1);
    uint64_t lo = UINT64_MAX, hi = 0;
    for (const auto& r : rs) {
      if (!r.value) continue;
      auto v = r.json();
      if (v["__op"] != "read") continue;
      auto lsn = v["__commit_lsn"].get<std::string>();
      auto slash = lsn.find('/');
      uint64_t at = (std::stoull(lsn.substr(0, slash), nullptr, 16) << 32) | std::stoull(lsn.substr(slash + 1), nullptr, 16);
      lo = std::min(lo, at);
      hi = std::max(hi, at);
    }
    read_span[t] = {lo, hi};
  }
  // Two tables were read at once: the chunks of the first two interleave in the stream.
  auto [a_lo, a_hi] = read_span[tables[0]];
  auto [b_lo, b_hi] = read_span[tables[1]];
  WARN("parallel snapshot with " << writes.load() << " concurrent writes; at most " << most_connections.load()
                                 << " snapshot connections in " << samples.load() << " samples");
  CHECK(a_lo < b_hi);
  CHECK(b_lo < a_hi);
  CHECK(most_connections.load() == 2);  // used both, never more
  CHECK(agent.stop(SIGTERM) == 0);
  drop_replication_objects(n);
}

TEST_CASE("SIGTERM in the middle of a parallel snapshot exits 0 promptly and closes the snapshot connections",
          "[integration][snapshot]") {
  const auto& env = ServiceEnv::get();
  std::string n = unique_name("snapterm");
  Sql sql(env.pg_dsn);
  for (const char* suffix : {"_a", "_b"}) {
    sql.exec("CREATE TABLE " + n + suffix + " (id int PRIMARY KEY, pad text)");
    sql.exec("INSERT INTO " + n + suffix + " SELECT g, repeat('t', 100) FROM generate_series(1, 300000) g");
  }
  Agent agent({.name = n, .tables = {"public." + n + "_a", "public." + n + "_b"},
               .extra_yaml = "snapshot_chunk_rows: 1000\n"});
  agent.start();
  REQUIRE(eventually([&] { return topic_end_offsets(agent.topic("public." + n + "_a")) >= 20000; },
                     std::chrono::seconds(120)));
  Sql super(env.pg_superuser_dsn);
  auto snapshot_connections = [&] {
    return std::stoi(super.scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                                  "'tombsync-snapshot'").value());
  };
  CHECK(snapshot_connections() == 2);
  auto t0 = std::chrono::steady_clock::now();
  CHECK(agent.stop(SIGTERM) == 0);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(15));
  CHECK(eventually([&] { return snapshot_connections() == 0; }, std::chrono::seconds(10)));
  CHECK(agent.log().find("snapshot of public." + n + "_a done") == std::string::npos);  // it was stopped mid-way
  drop_replication_objects(n);
}
