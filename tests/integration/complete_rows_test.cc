// Complete rows (docs/event-format.md, "Unchanged TOAST columns"): the new key of a primary-key
// change carries every column even when Postgres sent a large value as unchanged and the old image
// is the key only (default replica identity): the agent reads it from the source by key after the
// commit (RowFiller, one query per transaction). Against the real services: a random workload of
// inserts, updates of v only, key changes and deletes on a table whose body (5-20 kB) is stored
// out of line (STORAGE EXTERNAL); the topic, materialised as a consumer does (last value per key,
// deletes applied, a column in __unchanged keeps the key's previous value), equals the table
// column by column with no column missing. Once with defaults, once with kill -9 restarts.
#include <catch2/catch.hpp>

#include <signal.h>

#include <atomic>
#include <chrono>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/harness.h"
#include "tests/integration/http_client.h"
#include "tests/integration/topic_state.h"

using namespace tombsync::it;
using std::chrono::seconds;

namespace {

struct Row {
  long long v = 0;
  std::string body;
};

// The workload's own record of what it did.
struct Workload {
  int transactions = 0, inserts = 0, updates = 0, key_changes = 0, deletes = 0;
};

// One random transaction of 1-6 changes (40% inserts, 25% updates of v, 22% key changes, 13% deletes); `live` is the table's ids (this writer is the only one).
void random_transaction(Sql& sql, const std::string& n, std::mt19937& rng, std::vector<long long>& live,
                        long long& next_id, Workload& w) {
  std::string txn = "BEGIN;";
  const int changes = 1 + static_cast<int>(rng() % 6);
  for (int c = 0; c < changes; ++c) {
    const unsigned pick = rng() % 100;
    if (live.empty() || pick < 40) {
      std::string body(5000 + rng() % 15001, 'a');
      for (auto& ch : body) ch = static_cast<char>('a' + rng() % 26);
      const long long id = next_id++;
      txn += "INSERT INTO " + n + " VALUES (" + std::to_string(id) + ", 0, '" + body + "');";
      live.push_back(id);
      ++w.inserts;
      continue;
    }
    const size_t at = rng() % live.size();
    const long long id = live[at];
    if (pick < 65) {
      txn += "UPDATE " + n + " SET v = v + 1 WHERE id = " + std::to_string(id) + ";";  // body: unchanged TOAST
      ++w.updates;
    } else if (pick < 87) {
      const long long to = next_id++;
      txn += "UPDATE " + n + " SET id = " + std::to_string(to) + " WHERE id = " + std::to_string(id) + ";";
      live[at] = to;
      ++w.key_changes;
    } else {
      txn += "DELETE FROM " + n + " WHERE id = " + std::to_string(id) + ";";
      live.erase(live.begin() + static_cast<long>(at));
      ++w.deletes;
    }
  }
  sql.exec(txn + "COMMIT;");
  ++w.transactions;
}

struct Materialised {
  std::map<long long, Row> live;
  std::map<long long, std::set<std::string>> missing;  // live ids with a column no record gave
  int filled = 0;      // records of a key not live before (a new key) whose body came with them
  int new_key_updates = 0;
  int delete_events = 0, deletes_with_row = 0;  // delete events, and those carrying v and body
};

// As a consumer that keeps the previous value of a column listed in __unchanged.
Materialised materialise(const std::vector<KafkaRecord>& records) {
  Materialised m;
  for (const auto& r : records) {
    if (!r.key) continue;
    const long long id = r.key_json()["id"].get<long long>();
    if (!r.value) {
      m.live.erase(id);
      m.missing.erase(id);
      continue;
    }
    const auto v = r.json();
    if (v.value("is_deleted", false)) {
      ++m.delete_events;
      if (v.contains("v") && v.contains("body")) ++m.deletes_with_row;
      m.live.erase(id);
      m.missing.erase(id);
      continue;
    }
    const bool known = m.live.count(id) > 0;
    Row& row = m.live[id];
    row.v = v["v"].get<long long>();
    if (v.contains("body")) {
      row.body = v["body"].get<std::string>();
      m.missing[id].erase("body");
    } else if (!known) {
      m.missing[id].insert("body");  // unchanged, and no earlier value to keep
    }
    if (!known && v["__op"] == "update") {
      ++m.new_key_updates;
      if (v.contains("body")) ++m.filled;
    }
    if (m.missing[id].empty()) m.missing.erase(id);
  }
  return m;
}

void wait_confirmed(Sql& super, const std::string& slot) {
  const uint64_t target = std::stoull(super.scalar("SELECT pg_current_wal_lsn() - '0/0'").value());
  REQUIRE(eventually([&] { return confirmed_flush(super, slot) >= target; }, seconds(180)));
}

// `ledger_rows`: the table has `ledger: rows`, so the values come from the key ledger (no source
// query at all) and every delete event, a key change's too, carries the whole old row.
void run_workload(int kills, bool ledger_rows = false) {
  const std::string n = unique_name(ledger_rows ? "fillr" : "fill");
  const std::string table = "public." + n;
  Sql sql(ServiceEnv::get().pg_dsn);
  sql.exec("CREATE TABLE " + n + " (id int PRIMARY KEY, v int, body text)");
  sql.exec("ALTER TABLE " + n + " ALTER COLUMN body SET STORAGE EXTERNAL");
  Agent agent(AgentOptions{.name = n, .extra_yaml = "http: {address: \"127.0.0.1:0\"}\n",
                           .table_yaml = "    - name: " + table + (ledger_rows ? "\n      ledger: rows\n" : "\n")});
  agent.start();
  agent.wait_streaming();

  std::random_device seed;
  const uint32_t s = seed();
  INFO("seed " << s);
  std::atomic<bool> done{false};
  Workload w;
  std::thread writer([&] {
    Sql own(ServiceEnv::get().pg_dsn);
    std::mt19937 rng(s);
    std::vector<long long> live;
    long long next_id = 1;
    for (int t = 0; t < 300; ++t) {
      random_transaction(own, n, rng, live, next_id, w);
      if (kills > 0) std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 40));
    }
    done = true;
  });
  struct Join {
    std::thread& t;
    ~Join() {
      if (t.joinable()) t.join();
    }
  } join{writer};
  std::mt19937 rng(s ^ 0x5eed);
  int killed = 0;
  for (int k = 0; k < kills && !done; ++k, ++killed) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 900));
    CHECK(agent.stop(SIGKILL) == 128 + SIGKILL);
    agent.start();
    agent.wait_streaming();
  }
  writer.join();
  Sql super(ServiceEnv::get().pg_superuser_dsn);
  wait_confirmed(super, n);
  const std::string metrics = http_get(http_port(agent), "/metrics").body;
  const std::string label = "{table=\"" + table + "\"}";
  const double queries = metric(metrics, "tombsync_fill_queries_total" + label);
  const double fetched = metric(metrics, "tombsync_fill_rows_total" + label);
  const double gone = metric(metrics, "tombsync_fill_missing_total" + label);
  const double from_ledger = metric(metrics, "tombsync_ledger_rows_filled_total" + label);
  CHECK(agent.stop(SIGTERM) == 0);

  const auto records = read_topic(agent.topic(table), 1, seconds(60));
  const Materialised m = materialise(records);
  std::map<long long, Row> source;
  for (const auto& r : sql.query("SELECT id, v, body FROM " + n + " ORDER BY id"))
    source[std::stoll(*r[0])] = Row{std::stoll(*r[1]), *r[2]};
  size_t differ = 0;
  for (const auto& [id, row] : source) {
    auto it = m.live.find(id);
    if (it == m.live.end() || it->second.v != row.v || it->second.body != row.body) ++differ;
  }
  WARN(w.transactions << " transactions (" << w.inserts << " inserts, " << w.updates << " updates of v, "
                      << w.key_changes << " key changes, " << w.deletes << " deletes), " << killed
                      << " kill -9 restarts: " << source.size() << " live rows, " << m.live.size()
                      << " in the topic, " << differ << " differ, " << m.missing.size() << " with a column missing; "
                      << m.filled << " of " << m.new_key_updates << " new-key records carry the body; "
                      << "the last process's fill metrics: " << queries << " queries, " << fetched << " rows, " << gone
                      << " gone, " << from_ledger << " filled from the ledger; " << m.deletes_with_row << " of "
                      << m.delete_events << " delete events carry the old row");
  for (const auto& [id, cols] : m.missing) {  // what the topic holds of a key left incomplete
    std::string history;
    for (const auto& r : records)
      if (r.key && r.key_json()["id"] == id)
        history += "\n  p" + std::to_string(r.partition) + "@" + std::to_string(r.offset) + " " +
                   (r.value ? r.json().value("__op", "?") + (r.json().contains("body") ? " body" : " no-body")
                            : std::string("tombstone")) +
                   " commit_lsn " + r.headers.at("tombsync.commit_lsn") + " seq " + r.headers.at("tombsync.seq");
    WARN("id " << id << " incomplete:" << history);
  }
  CHECK(w.key_changes > 0);
  CHECK(killed == kills);  // every kill landed while the workload ran
  CHECK(m.live.size() == source.size());
  CHECK(differ == 0);
  CHECK(m.missing.empty());
  CHECK(m.new_key_updates > 0);
  if (ledger_rows) {
    CHECK(queries == 0);  // every value came from the ledger
    CHECK(from_ledger > 0);
    CHECK(m.delete_events > 0);
    CHECK(m.deletes_with_row == m.delete_events);
  } else if (kills == 0) {
    CHECK(queries > 0);
    CHECK(queries <= w.transactions);  // never one per row
    CHECK(fetched > 0);
  }
}

}  // namespace

