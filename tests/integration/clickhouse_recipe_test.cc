// The ClickHouse recipe (docs/consumers.md, "## ClickHouse") run for real: tests/recipes/
// clickhouse_recipe.py takes the doc's own SQL (the ReplacingMergeTree(_version, is_deleted) table
// and the Kafka-engine materialized view's SELECT) and runs it on chDB, in-process ClickHouse,
// over a topic's record values, as the Kafka engine would hand them to the view. Against the real
// services: a table shaped as the recipe's (`name` 5-20 kB, stored out of line, default replica
// identity), inserts, updates of email only (name unchanged TOAST), key changes and hard deletes;
// with `complete_rows: true` the `FINAL` result equals the source column by column. A second
// table without it, same workload, is the negative control: its `FINAL` rows lose `name`.
// chDB comes from scripts/install-deps (.tools/venv); without it the test FAILs, never skips.
#include <catch2/catch.hpp>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/harness.h"

using namespace tombsync::it;
using std::chrono::seconds;

namespace {

const std::string kPython = std::string(TOMBSYNC_SOURCE_DIR) + "/.tools/venv/bin/python";
const std::string kScript = std::string(TOMBSYNC_SOURCE_DIR) + "/tests/recipes/clickhouse_recipe.py";

// One row as both sides print it: created_at as `YYYY-MM-DD HH:MM:SS.ffffff` UTC.
struct UserRow {
  std::string email;
  std::optional<std::string> name, created_at;
  bool operator==(const UserRow&) const = default;
};

// FAILs (never skips) when the venv's Python cannot import chdb.
void require_chdb() {
  if (access(kPython.c_str(), X_OK) != 0)
    FAIL("no " << kPython << ": run scripts/install-deps (it installs chdb into .tools/venv)");
  const std::string probe = kPython + " -c 'import chdb' >/dev/null 2>&1";
  if (std::system(probe.c_str()) != 0)
    FAIL("chdb does not import in " << kPython << ": run scripts/install-deps (it installs chdb into .tools/venv)");
}

// The same changes on `t` (created empty with the recipe's columns): 200 inserts (every 25th name
// NULL, every 30th created_at NULL), three rounds of email-only updates, key changes of 1-30
// (+1000) then email updates of ten moved keys, deletes of 31-50 and of five moved keys, a key
// re-inserted after its delete and after its move, and one transaction that updates, moves and
// updates again the same row.
void workload(Sql& sql, const std::string& t) {
  sql.exec("INSERT INTO " + t +
           " SELECT g, 'u' || g || '@example.com', CASE WHEN g % 25 = 0 THEN NULL"
           " ELSE repeat(md5(g::text), 160 + g % 450) END, CASE WHEN g % 30 = 0 THEN NULL"
           " ELSE timestamptz '2024-01-01 00:00:00.123456+00' + g * interval '1 hour 1.000001 second' END"
           " FROM generate_series(1, 200) g");
  for (int round = 0; round < 3; ++round)
    for (int from = 1; from <= 200; from += 50)
      sql.exec("UPDATE " + t + " SET email = 'r" + std::to_string(round) + ".' || id || '@example.com' WHERE id % 3 = " +
               std::to_string(round) + " AND id BETWEEN " + std::to_string(from) + " AND " + std::to_string(from + 49));
  sql.exec("UPDATE " + t + " SET id = id + 1000 WHERE id <= 30");
  sql.exec("UPDATE " + t + " SET email = 'moved.' || id || '@example.com' WHERE id BETWEEN 1001 AND 1010");
  sql.exec("DELETE FROM " + t + " WHERE id BETWEEN 31 AND 50");
  sql.exec("DELETE FROM " + t + " WHERE id BETWEEN 1011 AND 1015");
  sql.exec("INSERT INTO " + t + " VALUES (31, 'again31@example.com', repeat('x', 7000), '2025-06-30 23:59:59.999999+00'),"
           " (1, 'again1@example.com', NULL, NULL)");
  sql.exec("BEGIN; UPDATE " + t + " SET email = 'tx1@example.com' WHERE id = 60; UPDATE " + t +
           " SET id = 2060 WHERE id = 60; UPDATE " + t + " SET email = 'tx2@example.com' WHERE id = 2060; COMMIT;");
}

std::map<long long, UserRow> source_rows(Sql& sql, const std::string& t) {
  std::map<long long, UserRow> rows;
  for (const auto& r : sql.query("SELECT id, email, name, to_char(created_at AT TIME ZONE 'UTC', "
                                 "'YYYY-MM-DD HH24:MI:SS.US') FROM " + t))
    rows[std::stoll(*r[0])] = UserRow{*r[1], r[2], r[3]};
  return rows;
}

struct Recipe {
  std::map<long long, UserRow> rows;  // app.users FINAL
  size_t records = 0, tombstones = 0;
  std::string summary;                // the script's line
};

// Writes the topic's record values (tombstones as empty lines) and runs the recipe on them.
Recipe run_recipe(const std::string& topic, const std::string& dir) {
  const auto records = read_topic(topic, topic_end_offsets(topic), seconds(60));
  Recipe out;
  const std::string in_path = dir + "/" + topic + ".jsonl", out_path = dir + "/" + topic + ".final.jsonl";
  {
    std::ofstream in(in_path);
    for (const auto& r : records) {
      in << r.value.value_or("") << "\n";
      ++(r.value ? out.records : out.tombstones);
    }
  }
  out.summary = run_capture(kPython + " " + kScript + " " + in_path + " " + out_path + " 2>&1");
  while (!out.summary.empty() && out.summary.back() == '\n') out.summary.pop_back();
  std::ifstream final_rows(out_path);
  for (std::string line; std::getline(final_rows, line);) {
    const auto j = nlohmann::json::parse(line);
    auto opt = [&](const char* k) {
      return j[k].is_null() ? std::nullopt : std::optional<std::string>(j[k].get<std::string>());
    };
    out.rows[j["id"].get<long long>()] = UserRow{j["email"].get<std::string>(), opt("name"), opt("created_at")};
  }
  return out;
}

struct Comparison {
  size_t missing = 0, extra = 0, differ = 0, lost_name = 0;  // lost_name: source has one, ClickHouse none/empty
};

Comparison compare(const std::map<long long, UserRow>& source, const std::map<long long, UserRow>& ch) {
  Comparison c;
  for (const auto& [id, row] : source) {
    auto it = ch.find(id);
    if (it == ch.end()) {
      ++c.missing;
      continue;
    }
    if (!(it->second == row)) ++c.differ;
    if (row.name && (!it->second.name || it->second.name->empty())) ++c.lost_name;
  }
  for (const auto& [id, row] : ch) c.extra += source.count(id) == 0;
  return c;
}

}  // namespace

