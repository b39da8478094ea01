// kill -9 during a reconciliation (docs/deletes.md "Reconciliation"), while a writer keeps
// changing rows: after each restart the reconciliation resumes with its mark; once it is done the
// materialised topic equals the table, the key ledger equals the topic's live keys, every ghost
// key (deleted while the table was out of the publication) has an inferred delete, and no key the
// table holds has one. What the kills cost is counted: ghosts whose inferred delete was written
// twice (a kill between a sweep's records reaching Kafka and its save; at least once, as
// documented), and kills that landed in the re-read or in the sweep.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "agent/snapshot/reconcile_request.h"
#include "tests/integration/harness.h"
#include "tests/integration/topic_state.h"

using namespace tombsync::it;

namespace {

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Upserts, updates and deletes of ids below 3,000 until `done` (the ghosts are above 20,000).
void write_randomly(const std::string& table, std::atomic<bool>& paused, std::atomic<bool>& idle,
                    std::atomic<bool>& done, uint32_t seed) {
  Sql sql(ServiceEnv::get().pg_dsn);
  std::mt19937 rng(seed);
  while (!done) {
    if (paused) {
      idle = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      continue;
    }
    idle = false;
    const std::string a = std::to_string(rng() % 3000);
    switch (rng() % 3) {
      case 0:
        sql.exec("INSERT INTO " + table + " VALUES (" + a + ", 0) ON CONFLICT (id) DO UPDATE SET v = " + table +
                 ".v + 1");
        break;
      case 1: sql.exec("UPDATE " + table + " SET v = v + 1 WHERE id = " + a); break;
      default: sql.exec("DELETE FROM " + table + " WHERE id = " + a);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  idle = true;
}

std::set<std::string> table_keys(const std::string& table) {
  std::set<std::string> keys;
  for (const auto& row : Sql(ServiceEnv::get().pg_dsn).query("SELECT id FROM " + table))
    keys.insert("{\"id\":" + row[0].value() + "}");
  return keys;
}

}  // namespace

TEST_CASE("kill -9 during a reconciliation, writes going on: it resumes, every ghost gets an inferred delete, "
          "no live key does",
          "[integration][reconcile]") {
  const auto test_start = std::chrono::steady_clock::now();
  const std::string n = unique_name("reckill");
  const std::string table = "public." + n;
  Sql sql(ServiceEnv::get().pg_dsn);
  Sql super(ServiceEnv::get().pg_superuser_dsn);
  sql.exec("CREATE TABLE " + n + " (id int PRIMARY KEY, v int)");
  sql.exec("INSERT INTO " + n + " SELECT g, 0 FROM generate_series(0, 59999) g");
  // Chunks of 200 rows: the re-read of 60,000 rows takes 300 chunks, long enough to be killed in.
  Agent agent(AgentOptions{.name = n, .tables = {table}, .extra_yaml = "snapshot_chunk_rows: 200\n"});
  agent.start();
  REQUIRE(eventually([&] { return agent.log().find("snapshot: every table") != std::string::npos; },
                     std::chrono::seconds(120)));
  // 1,000 ghosts: deleted while the table is out of the publication, so no delete is streamed.
  super.exec("ALTER PUBLICATION " + n + " DROP TABLE " + table);
  sql.exec("DELETE FROM " + n + " WHERE id BETWEEN 20000 AND 20999");
  super.exec("ALTER PUBLICATION " + n + " ADD TABLE " + table);
  std::set<std::string> ghosts;
  for (int id = 20000; id <= 20999; ++id) ghosts.insert("{\"id\":" + std::to_string(id) + "}");

  std::atomic<bool> paused{false}, idle{false}, done{false};
  std::random_device seed;
  const uint32_t s = seed();
  INFO("seed " << s);
  std::mt19937 rng(s);
  std::thread writer([&] { write_randomly(n, paused, idle, done, s); });
  struct Join {
    std::atomic<bool>& done;
    std::thread& t;
    ~Join() {
      done = true;
      if (t.joinable()) t.join();
    }
  } join{done, writer};

  tombsync::request_reconcile(agent.state_dir(), {.table = table, .dry_run = false, .id = "kill-test"});
  // Logged when the re-read's final progress (with the sweep's erases) is saved.
  const std::string done_line = "reconcile of " + table + " (re-read) done:";
  const std::string sweep_line = "reconcile of " + table + ": the re-read found";
  int kills = 0, in_reread = 0, in_sweep = 0;
  // Kill at a random moment of each process's part of the reconciliation, until one finishes it.
  const std::string reading = "reconcile of " + table + " (re-read) ";
  while (kills < 6) {
    REQUIRE(eventually(
        [&] {
          const std::string log = agent.log();
          return log.find(reading, log.rfind("streaming slot")) != std::string::npos;
        },
        std::chrono::seconds(60)));
    if (kills == 3) {
      // This kill lands when the sweep begins (or just after): the restart sweeps again, or finds it done.
      REQUIRE(eventually(
          [&] {
            const std::string log = agent.log();
            return log.find(sweep_line, log.rfind("streaming slot")) != std::string::npos;
          },
          std::chrono::seconds(120)));
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 400));
    }
    const std::string before = agent.log();
    const size_t last_start = before.rfind("streaming slot");
    if (kills != 3 && before.find(done_line, last_start) != std::string::npos) break;  // done before this kill
    CHECK(agent.stop(SIGKILL) == 128 + SIGKILL);
    ++kills;
    const std::string part = before.substr(last_start);
    if (part.find(sweep_line) != std::string::npos) ++in_sweep;
    else ++in_reread;
    const bool finished = agent.log().find(done_line, last_start) != std::string::npos;
    agent.start();
    REQUIRE(eventually([&] { return count_of(agent.log(), "streaming slot") >= static_cast<size_t>(kills + 1); },
                       std::chrono::seconds(60)));
    if (finished) break;  // the kill came after the final save: nothing to resume
  }
  REQUIRE(eventually([&] { return agent.log().find(done_line) != std::string::npos; }, std::chrono::seconds(180)));
  paused = true;
  REQUIRE(eventually([&] { return idle.load(); }, std::chrono::seconds(10)));
  const uint64_t target = std::stoull(super.scalar("SELECT pg_current_wal_lsn() - '0/0'").value());
  REQUIRE(eventually([&] { return confirmed_flush(super, n) >= target; }, std::chrono::seconds(120)));

