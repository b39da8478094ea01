// Reconciliation (docs/deletes.md) against the real services: after a lost slot (dropped, or
// invalidated by max_slot_wal_keep_size) with `on_slot_loss: reconcile`, the agent recreates the
// slot and re-reads every table while a writer keeps changing rows; each topic, materialised,
// then equals its table, every row deleted in the gap has exactly one inferred delete
// (tombsync.inferred) and no other key has one. `tombsync reconcile --dry-run` counts without
// publishing; a real `tombsync reconcile` deletes what a table left out of the publication lost.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/harness.h"
#include "tests/integration/topic_state.h"

using namespace tombsync::it;
using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

namespace {

constexpr long long kRows = 5000;  // per table, ids 1..kRows

std::string id_key(long long id) { return "{\"id\":" + std::to_string(id) + "}"; }

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// The command's output (stdout and stderr) and exit code.
struct Ran {
  std::string out;
  int code = -1;
};
Ran run_cli(const std::string& args) {
  const std::string out = run_capture("(" + std::string(TOMBSYNC_BINARY) + " " + args + "; echo \"exit=$?\") 2>&1");
  const size_t at = out.rfind("exit=");
  REQUIRE(at != std::string::npos);
  return {out.substr(0, at), std::stoi(out.substr(at + 5))};
}

nlohmann::json status_json(const Agent& agent) {
  return nlohmann::json::parse(
      run_capture(std::string(TOMBSYNC_BINARY) + " status --json --config " + agent.config_path() + " || true"));
}

// tables[].<field> of `status --json` for `table` (null when absent).
nlohmann::json status_table(const Agent& agent, const std::string& table, const std::string& field) {
  const nlohmann::json status = status_json(agent);  // kept: a range over a temporary's member would dangle
  for (const auto& t : status["tables"])
    if (t["name"] == table) return t.value(field, nlohmann::json());
  return nullptr;
}

void wait_snapshots_done(const Agent& agent, const std::vector<std::string>& tables) {
  for (const auto& t : tables)
    REQUIRE(eventually([&] { return status_table(agent, t, "snapshot") == "done"; }, seconds(120)));
}

// Waits until every table's reconciliation is done (status: tables[].reconcile.state); returns
// each one's last state.
std::map<std::string, nlohmann::json> wait_reconciled(const Agent& agent, const std::vector<std::string>& tables,
                                                      seconds timeout = seconds(180)) {
  std::map<std::string, nlohmann::json> out;
  const bool done = eventually(
      [&] {
        for (const auto& t : tables) {
          out[t] = status_table(agent, t, "reconcile");
          if (!out[t].is_object() || out[t]["state"] != "done") return false;
        }
        return true;
      },
      timeout);
  if (!done) FAIL("the reconciliations did not finish in time; status:\n" << status_json(agent).dump(2) << "\nlog:\n" << agent.log());
  return out;
}

// Waits until the slot confirmed everything written so far.
void wait_confirmed(Sql& super, const std::string& slot, seconds timeout = seconds(120)) {
  const uint64_t target = std::stoull(super.scalar("SELECT pg_current_wal_lsn() - '0/0'").value());
  REQUIRE(eventually([&] { return confirmed_flush(super, slot) >= target; }, timeout));
}

Materialized materialize_topic(const std::string& topic) {
  const uint64_t n = topic_end_offsets(topic);
  auto records = read_topic(topic, n, seconds(120));
  REQUIRE(records.size() >= n);
  return materialize(records);
}

void create_table(Sql& sql, const std::string& table, long long rows) {
  sql.exec("CREATE TABLE " + table + " (id bigint PRIMARY KEY, v int NOT NULL, note text)");
  sql.exec("INSERT INTO " + table + " SELECT g, g % 97, 'row ' || g FROM generate_series(1, " + std::to_string(rows) +
           ") g");
}

// The topic, materialised, holds exactly the table's rows with every column's value.
void check_topic_equals_table(const Materialized& m, const std::string& table) {
  std::map<std::string, std::pair<long long, std::string>> rows;
  for (const auto& r : Sql(ServiceEnv::get().pg_dsn).query("SELECT id, v, note FROM " + table))
    rows[id_key(std::stoll(r[0].value()))] = {std::stoll(r[1].value()), r[2].value_or("")};
  size_t missing = 0, differ = 0, extra = 0;
  for (const auto& [key, row] : rows) {
    auto it = m.live.find(key);
    if (it == m.live.end()) {
      if (missing++ < 3) WARN(table << ": key " << key << " is in the table, not live in the topic");
    } else if (it->second["v"] != row.first || it->second["note"] != row.second) {
      if (differ++ < 3) WARN(table << ": key " << key << " differs: topic " << it->second.dump());
    }
  }
  for (const auto& [key, value] : m.live)
    if (!rows.count(key) && extra++ < 3) WARN(table << ": key " << key << " is live in the topic, not in the table");
  INFO(table << ": " << rows.size() << " rows, " << m.live.size() << " live keys in the topic");
  CHECK(missing == 0);
  CHECK(differ == 0);
  CHECK(m.live.size() == rows.size());
}

// Changes rows of the tables at about `per_second` statements a second until `stop`: inserts of
// new ids (from 100000), updates and deletes of ids above `keep_below` (so the gap's deleted ids
// 1..keep_below stay deleted and its updated ones keep their values unless re-updated).
struct Writer {
  std::vector<std::string> tables;
  long long keep_below = 0;
  int per_second = 200;
  std::atomic<bool> stop{false};
  std::atomic<long> statements{0}, deletes{0};