TEST_CASE("a random workload with key changes of rows with large unchanged values: every live row complete",
          "[integration][complete-rows]") {
  run_workload(0);
}

TEST_CASE("the same workload with kill -9 restarts in the middle: every live row complete",
          "[integration][complete-rows]") {
  run_workload(5);
}

TEST_CASE("ledger: rows, the same workload with kill -9 restarts: rows complete from the ledger, deletes carry the old row",
          "[integration][complete-rows][ledger-rows]") {
  run_workload(3, true);
}

// complete_rows: true: every update carries the body, so after compaction the one record left
// per key is the whole row, and a consumer that bootstraps from the compacted topic (keeping no
// earlier values) has every live row complete.
TEST_CASE("complete_rows: true on a compacted topic: a fresh consumer materialises every live row complete",
          "[integration][complete-rows]") {
  const std::string n = unique_name("fillc");
  const std::string table = "public." + n;
  Sql sql(ServiceEnv::get().pg_dsn);
  sql.exec("CREATE TABLE " + n + " (id int PRIMARY KEY, v int, body text)");
  sql.exec("ALTER TABLE " + n + " ALTER COLUMN body SET STORAGE EXTERNAL");
  Agent agent({.name = n, .extra_yaml = "http: {address: \"127.0.0.1:0\"}\n",
               .table_yaml = "    - name: " + table + "\n      complete_rows: true\n"});
  const std::string topic = agent.topic(table);
  create_compacted_topic(topic, 3);
  agent.start();
  agent.wait_streaming();
  // 300 rows of 5-20 kB, then three rounds of updates of v only (body unchanged TOAST), key
  // changes of 30 rows and deletes of 20.
  sql.exec("INSERT INTO " + n + " SELECT g, 0, repeat(md5(g::text), 160 + g % 450) FROM generate_series(1, 300) g");
  for (int round = 0; round < 3; ++round)
    for (int from = 1; from <= 300; from += 50)
      sql.exec("UPDATE " + n + " SET v = v + 1 WHERE id BETWEEN " + std::to_string(from) + " AND " +
               std::to_string(from + 49));
  sql.exec("UPDATE " + n + " SET id = id + 1000 WHERE id <= 30");
  sql.exec("DELETE FROM " + n + " WHERE id BETWEEN 31 AND 50");
  Sql super(ServiceEnv::get().pg_superuser_dsn);
  wait_confirmed(super, n);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // roll the segments (segment.ms)
  sql.exec("INSERT INTO " + n + " SELECT g, 0, 'late' FROM generate_series(5001, 5050) g");
  wait_confirmed(super, n);
  const std::string metrics = http_get(http_port(agent), "/metrics").body;
  const double queries = metric(metrics, "tombsync_fill_queries_total{table=\"" + table + "\"}");
  const double fetched = metric(metrics, "tombsync_fill_rows_total{table=\"" + table + "\"}");
  const double gone = metric(metrics, "tombsync_fill_missing_total{table=\"" + table + "\"}");
  const double updates = metric(metrics, "tombsync_events_total{table=\"" + table + "\",op=\"update\"}");
  CHECK(agent.stop(SIGTERM) == 0);

  const auto records = read_once_compacted(topic, [](const std::vector<KafkaRecord>& rs) {
    std::set<std::string> seen;  // compacted: one record per key (a deleted key's may be its tombstone)
    for (const auto& r : rs)
      if (r.key && !seen.insert(*r.key).second) return false;
    return true;
  });
  std::map<long long, Row> source;
  for (const auto& r : sql.query("SELECT id, v, body FROM " + n))
    source[std::stoll(*r[0])] = Row{std::stoll(*r[1]), *r[2]};
  // A fresh consumer: each record on its own, nothing kept from earlier ones.
  std::map<long long, Row> topic_rows;
  size_t incomplete = 0, differ = 0;
  for (const auto& r : records) {
    if (!r.key || !r.value) continue;
    const auto v = r.json();
    if (v.value("is_deleted", false)) continue;
    if (!v.contains("body") || v.contains("__unchanged")) {
      ++incomplete;
      continue;
    }
    topic_rows[r.key_json()["id"].get<long long>()] = Row{v["v"].get<long long>(), v["body"].get<std::string>()};
  }
  for (const auto& [id, row] : source) {
    auto it = topic_rows.find(id);
    if (it == topic_rows.end() || it->second.v != row.v || it->second.body != row.body) ++differ;
  }
  WARN("complete_rows on a compacted topic: " << records.size() << " records left after compaction, "
                                              << source.size() << " live rows, " << topic_rows.size()
                                              << " complete in the topic, " << incomplete << " incomplete, " << differ
                                              << " differ; fill metrics: " << queries << " queries, " << fetched
                                              << " rows, " << gone << " gone; " << updates << " update events");
  CHECK(incomplete == 0);
  CHECK(differ == 0);
  CHECK(topic_rows.size() == source.size());
  // Every update (3 x 300 of v, 30 key changes) was filled, or its row was gone by the lookup
  // (ids 1-50 are moved or deleted at the end; a lagging agent reads them after that).
  CHECK(fetched + gone == 930);
  CHECK(fetched >= 780);
  CHECK(queries <= 3 * 6 + 1);  // one per transaction, never one per row
}