  const auto m = materialize(read_topic(agent.topic(table), topic_end_offsets(agent.topic(table)),
                                        std::chrono::seconds(120)));
  const std::set<std::string> live_in_table = table_keys(table);
  std::set<std::string> live_in_topic;
  for (const auto& [k, v] : m.live) live_in_topic.insert(k);
  CHECK(live_in_topic == live_in_table);
  size_t ghosts_deleted = 0, ghosts_twice = 0, live_flagged = 0;
  for (const auto& [k, count] : m.inferred) {
    if (ghosts.count(k)) {
      ++ghosts_deleted;
      if (count > 1) ++ghosts_twice;
    } else if (live_in_table.count(k)) {
      ++live_flagged;
    }
  }
  CHECK(ghosts_deleted == ghosts.size());
  CHECK(live_flagged == 0);
  for (const auto& k : ghosts) CHECK_FALSE(live_in_topic.count(k));
  const std::string status = run_capture(std::string(TOMBSYNC_BINARY) + " status --json --config " +
                                         agent.config_path() + " || true");
  CHECK(nlohmann::json::parse(status)["tables"][0]["ledger_keys"] == live_in_table.size());
  WARN(kills << " kills (" << in_reread << " in the re-read, " << in_sweep << " after the sweep began; "
             << count_of(agent.log(), sweep_line) << " sweeps run): "
             << ghosts_deleted << " of " << ghosts.size() << " ghosts got an inferred delete, " << ghosts_twice
             << " of them twice; " << live_flagged << " live keys flagged; the topic materialises to the table's "
             << live_in_table.size() << " rows; resumed re-reads: "
             << count_of(agent.log(), "reconcile of " + table + " (re-read) resumes") << "; test "
             << std::chrono::duration<double>(std::chrono::steady_clock::now() - test_start).count() << " s");
  done = true;
  writer.join();
  CHECK(agent.stop(SIGTERM) == 0);
}

