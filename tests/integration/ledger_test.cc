// The key ledger against the real services: a workload of inserts, updates,
// deletes and primary-key changes on a table that is also snapshotted, with
// the agent killed (kill -9) at random moments. After each restart, once the
// agent has confirmed everything written, the ledger (read with the hidden
// `tombsync ledger-keys`) holds exactly the keys the topic, materialised (last
// value per key, delete events and tombstones applied), holds as live, and
// those are the table's keys; `tombsync status --json` reports the same count.
#include <catch2/catch.hpp>

#include <signal.h>

#include <atomic>
#include <chrono>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "tests/integration/harness.h"

using namespace tombsync::it;

namespace {

std::string hex(const std::string& bytes) {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xf]);
  }
  return out;
}

// Random transactions on `table` (id int key, v int) until `done`; idles while `paused`.
// Each commits 1 to 4 of: an upsert, an update, a delete, a key change (id -> a free id).
void write_randomly(const std::string& table, std::atomic<bool>& paused, std::atomic<bool>& idle,
                    std::atomic<bool>& done, uint32_t seed) {
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
    if (!r.key) continue;  // a truncate event (none in this workload)
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

void kill_during_workload(int kills) {
  const std::string n = unique_name("ledger");
  const std::string table = "public." + n;
  Sql sql(ServiceEnv::get().pg_dsn);
  sql.exec("CREATE TABLE " + n + " (id int PRIMARY KEY, v int)");
  // 21,500 rows to snapshot in chunks of 100, so the first kill lands in the snapshot; the writer
  // changes ids below 3,000 only.
  sql.exec("INSERT INTO " + n + " SELECT g, 0 FROM generate_series(0, 2999, 2) g");
  sql.exec("INSERT INTO " + n + " SELECT g, 0 FROM generate_series(3000, 22999) g");
  Agent agent(AgentOptions{.name = n, .tables = {table}, .extra_yaml = "snapshot_chunk_rows: 100\n"});
  std::atomic<bool> paused{false}, idle{false}, done{false};
  std::random_device seed;
  const uint32_t s = seed();
  INFO("seed " << s);
  std::mt19937 rng(s);
  std::thread writer([&] { write_randomly(n, paused, idle, done, s); });
  struct Join {  // also when an assertion ends the test early
    std::atomic<bool>& done;
    std::thread& t;
    ~Join() {
      done = true;
      if (t.joinable()) t.join();
    }
  } join{done, writer};
  Sql super(ServiceEnv::get().pg_superuser_dsn);
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
                             << topic.size() << " live keys == table rows");
      paused = false;
    }
    if (round == kills) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200 + rng() % 1800));
    CHECK(agent.stop(SIGKILL) == 128 + SIGKILL);
  }
  done = true;
  writer.join();
  const uint64_t target = std::stoull(super.scalar("SELECT pg_current_wal_lsn() - '0/0'").value());
  REQUIRE(eventually([&] { return confirmed_flush(super, n) >= target; }, std::chrono::seconds(120)));
  CHECK(agent.stop(SIGTERM) == 0);
  // What the kills hit: restarts that found records of unconfirmed transactions in Kafka (the
  // ledger changes of those were applied without resending them), and a snapshot resumed.
  const std::string log = agent.log();
  WARN(kills << " kills: " << count_of(log, "caught up with Kafka after the restart") << " restarts found records "
             << "already in Kafka; the snapshot resumed after a kill " << count_of(log, "snapshot of " + table + " resumes") << " times");
  // After the clean stop too.
  const auto ledger = ledger_keys(agent, table);
  CHECK(ledger == materialised_live_keys(agent.topic(table)));
  CHECK(ledger == table_keys(table));
  INFO(agent.log());
}

}  // namespace

TEST_CASE("kill -9 at random moments: the ledger equals the live keys of the materialised topic",
          "[integration][ledger]") {
  kill_during_workload(5);
}

TEST_CASE("kill -9 ten times: the ledger equals the live keys of the materialised topic (long)",
          "[integration][ledger][.]") {
  kill_during_workload(10);
}