TEST_CASE("the ClickHouse recipe on chDB: with complete_rows FINAL equals the source; without it names are lost",
          "[integration][clickhouse][consumers]") {
  require_chdb();
  const auto started = std::chrono::steady_clock::now();
  const std::string n = unique_name("ch");
  const std::string full = n + "_full", bare = n + "_bare";
  Sql sql(ServiceEnv::get().pg_dsn);
  for (const auto& t : {full, bare}) {
    sql.exec("CREATE TABLE " + t + " (id int PRIMARY KEY, email text NOT NULL, name text, created_at timestamptz)");
    sql.exec("ALTER TABLE " + t + " ALTER COLUMN name SET STORAGE EXTERNAL");
  }
  Agent agent({.name = n,
               .table_yaml = "    - name: public." + full + "\n      complete_rows: true\n    - name: public." + bare + "\n"});
  agent.start();
  agent.wait_streaming();
  workload(sql, full);
  workload(sql, bare);
  Sql super(ServiceEnv::get().pg_superuser_dsn);
  const uint64_t target = std::stoull(super.scalar("SELECT pg_current_wal_lsn() - '0/0'").value());
  REQUIRE(eventually([&] { return confirmed_flush(super, n) >= target; }, seconds(180)));
  CHECK(agent.stop(SIGTERM) == 0);

  const std::string dir = (std::filesystem::temp_directory_path() / unique_name("chdb")).string();
  std::filesystem::create_directories(dir);
  const Recipe with = run_recipe(agent.topic("public." + full), dir);
  const Recipe without = run_recipe(agent.topic("public." + bare), dir);
  const auto source = source_rows(sql, full);
  const auto bare_source = source_rows(sql, bare);
  const Comparison c = compare(source, with.rows), b = compare(bare_source, without.rows);
  size_t named = 0;
  for (const auto& [id, row] : source) named += row.name.has_value();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  WARN("complete_rows: true: " << with.records << " records + " << with.tombstones << " tombstones -> "
                               << with.summary << "; " << source.size() << " live rows (" << named << " with a name), "
                               << with.rows.size() << " in FINAL: " << c.missing << " missing, " << c.extra
                               << " deleted keys shown, " << c.differ << " differ, " << c.lost_name << " lost name. "
                               << "Without: " << without.records << " records, " << without.rows.size() << " in FINAL, "
                               << b.differ << " differ, " << b.lost_name << " lost name. " << secs << " s");
  const bool same_source = source == bare_source;  // the same workload on both tables
  CHECK(same_source);
  CHECK(source.size() > 150);
  CHECK(with.rows.size() == source.size());
  CHECK(c.missing == 0);
  CHECK(c.extra == 0);
  CHECK(c.differ == 0);
  CHECK(c.lost_name == 0);
  CHECK(b.lost_name > 0);  // the setting matters: unchanged TOAST leaves name NULL without it
  CHECK(b.missing == 0);
  CHECK(b.extra == 0);
  std::filesystem::remove_all(dir);
}