// With truncate: event a TRUNCATE leaves its keys live in the topic (the truncate event has no
// key). A TRUNCATE during a reconciliation's re-read renews the mark, so the keys stamped before it
// do not count as live: the sweep deletes every truncated key, and the topic ends equal to the table.
TEST_CASE("a TRUNCATE during a reconciliation's re-read: the truncated keys stamped before it are swept",
          "[integration][reconcile][truncate]") {
  const std::string n = unique_name("rectrunc");
  const std::string table = "public." + n;
  Sql sql(ServiceEnv::get().pg_dsn);
  sql.exec("CREATE TABLE " + n + " (id int PRIMARY KEY, v int)");
  sql.exec("INSERT INTO " + n + " SELECT g, 0 FROM generate_series(0, 29999) g");
  Agent agent(AgentOptions{.name = n,
                           .extra_yaml = "snapshot_chunk_rows: 200\n",
                           .table_yaml = "    - { name: " + table + ", truncate: event }\n"});
  agent.start();
  REQUIRE(eventually([&] { return agent.log().find("snapshot: every table") != std::string::npos; },
                     std::chrono::seconds(120)));
  tombsync::request_reconcile(agent.state_dir(), {.table = table, .dry_run = false, .id = "truncate-test"});
  // Into the re-read: some chunks are read and stamped, then the TRUNCATE and 100 new rows.
  REQUIRE(eventually([&] { return agent.log().find("reconcile of " + table + " (re-read) starts") != std::string::npos; },
                     std::chrono::seconds(30)));
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  sql.exec("BEGIN; TRUNCATE " + n + "; INSERT INTO " + n + " SELECT g, 1 FROM generate_series(100000, 100099) g; COMMIT;");
  REQUIRE(eventually([&] { return agent.log().find("reconcile of " + table + " (re-read) done:") != std::string::npos; },
                     std::chrono::seconds(120)));
  const std::string log = agent.log();
  const bool renewed = log.find("TRUNCATE during the re-read") != std::string::npos;
  Sql super(ServiceEnv::get().pg_superuser_dsn);
  const uint64_t target = std::stoull(super.scalar("SELECT pg_current_wal_lsn() - '0/0'").value());
  REQUIRE(eventually([&] { return confirmed_flush(super, n) >= target; }, std::chrono::seconds(60)));
  const auto m = materialize(read_topic(agent.topic(table), topic_end_offsets(agent.topic(table)),
                                        std::chrono::seconds(60)));
  std::set<std::string> live;
  for (const auto& [k, v] : m.live) live.insert(k);
  CHECK(live == table_keys(table));
  size_t old_swept = 0, new_flagged = 0, twice = 0;
  for (const auto& [k, count] : m.inferred) {
    const int id = nlohmann::json::parse(k)["id"].get<int>();
    if (id >= 100000) ++new_flagged;
    else ++old_swept;
    if (count > 1) ++twice;
  }
  CHECK(old_swept == 30000);
  CHECK(new_flagged == 0);
  CHECK(twice == 0);
  WARN("TRUNCATE during the re-read (mark renewed: " << (renewed ? "yes" : "no, the re-read was done first")
                                                     << "): " << old_swept << " of 30,000 truncated keys swept, "
                                                     << new_flagged << " of the 100 new rows flagged; topic == table ("
                                                     << live.size() << " rows)");
  CHECK(agent.stop(SIGTERM) == 0);
}