  void run() {
    Sql sql(ServiceEnv::get().pg_dsn);
    std::mt19937 rng(42);
    long long next_id = 100000;
    const auto pause = milliseconds(1000 / per_second);
    while (!stop) {
      const std::string& t = tables[rng() % tables.size()];
      const long long id = keep_below + 1 + static_cast<long long>(rng() % static_cast<unsigned>(kRows - keep_below));
      switch (rng() % 3) {
        case 0:
          sql.exec("INSERT INTO " + t + " VALUES (" + std::to_string(next_id++) + ", 1, 'written')");
          break;
        case 1:
          sql.exec("UPDATE " + t + " SET v = v + 1, note = 'updated' WHERE id = " + std::to_string(id));
          break;
        default:
          sql.exec("DELETE FROM " + t + " WHERE id = " + std::to_string(id));
          ++deletes;
      }
      ++statements;
      std::this_thread::sleep_for(pause);
    }
  }
};

// The gap's changes, with the agent stopped: per table, deletes of ids 1..500, updates of
// 1001..1500, inserts of 10001..10500 (1,000 of each over two tables).
void change_in_gap(Sql& sql, const std::vector<std::string>& tables) {
  for (const auto& t : tables) {
    sql.exec("DELETE FROM " + t + " WHERE id BETWEEN 1 AND 500");
    sql.exec("UPDATE " + t + " SET v = v + 1000, note = 'gap' WHERE id BETWEEN 1001 AND 1500");
    sql.exec("INSERT INTO " + t + " SELECT g, 7, 'gap insert' FROM generate_series(10001, 10500) g");
  }
}

// max_slot_wal_keep_size for the test (a sighup setting), reset when it goes, also when the test
// fails: later tests' slots must not be invalidated (as in slot_rules_test.cc).
class SlotWalLimit {
 public:
  explicit SlotWalLimit(const std::string& size) {
    Sql super(ServiceEnv::get().pg_superuser_dsn);
    super.exec("ALTER SYSTEM SET max_slot_wal_keep_size = '" + size + "'");
    super.exec("SELECT pg_reload_conf()");
  }
  ~SlotWalLimit() {
    try {
      Sql super(ServiceEnv::get().pg_superuser_dsn);
      super.exec("ALTER SYSTEM RESET max_slot_wal_keep_size");
      super.exec("SELECT pg_reload_conf()");
      eventually([] { return Sql(ServiceEnv::get().pg_superuser_dsn).scalar("SHOW max_slot_wal_keep_size") == "-1"; },
                 seconds(5));
    } catch (...) {
    }
  }
  SlotWalLimit(const SlotWalLimit&) = delete;
  SlotWalLimit& operator=(const SlotWalLimit&) = delete;
};

std::string wal_status(Sql& sql, const std::string& slot) {
  return sql.scalar("SELECT coalesce(wal_status, '') FROM pg_replication_slots WHERE slot_name = '" + slot + "'")
      .value_or("(no slot)");
}

// With the agent stopped: WAL in a scratch table, switched and checkpointed, until the slot's
// WAL is removed (wal_status lost).
void invalidate_slot(const std::string& slot, const std::string& scratch) {
  SlotWalLimit limit("1MB");
  Sql super(ServiceEnv::get().pg_superuser_dsn);
  super.exec("CREATE TABLE " + scratch + " (id int, v text)");
  int rounds = 0;
  const bool lost = eventually(
      [&] {
        ++rounds;
        for (int i = 0; i < 3; ++i) {
          super.exec("INSERT INTO " + scratch + " SELECT g, md5(g::text) FROM generate_series(1, 2000) g");
          super.exec("SELECT pg_switch_wal()");
        }
        super.exec("CHECKPOINT");
        return wal_status(super, slot) == "lost";
      },
      seconds(60));
  INFO("wal_status after " << rounds << " rounds: " << wal_status(super, slot));
  REQUIRE(lost);
}

enum class Loss { kDropped, kInvalidated };

// The Must-show test of issue 11: stream two tables, stop, change rows in the gap, lose the slot,
// restart with on_slot_loss: reconcile while a writer changes rows.
void lost_slot_reconciles(Loss loss) {
  const auto test_start = steady_clock::now();
  const std::string n = unique_name(loss == Loss::kDropped ? "rdrop" : "rlost");
  const std::vector<std::string> tables = {"public." + n + "_a", "public." + n + "_b"};
  Sql sql(ServiceEnv::get().pg_dsn);
  Sql super(ServiceEnv::get().pg_superuser_dsn);
  for (const auto& t : tables) create_table(sql, t, kRows);

  // 100-row chunks: the re-read is 50 watermark windows per table, so the writer's changes land
  // amid it, not only after it.
  Agent agent({.name = n, .tables = tables, .extra_yaml = "on_slot_loss: reconcile\nsnapshot_chunk_rows: 100\n"});
  agent.start();
  agent.wait_streaming();
  wait_snapshots_done(agent, tables);
  wait_confirmed(super, n);
  REQUIRE(agent.stop(SIGTERM) == 0);

  change_in_gap(sql, tables);
  if (loss == Loss::kDropped)
    super.exec("SELECT pg_drop_replication_slot('" + n + "')");
  else
    invalidate_slot(n, "public." + n + "_scratch");

  // check reports the loss as a warning (a PASS at risk), not a FAIL: run will act on it.
  const auto check = nlohmann::json::parse(
      run_capture(std::string(TOMBSYNC_BINARY) + " check --json --config " + agent.config_path() + " || true"));
  const std::string item = loss == Loss::kDropped ? "state.cursor" : "slot";
  bool warned = false;
  for (const auto& i : check["items"])
    if (i["check"] == item) {
      INFO("check item " << i.dump());
      CHECK(i["status"] == "pass");
      CHECK(i.value("warning", false));
      CHECK(i["message"].get<std::string>().find("run will recreate the slot and reconcile") != std::string::npos);
      warned = true;
    }
  CHECK(warned);

  const size_t log_before = agent.log().size();
  agent.start();
  // The writer starts once the new slot exists: changes from then on are streamed, so none of
  // its deletes may become an inferred delete.
  REQUIRE(eventually([&] { return agent.log().find("created replication slot " + n, log_before) != std::string::npos; },
                     seconds(60)));
  Writer writer{.tables = tables, .keep_below = 1500};
  std::thread writing([&] { writer.run(); });
  struct Join {
    Writer& w;
    std::thread& t;
    ~Join() {
      w.stop = true;
      if (t.joinable()) t.join();
    }
  } join{writer, writing};
  const auto reconciled = wait_reconciled(agent, tables);
  const long during = writer.statements;  // at most this many ran while the re-reads did
  std::this_thread::sleep_for(seconds(3));  // the writer goes on after the sweeps too
  writer.stop = true;
  writing.join();
  wait_confirmed(super, n);

  const std::string log = agent.log().substr(log_before);
  const std::string cause = loss == Loss::kDropped ? "slot " + n + " is gone (dropped, or a failover to a server without it)"
                                                   : "slot " + n + " has lost WAL it needs (wal_status lost";
  INFO("log of the restart:\n" << log);
  CHECK(count_of(log, "on_slot_loss: reconcile: recreating the slot and reconciling 2 tables (" + tables[0] + ", " +
                          tables[1] + ")") == 1);
  CHECK(count_of(log, cause) == 1);
  CHECK(log.find("cursor ") != std::string::npos);
  CHECK(log.find("server WAL ") != std::string::npos);

  size_t inferred_total = 0;
  for (const auto& t : tables) {
    const Materialized m = materialize_topic(agent.topic(t));
    check_topic_equals_table(m, t);
    std::set<long long> inferred_ids;
    size_t more_than_once = 0;
    for (const auto& [key, count] : m.inferred) {
      inferred_ids.insert(nlohmann::json::parse(key)["id"].get<long long>());
      if (count != 1) ++more_than_once;
    }
    std::set<long long> deleted_in_gap;
    for (long long id = 1; id <= 500; ++id) deleted_in_gap.insert(id);
    CHECK(inferred_ids == deleted_in_gap);
    CHECK(more_than_once == 0);
    inferred_total += m.inferred.size();
    const auto& r = reconciled.at(t);
    WARN("[reconcile] " << (loss == Loss::kDropped ? "dropped" : "invalidated") << " slot, " << t << ": "
                        << m.inferred.size() << " keys with an inferred delete (status: " << r["inferred"] << " in "
                        << r["elapsed_s"] << " s, " << r["done"] << " rows read), " << m.live.size()
                        << " live keys = table rows");
    CHECK(r["inferred"] == 500);
  }
  CHECK(inferred_total == 1000);
  WARN("[reconcile] writer: " << writer.statements << " statements (" << writer.deletes << " deletes), " << during
                              << " of them before both reconciliations were seen done; test " << std::chrono::duration_cast<seconds>(steady_clock::now() - test_start).count()
                              << " s");
}

}  // namespace

