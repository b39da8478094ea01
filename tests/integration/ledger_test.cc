// The key ledger against the real services: a workload of inserts, updates,
// deletes, primary-key changes and TRUNCATEs (expanded: a delete per key the
// ledger holds, docs/deletes.md) on a table that is also snapshotted, with the
// agent killed (kill -9) at random moments, some of them during or right after
// an expansion. After each restart, once the agent has confirmed everything
// written, the ledger (read with the hidden `tombsync ledger-keys`) holds
// exactly the keys the topic, materialised (last value per key, delete events
// and tombstones applied), holds as live, and those are the table's keys;
// `tombsync status --json` reports the same count.
#include <catch2/catch.hpp>

#include <signal.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/hex.h"
#include "tests/integration/harness.h"

using namespace tombsync::it;

namespace {

std::string hex(const std::string& bytes) { return tombsync::to_hex(bytes); }

// A TRUNCATE of `table` in one of three transactions: alone; after and before a few changes; or
// followed by a refill of 1,000 rows (so that the next expansion has keys to delete).
std::string truncate_transaction(const std::string& table, std::mt19937& rng) {
  auto id = [&] { return std::to_string(rng() % 3000); };
  switch (rng() % 3) {
    case 0: return "BEGIN; TRUNCATE " + table + "; COMMIT;";
    case 1:
      return "BEGIN; INSERT INTO " + table + " VALUES (" + id() + ", 0) ON CONFLICT (id) DO NOTHING; DELETE FROM " +
             table + " WHERE id = " + id() + "; TRUNCATE " + table + "; INSERT INTO " + table + " VALUES (" + id() +
             ", 1) ON CONFLICT (id) DO NOTHING; COMMIT;";
    default:
      return "BEGIN; TRUNCATE " + table + "; INSERT INTO " + table + " SELECT g, 2 FROM generate_series(" +
             std::to_string(rng() % 3) + ", 2999, 3) g; COMMIT;";
  }
}

// Random transactions on `table` (id int key, v int) until `done`; idles while `paused`.
// Each commits 1 to 4 of: an upsert, an update, a delete, a key change (id -> a free id). While
// `truncates_done` is below `truncates_asked`, the next transaction is a TRUNCATE instead
// (truncate_transaction), counted in `truncates_done` once committed.
void write_randomly(const std::string& table, std::atomic<bool>& paused, std::atomic<bool>& idle,
                    std::atomic<bool>& done, std::atomic<int>& truncates_asked, std::atomic<int>& truncates_done,
                    uint32_t seed) {
  Sql sql(ServiceEnv::get().pg_dsn);
  std::mt19937 rng(seed);
  auto id = [&] { return std::to_string(rng() % 3000); };
  while (!done) {
    if (paused) {
      idle = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      continue;
    }
    idle = false;
    if (truncates_done < truncates_asked) {
      sql.exec(truncate_transaction(table, rng));
      ++truncates_done;
      continue;
    }
    std::string stmt = "BEGIN;";
    const int n = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < n; ++i) {
      const std::string a = id(), b = id();
      switch (rng() % 4) {
        case 0:
          stmt += " INSERT INTO " + table + " VALUES (" + a + ", 0) ON CONFLICT (id) DO UPDATE SET v = " + table +
                  ".v + 1;";
          break;
        case 1: stmt += " UPDATE " + table + " SET v = v + 1 WHERE id = " + a + ";"; break;
        case 2: stmt += " DELETE FROM " + table + " WHERE id = " + a + ";"; break;
        default:
          stmt += " UPDATE " + table + " SET id = " + b + " WHERE id = " + a + " AND NOT EXISTS (SELECT 1 FROM " +
                  table + " WHERE id = " + b + ");";
      }
    }
    sql.exec(stmt + " COMMIT;");
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  idle = true;
}

// The keys (hex) the topic holds as live: last record per key, a tombstone or a delete event
// (is_deleted) removes it.
std::set<std::string> materialised_live_keys(const std::string& topic) {
  const uint64_t n = topic_end_offsets(topic);
  auto records = read_topic(topic, n, std::chrono::seconds(120));
  REQUIRE(records.size() >= n);
  std::set<std::string> live;
  for (const auto& r : records) {
    if (!r.key) continue;  // a truncate event: its keys' deletes follow it
    const bool gone = !r.value || r.json().value("is_deleted", false);
    if (gone)
      live.erase(hex(*r.key));
    else
      live.insert(hex(*r.key));
  }
  return live;
}

std::set<std::string> ledger_keys(const Agent& agent, const std::string& table) {
  const std::string out = run_capture(std::string(TOMBSYNC_BINARY) + " ledger-keys --config " + agent.config_path() +
                                      " --table " + table);
  std::set<std::string> keys;
  size_t at = 0;
  while (at < out.size()) {
    size_t nl = out.find('\n', at);
    keys.insert(out.substr(at, nl - at));
    at = nl + 1;
  }
  return keys;
}

std::set<std::string> table_keys(const std::string& table) {
  std::set<std::string> keys;
  for (const auto& row : Sql(ServiceEnv::get().pg_dsn).query("SELECT id FROM " + table))
    keys.insert(hex("{\"id\":" + row[0].value() + "}"));
  return keys;
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// What the kills hit, from the agent's log: each process's part starts with "tombsync ...
// starting". A part with an expansion's start line and no "... deletes in" after it was killed during the
// expansion; an expansion whose LSN an earlier part expanded already was made again after a
// restart (its transaction was not confirmed).
struct KillsHit {
  size_t expansions = 0, killed_during = 0, redone = 0;
};
KillsHit kills_hit(const std::string& log, const std::string& table) {
  KillsHit hit;
  std::set<std::string> lsns;
  const std::string start_line = "TRUNCATE of " + table + " at LSN ";
  std::vector<size_t> starts;
  for (size_t at = log.find(" starting (config "); at != std::string::npos; at = log.find(" starting (config ", at + 1))
    starts.push_back(at);
  starts.push_back(log.size());
  for (size_t p = 0; p + 1 < starts.size(); ++p) {
    const std::string part = log.substr(starts[p], starts[p + 1] - starts[p]);
    std::set<std::string> here;
    size_t last_start = std::string::npos;
    for (size_t at = part.find(start_line); at != std::string::npos; at = part.find(start_line, at + 1)) {
      const size_t lsn_at = at + start_line.size();
      const size_t colon = part.find(':', lsn_at);
      if (part.compare(colon, 11, ": deleting ") != 0) continue;  // a progress or final line
      ++hit.expansions;
      last_start = at;
      const std::string lsn = part.substr(lsn_at, colon - lsn_at);
      if (lsns.count(lsn)) ++hit.redone;
      here.insert(lsn);
    }
    if (last_start != std::string::npos && part.find(" deletes in ", last_start) == std::string::npos &&
        p + 2 < starts.size())
      ++hit.killed_during;
    lsns.insert(here.begin(), here.end());
  }
  return hit;
}

// Waits, polling every 2 ms, until the file at `path` has `needle` past `offset` (the agent's log
// as it grows); FAILs after `timeout`.
void wait_in_log(const std::filesystem::path& path, uintmax_t offset, const std::string& needle,
                 std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string tail;
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream f(path, std::ios::binary);
    f.seekg(static_cast<std::streamoff>(offset));
    tail.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    if (tail.find(needle) != std::string::npos) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  FAIL("no \"" << needle << "\" in " << path << " within " << timeout.count() << " ms");
}

void kill_during_workload(int kills) {
  const auto test_start = std::chrono::steady_clock::now();
  const std::string n = unique_name("ledger");
  const std::string table = "public." + n;
  Sql sql(ServiceEnv::get().pg_dsn);
  sql.exec("CREATE TABLE " + n + " (id int PRIMARY KEY, v int)");
  // 21,500 rows to snapshot in chunks of 100, so the first kill lands in the snapshot; the writer
  // changes ids below 3,000 only, so the first TRUNCATE expands about 21,500 keys.
  sql.exec("INSERT INTO " + n + " SELECT g, 0 FROM generate_series(0, 2999, 2) g");
  sql.exec("INSERT INTO " + n + " SELECT g, 0 FROM generate_series(3000, 22999) g");
  Agent agent(AgentOptions{.name = n, .tables = {table}, .extra_yaml = "snapshot_chunk_rows: 100\n"});
  // The harness writes the agent's output next to its config.
  const auto log_path = std::filesystem::path(agent.config_path()).parent_path() / "agent.log";
  std::atomic<bool> paused{false}, idle{false}, done{false};
  std::atomic<int> truncates_asked{0}, truncates_done{0};
  std::random_device seed;
  const uint32_t s = seed();
  INFO("seed " << s);
  std::mt19937 rng(s);
  std::thread writer([&] { write_randomly(n, paused, idle, done, truncates_asked, truncates_done, s); });
  struct Join {  // also when an assertion ends the test early
    std::atomic<bool>& done;
    std::thread& t;
    ~Join() {
      done = true;
      if (t.joinable()) t.join();
    }
  } join{done, writer};
  Sql super(ServiceEnv::get().pg_superuser_dsn);
  auto sleep_ms = [](unsigned ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); };
  size_t starts = 0;
  for (int round = 0; round <= kills; ++round) {
    agent.start();
    ++starts;
    REQUIRE(eventually([&] { return count_of(agent.log(), "streaming slot") >= starts; }, std::chrono::seconds(60)));
    if (round > 0) {
      // The snapshot is done (a kill may have interrupted it) before the stream is compared.
      REQUIRE(eventually(
          [&] {
            const std::string log = agent.log();
            return log.find("snapshot: every table", log.rfind("streaming slot")) != std::string::npos;
          },
          std::chrono::seconds(120)));
      // After the restart: stop writing, let the agent confirm everything, then compare.
      paused = true;
      REQUIRE(eventually([&] { return idle.load(); }, std::chrono::seconds(10)));
      const uint64_t target = std::stoull(super.scalar("SELECT pg_current_wal_lsn() - '0/0'").value());
      REQUIRE(eventually([&] { return confirmed_flush(super, n) >= target; }, std::chrono::seconds(120)));
      const auto ledger = ledger_keys(agent, table);
      const auto topic = materialised_live_keys(agent.topic(table));
      INFO("round " << round << ": ledger " << ledger.size() << " keys, topic " << topic.size() << " live keys");
      CHECK(ledger == topic);
      CHECK(topic == table_keys(table));
      auto status = nlohmann::json::parse(
          run_capture(std::string(TOMBSYNC_BINARY) + " status --json --config " + agent.config_path() + " || true"));
      CHECK(status["tables"][0]["ledger_keys"] == ledger.size());
      WARN("after kill -9 #" << round << ": ledger " << ledger.size() << " keys == materialised topic "
                             << topic.size() << " live keys == table rows (" << truncates_done << " TRUNCATEs so far)");
      paused = false;
    }
    if (round == kills) break;
    if (round == 0) {
      sleep_ms(200 + rng() % 1800);  // into the snapshot
    } else if (round % 2 == 1) {
      // A TRUNCATE, then the kill within 20 ms of its expansion's start line: during it or right
      // after. The first one has the snapshot's ~21,500 keys to delete; before the later ones
      // 6,000 rows the writer does not touch are inserted, so that each expansion takes a while.
      if (round > 1)
        sql.exec("INSERT INTO " + n + " SELECT g, 3 FROM generate_series(3000, 8999) g ON CONFLICT (id) DO NOTHING");
      const auto log_size = std::filesystem::file_size(log_path);
      ++truncates_asked;
      wait_in_log(log_path, log_size, "keys the key ledger holds", std::chrono::seconds(30));
      sleep_ms(rng() % 20);
    } else {
      // A TRUNCATE at a random moment among the other writes.
      sleep_ms(100 + rng() % 900);
      ++truncates_asked;
      sleep_ms(100 + rng() % 900);
    }
    CHECK(agent.stop(SIGKILL) == 128 + SIGKILL);
  }
  done = true;
  writer.join();
  const uint64_t target = std::stoull(super.scalar("SELECT pg_current_wal_lsn() - '0/0'").value());
  REQUIRE(eventually([&] { return confirmed_flush(super, n) >= target; }, std::chrono::seconds(120)));
  CHECK(agent.stop(SIGTERM) == 0);
  // What the kills hit: restarts that found records of unconfirmed transactions in Kafka (the
  // ledger changes of those were applied without resending them), a snapshot resumed, and the
  // expansions.
  const std::string log = agent.log();
  const KillsHit hit = kills_hit(log, table);
  WARN(kills << " kills: " << count_of(log, "caught up with Kafka after the restart") << " restarts found records "
             << "already in Kafka; the snapshot resumed after a kill " << count_of(log, "snapshot of " + table + " resumes")
             << " times; " << truncates_done << " TRUNCATEs, " << hit.expansions << " expansions logged, "
             << hit.killed_during << " kills during an expansion, " << hit.redone
             << " expansions made again after a restart; test "
             << std::chrono::duration<double>(std::chrono::steady_clock::now() - test_start).count() << " s");
  CHECK(truncates_done >= kills / 2);
  // After the clean stop too.
  const auto ledger = ledger_keys(agent, table);
  CHECK(ledger == materialised_live_keys(agent.topic(table)));
  CHECK(ledger == table_keys(table));
  INFO(agent.log());
}

}  // namespace

TEST_CASE("kill -9 ten times at random moments, TRUNCATEs among the writes: the ledger equals the live keys of the materialised topic",
          "[integration][ledger]") {
  kill_during_workload(10);
}

TEST_CASE("kill -9 25 times: the ledger equals the live keys of the materialised topic (long)",
          "[integration][ledger][.]") {
  kill_during_workload(25);
}
