// `ledger: rows` against the real services (docs/deletes.md "Deleted rows"): with the default
// replica identity Postgres sends a delete's key only; the key ledger keeps each live key's last
// complete row, so every delete event carries the whole old row, redacted as configured. The
// rows are read back from RocksDB, not memory: the agent is killed -9 between the writes and the
// deletes. Updates whose large value is unchanged TOAST are filled from the ledger without one
// query to the source. An expanded TRUNCATE's deletes carry the rows too, changes of the same
// (unsaved) transaction included.
#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <map>
#include <regex>
#include <string>

#include "tests/integration/harness.h"
#include "tests/integration/http_client.h"

using namespace tombsync::it;
using std::chrono::seconds;

namespace {

void run(const std::string& redact_mode) {
  const std::string n = unique_name("rows");
  const std::string table = "public." + n;
  Sql sql(ServiceEnv::get().pg_dsn);
  sql.exec("CREATE TABLE " + n + " (id int PRIMARY KEY, email text NOT NULL, v int, score float8, body text)");
  sql.exec("ALTER TABLE " + n + " ALTER COLUMN body SET STORAGE EXTERNAL");
  Agent agent({.name = n, .extra_yaml = "http: {address: \"127.0.0.1:0\"}\n",
               .table_yaml = "    - name: " + table + "\n      ledger: rows\n      redact_on_delete: [email]\n" +
                             "      redact_mode: " + redact_mode + "\n"});
  agent.start();
  agent.wait_streaming();
  // 1,000 rows, bodies of 5-20 kB for every tenth; then updates of v only (body unchanged TOAST).
  sql.exec("INSERT INTO " + n + " SELECT g, 'user' || g || '@example.com', 0, g / 7.0, "
           "CASE WHEN g % 10 = 0 THEN repeat(md5(g::text), 160 + g % 450) ELSE 'short ' || g END "
           "FROM generate_series(1, 1000) g");
  sql.exec("UPDATE " + n + " SET v = v + 1 WHERE id % 10 = 0");
  Sql super(ServiceEnv::get().pg_superuser_dsn);
  auto wait_confirmed = [&] {
    const uint64_t target = std::stoull(super.scalar("SELECT pg_current_wal_lsn() - '0/0'").value());
    REQUIRE(eventually([&] { return confirmed_flush(super, n) >= target; }, seconds(120)));
  };
  wait_confirmed();
  // The rows as the source has them, to compare each delete with; hash as redact_mode: hash does.
  std::map<long long, std::map<std::string, std::string>> before;
  for (const auto& r : sql.query("SELECT id, email, encode(sha256(convert_to(email, 'UTF8')), 'hex'), v, score::text, "
                                 "body FROM " + n))
    before[std::stoll(*r[0])] = {{"email", *r[1]}, {"hash", *r[2]}, {"v", *r[3]}, {"score", *r[4]}, {"body", *r[5]}};
  REQUIRE(before.size() == 1000);

  CHECK(agent.stop(SIGKILL) == 128 + SIGKILL);  // the rows must come from the state store
  agent.start();
  agent.wait_streaming();
  sql.exec("DELETE FROM " + n + " WHERE id <= 500");  // one transaction of 500
  for (int from = 501; from <= 1000; from += 100)    // and five of 100
    sql.exec("DELETE FROM " + n + " WHERE id BETWEEN " + std::to_string(from) + " AND " + std::to_string(from + 99));
  // An expanded TRUNCATE's deletes carry the rows too: 100 rows, half updated in the same
  // transaction (pending in the ledger, not saved), then TRUNCATE.
  sql.exec("INSERT INTO " + n + " SELECT g, 'late' || g || '@example.com', 5, 0.5, repeat('t', 6000) "
           "FROM generate_series(2001, 2100) g");
  sql.exec("BEGIN; UPDATE " + n + " SET v = 6 WHERE id <= 2050; TRUNCATE " + n + "; COMMIT;");
  wait_confirmed();
  const std::string metrics = http_get(http_port(agent), "/metrics").body;
  const std::string label = "{table=\"" + table + "\"}";
  const double queries = metric(metrics, "tombsync_fill_queries_total" + label);
  const double missing = metric(metrics, "tombsync_ledger_rows_missing_total" + label);
  CHECK(agent.stop(SIGTERM) == 0);

  const auto records = read_topic(agent.topic(table), 1000 * 2 + 1000 + 100 + 100 + 50 + 100 * 2, seconds(60));
  size_t deletes = 0, whole = 0, updates = 0, updates_whole = 0, truncated = 0, truncated_whole = 0;
  std::string first_bad;
  for (const auto& r : records) {
    if (!r.value || !r.key) continue;
    const auto v = r.json();
    const long long id = r.key_json()["id"].get<long long>();
    if (id > 2000) {  // the TRUNCATE's part
      if (!v.value("__truncate", false)) continue;
      ++truncated;
      const bool email_ok = redact_mode == "hash" ? v.contains("email") : !v.contains("email");
      if (email_ok && v.value("v", 0) == (id <= 2050 ? 6 : 5) && v.value("body", "") == std::string(6000, 't'))
        ++truncated_whole;
      continue;
    }
    const auto& want = before.at(id);
    if (v["__op"] == "update") {
      ++updates;
      if (v.contains("body") && v["body"] == want.at("body")) ++updates_whole;
      continue;
    }
    if (!v.value("is_deleted", false)) continue;
    ++deletes;
    bool ok = v.contains("v") && std::to_string(v["v"].get<long long>()) == want.at("v") && v.contains("score") &&
              v.contains("body") && v["body"] == want.at("body");
    if (redact_mode == "hash") ok = ok && v.contains("email") && v["email"] == want.at("hash");
    else ok = ok && !v.contains("email");
    ok = ok && r.value->find(want.at("email")) == std::string::npos;  // the address itself never
    if (ok) ++whole;
    else if (first_bad.empty()) first_bad = *r.value;
  }
  WARN("redact_mode " << redact_mode << ": " << deletes << " delete events, " << whole
                      << " with the whole old row (email " << (redact_mode == "hash" ? "hashed" : "absent") << "); "
                      << updates_whole << " of " << updates << " updates carry the unchanged body; " << queries
                      << " source queries, " << missing << " deletes missing their row; " << truncated_whole << " of "
                      << truncated << " TRUNCATE deletes carry the row");
  INFO("first incomplete delete: " << first_bad.substr(0, 400));
  CHECK(deletes == 1000);
  CHECK(whole == 1000);
  CHECK(updates == 100);
  CHECK(updates_whole == 100);
  CHECK(queries == 0);
  CHECK(missing == 0);
  CHECK(truncated == 100);
  CHECK(truncated_whole == 100);
}

}  // namespace

TEST_CASE("ledger: rows with the default replica identity: each of 1,000 deletes carries the old row, email hashed",
          "[integration][ledger-rows]") {
  run("hash");
}

TEST_CASE("ledger: rows: each of 1,000 deletes carries the old row, email dropped", "[integration][ledger-rows]") {
  run("drop");
}