TEST_CASE("a dropped slot with on_slot_loss: reconcile: each topic equals its table, one inferred delete per row "
          "deleted in the gap",
          "[integration][reconcile]") {
  lost_slot_reconciles(Loss::kDropped);
}

TEST_CASE("a slot invalidated by max_slot_wal_keep_size with on_slot_loss: reconcile: each topic equals its table, one "
          "inferred delete per row deleted in the gap",
          "[integration][reconcile]") {
  lost_slot_reconciles(Loss::kInvalidated);
}

TEST_CASE("reconcile --dry-run counts without publishing; a table left out of the publication loses exactly its 50 "
          "deletes, which a real reconcile sends",
          "[integration][reconcile][cli]") {
  const std::string n = unique_name("rdry");
  const std::string t = "public." + n, other = "public." + n + "_nl";
  Sql sql(ServiceEnv::get().pg_dsn);
  Sql super(ServiceEnv::get().pg_superuser_dsn);
  create_table(sql, t, 1000);
  create_table(sql, other, 10);
  Agent agent({.name = n,
               .table_yaml = "    - " + t + "\n    - { name: " + other + ", ledger: none }\n"});
  agent.start();
  agent.wait_streaming();
  wait_snapshots_done(agent, {t, other});
  wait_confirmed(super, n);
  const std::string topic = agent.topic(t);
  const std::string cfg = " --config " + agent.config_path();

  // Refusals: exit 2, one line naming the fix.
  const Ran no_ledger = run_cli("reconcile" + cfg + " --table " + other);
  CHECK(no_ledger.code == 2);
  CHECK(no_ledger.out.find(other + " keeps no key ledger (ledger: none)") != std::string::npos);
  CHECK(no_ledger.out.find("set ledger: keys") != std::string::npos);
  const Ran unknown = run_cli("reconcile" + cfg + " --table public.nope");
  CHECK(unknown.code == 2);
  CHECK(unknown.out.find("--table public.nope is not in source.tables") != std::string::npos);

  // In sync: nothing to delete, and nothing published.
  const uint64_t end_before = topic_end_offsets(topic);
  const Ran in_sync = run_cli("reconcile" + cfg + " --dry-run --timeout 120 --table " + t);
  INFO("reconcile --dry-run:\n" << in_sync.out << "\nlog:\n" << agent.log());
  REQUIRE(in_sync.code == 0);
  CHECK(in_sync.out.find("reconcile " + t + " (dry run): 0 keys to delete, 1000 rows read") != std::string::npos);
  std::this_thread::sleep_for(seconds(1));
  CHECK(topic_end_offsets(topic) == end_before);

  // Out of the publication, 50 rows go: the stream does not see them, the dry run does.
  super.exec("ALTER PUBLICATION " + n + " DROP TABLE " + t);
  sql.exec("DELETE FROM " + t + " WHERE id % 20 = 0");  // ids 20, 40, ..., 1000: 50 rows
  wait_confirmed(super, n);
  const Ran gap = run_cli("reconcile" + cfg + " --dry-run --timeout 120 --table " + t);
  INFO("reconcile --dry-run after the deletes:\n" << gap.out);
  REQUIRE(gap.code == 0);
  CHECK(gap.out.find("reconcile " + t + " (dry run): 50 keys to delete, 950 rows read; sample: ") != std::string::npos);
  const auto sample_at = gap.out.find("; sample: ");
  REQUIRE(sample_at != std::string::npos);
  std::istringstream sample(gap.out.substr(sample_at + 10, gap.out.find('\n', sample_at) - sample_at - 10));
  size_t sampled = 0;
  for (std::string key; sample >> key; ++sampled) {
    INFO("sample key " << key);
    const long long id = nlohmann::json::parse(key)["id"].get<long long>();
    CHECK(id % 20 == 0);
  }
  CHECK(sampled == 10);
  CHECK(topic_end_offsets(topic) == end_before);

  // Back in the publication, a real reconciliation sends the 50 inferred deletes.
  super.exec("ALTER PUBLICATION " + n + " ADD TABLE " + t);
  const auto real_start = steady_clock::now();
  const Ran real = run_cli("reconcile" + cfg + " --timeout 120 --table " + t);
  const double real_s = std::chrono::duration<double>(steady_clock::now() - real_start).count();
  INFO("reconcile:\n" << real.out);
  REQUIRE(real.code == 0);
  CHECK(real.out.find("reconcile " + t + ": 50 inferred deletes, 950 rows read in ") != std::string::npos);
  const Materialized m = materialize_topic(topic);
  CHECK(m.inferred.size() == 50);
  for (const auto& [key, count] : m.inferred) {
    CHECK(nlohmann::json::parse(key)["id"].get<long long>() % 20 == 0);
    CHECK(count == 1);
  }
  check_topic_equals_table(m, t);

  // --all: every table that keeps a ledger (not the ledger: none one); in sync again.
  const Ran all = run_cli("reconcile" + cfg + " --all --dry-run --timeout 120");
  INFO("reconcile --all --dry-run:\n" << all.out);
  CHECK(all.code == 0);
  CHECK(all.out.find("reconcile " + t + " (dry run): 0 keys to delete, 950 rows read") != std::string::npos);
  CHECK(all.out.find("reconcile " + other) == std::string::npos);
  // status shows the last one.
  const auto st = status_table(agent, t, "reconcile");
  CHECK(st["state"] == "done");
  CHECK(st["dry_run"] == true);
  WARN("[reconcile] dry run and real run on 1,000 rows: 50 keys found by the dry run, 50 inferred deletes; real run "
       << real_s << " s end to end (CLI)");
}
