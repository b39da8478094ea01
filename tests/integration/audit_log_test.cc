// examples/audit-log against real Postgres and Kafka: source -> tombsync ->
// Kafka -> tombsync-audit-log -> audit_log. The audit table lives in a schema
// of its own in the test database.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "tests/integration/harness.h"

using namespace tombsync::it;

namespace {

// tombsync-audit-log as a child process; SIGKILLed on destruction if still running.
class AuditLog {
 public:
  explicit AuditLog(std::vector<std::string> args) : args_(std::move(args)) {
    char tmpl[] = "/tmp/tombsync-it-audit-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    log_path_ = std::string(tmpl) + "/audit.log";
  }
  ~AuditLog() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;
  void start() {
    REQUIRE(pid_ < 0);
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      int fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
      }
      std::vector<char*> argv{const_cast<char*>(TOMBSYNC_AUDIT_BINARY)};
      for (auto& a : args_) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(TOMBSYNC_AUDIT_BINARY, argv.data());
      _exit(127);
    }
  }
  // Sends `sig` and returns the exit status (128+sig when killed by it).
  int stop(int sig) {
    REQUIRE(pid_ > 0);
    ::kill(pid_, sig);
    int status = 0;
    bool done = eventually([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, std::chrono::seconds(30));
    if (!done) {
      ::kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
    }
    pid_ = -1;
    REQUIRE(done);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  // Runs to completion (for arguments that must fail).
  int run_to_exit() {
    start();
    int status = 0;
    bool done = eventually([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, std::chrono::seconds(30));
    if (!done) ::kill(pid_, SIGKILL), waitpid(pid_, &status, 0);
    pid_ = -1;
    REQUIRE(done);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
  }
  std::string log() const {
    std::ifstream f(log_path_);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }

 private:
  std::vector<std::string> args_;
  std::string log_path_;
  pid_t pid_ = -1;
};

std::vector<std::string> audit_args(const std::string& name, const std::string& tables,
                                    std::vector<std::string> extra = {}) {
  const auto& env = ServiceEnv::get();
  std::vector<std::string> a{"--brokers", env.kafka_brokers, "--target-dsn", env.pg_dsn, "--schema", "au_" + name,
                             "--topic-prefix", name, "--group", name, "--table", tables, "--batch-wait-ms", "100"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

// Waits until Kafka holds every change committed so far (the slot confirmed past the WAL end).
void wait_agent_flushed(Sql& sql, const std::string& slot) {
  auto target = std::stoull(*sql.scalar("SELECT pg_current_wal_lsn() - '0/0'"));
  bool ok = eventually([&] { return confirmed_flush(sql, slot) >= target; }, std::chrono::seconds(60));
  REQUIRE(ok);
}

// Waits until the offsets stored with the audit rows reach the end of every topic.
void wait_recorded(Sql& db, AuditLog& audit, const std::string& name, const std::vector<std::string>& topics,
                   std::chrono::seconds timeout = std::chrono::seconds(60)) {
  const std::string offsets = "au_" + name + "._tombsync_audit_offsets";
  bool ok = eventually(
      [&] {
        if (!audit.running()) FAIL("tombsync-audit-log exited:\n" << audit.log());
        if (db.scalar("SELECT to_regclass('" + offsets + "') IS NULL") == "t") return false;
        for (const auto& t : topics) {
          auto stored = db.scalar("SELECT coalesce(sum(next_offset), 0) FROM " + offsets + " WHERE consumer_group = '" +
                                  name + "' AND topic = '" + t + "'");
          if (std::stoull(stored.value_or("0")) != topic_end_offsets(t)) return false;
        }
        return true;
      },
      timeout);
  if (!ok) FAIL("tombsync-audit-log did not catch up:\n" << audit.log());
}

int64_t micros_now(Sql& sql) {
  return std::stoll(*sql.scalar("SELECT (extract(epoch FROM clock_timestamp()) * 1e6)::bigint"));
}

// A transaction's commit time lies between these two readings of the clock.
struct Bracket {
  int64_t lo = 0, hi = 0;
};

Bracket commit(Sql& sql) {
  Bracket b;
  b.lo = micros_now(sql);
  sql.exec("COMMIT");
  b.hi = micros_now(sql);
  return b;
}

using Rows = std::vector<std::vector<std::optional<std::string>>>;

// audit_log rows of one source table: record_key, action, old_data, deleted_at in epoch
// microseconds, source_lsn; in id order.
Rows audit_rows(Sql& db, const std::string& name, const std::string& table) {
  return db.query("SELECT record_key::text, action, old_data::text, "
                  "(extract(epoch FROM deleted_at) * 1e6)::bigint::text, source_lsn::text FROM au_" + name +
                  ".audit_log WHERE table_name = 'public." + table + "' ORDER BY id");
}

// The delete events (is_deleted: true) of a topic, by key text: their __lsn.
std::map<std::string, std::string> delete_event_lsns(const std::string& topic) {
  std::map<std::string, std::string> out;
  for (const auto& r : read_topic(topic, topic_end_offsets(topic)))
    if (r.value && r.json()["is_deleted"] == true) out[r.key_json().dump()] = r.json()["__lsn"].get<std::string>();
  return out;
}

std::string canon(Sql& db, const std::string& json) { return *db.scalar("SELECT '" + json + "'::jsonb::text"); }

}  // namespace

TEST_CASE("audit-log: hard deletes (full and default identity), a soft delete and a TRUNCATE each land once",
          "[integration][audit-log]") {
  const auto& env = ServiceEnv::get();
  const std::string n = unique_name("aukinds");
  const std::string full = n + "_full", keyed = n + "_keyed", soft = n + "_soft", trunc = n + "_trunc";
  Sql sql(env.pg_dsn);
  sql.exec("CREATE TABLE " + full + " (id int PRIMARY KEY, name text, note text);"
           "ALTER TABLE " + full + " REPLICA IDENTITY FULL;"
           "CREATE TABLE " + keyed + " (id int PRIMARY KEY, name text);"
           "CREATE TABLE " + soft + " (id int PRIMARY KEY, name text, removed_at timestamptz);"
           "CREATE TABLE " + trunc + " (id int PRIMARY KEY, v text)");
  Agent agent({.name = n, .tables = {"public." + full, "public." + keyed, "public." + trunc},
               .table_yaml = "    - name: public." + soft + "\n      soft_delete_column: removed_at\n"});
  agent.start();
  agent.wait_streaming();
  sql.exec("INSERT INTO " + full + " VALUES (1, 'Ann', 'n1'), (2, 'Bob', NULL), (3, 'Cy', 'n3')");
  sql.exec("INSERT INTO " + keyed + " VALUES (1, 'k1'), (2, 'k2')");
  sql.exec("INSERT INTO " + soft + " VALUES (1, 's1', NULL), (2, 's2', NULL)");
  sql.exec("INSERT INTO " + trunc + " SELECT i, 'v' || i FROM generate_series(1, 5) i");
  const auto lsn_before = *sql.scalar("SELECT pg_current_wal_lsn()::text");
  sql.exec("BEGIN");
  sql.exec("DELETE FROM " + full + " WHERE id IN (1, 2)");
  sql.exec("DELETE FROM " + keyed + " WHERE id = 1");
  const Bracket hard = commit(sql);
  sql.exec("UPDATE " + soft + " SET removed_at = '2024-05-01 10:00:00.5+00' WHERE id = 1");  // soft delete
  sql.exec("UPDATE " + soft + " SET name = 's2b' WHERE id = 2");                             // not a delete
  sql.exec("BEGIN");
  sql.exec("TRUNCATE " + trunc);
  const Bracket truncated = commit(sql);
  sql.exec("INSERT INTO " + trunc + " VALUES (9, 'after')");  // live after the TRUNCATE: no audit row
  const auto lsn_after = *sql.scalar("SELECT pg_current_wal_lsn()::text");
  wait_agent_flushed(sql, n);

  const std::vector<std::string> topics{agent.topic("public." + full), agent.topic("public." + keyed),
                                        agent.topic("public." + soft), agent.topic("public." + trunc)};
  const std::string tables = "public." + full + ",public." + keyed + ",public." + soft + ",public." + trunc;
  Sql db(env.pg_dsn);
  {
    AuditLog audit(audit_args(n, tables));
    audit.start();
    wait_recorded(db, audit, n, topics);
    INFO(audit.log());
    CHECK(audit.log().find("batch applied: ") != std::string::npos);
    CHECK(audit.stop(SIGTERM) == 0);
  }
  const std::string log_table = "au_" + n + ".audit_log";
  CHECK(db.scalar("SELECT count(*) FROM " + log_table) == "9");  // 2 + 1 + 1 + 5
  CHECK(db.scalar("SELECT count(DISTINCT (table_name, record_key)) FROM " + log_table) == "9");

  auto in_bracket = [](const std::optional<std::string>& us, const Bracket& b) {
    return us && std::stoll(*us) >= b.lo && std::stoll(*us) <= b.hi;
  };
  auto lsn_within = [&](const std::optional<std::string>& lsn) {
    return lsn && sql.scalar("SELECT '" + *lsn + "'::pg_lsn BETWEEN '" + lsn_before + "' AND '" + lsn_after + "'") ==
                      "t";
  };
  {  // REPLICA IDENTITY FULL: old_data is the whole old row, metadata left out
    auto rows = audit_rows(db, n, full);
    auto lsns = delete_event_lsns(topics[0]);
    REQUIRE(rows.size() == 2);
    CHECK(rows[0][0] == canon(db, R"({"id": 1})"));
    CHECK(rows[0][1] == "delete");
    CHECK(rows[0][2] == canon(db, R"({"id": 1, "name": "Ann", "note": "n1"})"));
    CHECK(rows[1][0] == canon(db, R"({"id": 2})"));
    CHECK(rows[1][2] == canon(db, R"({"id": 2, "name": "Bob", "note": null})"));
    for (const auto& r : rows) {
      CHECK(in_bracket(r[3], hard));
      CHECK(lsn_within(r[4]));
      CHECK(r[4] == lsns.at(nlohmann::json::parse(*r[0]).dump()));
    }
  }
  {  // default replica identity: old_data is the key
    auto rows = audit_rows(db, n, keyed);
    REQUIRE(rows.size() == 1);
    CHECK(rows[0][0] == canon(db, R"({"id": 1})"));
    CHECK(rows[0][1] == "delete");
    CHECK(rows[0][2] == canon(db, R"({"id": 1})"));
    CHECK(in_bracket(rows[0][3], hard));
    CHECK(rows[0][4] == delete_event_lsns(topics[1]).at(R"({"id":1})"));
  }
  {  // soft delete: deleted_at is the column's value; old_data the row image of the UPDATE
    auto rows = audit_rows(db, n, soft);
    REQUIRE(rows.size() == 1);
    CHECK(rows[0][0] == canon(db, R"({"id": 1})"));
    CHECK(rows[0][1] == "soft_delete");
    // The soft-delete column is a row column (only is_deleted/deleted_at/__* are metadata).
    CHECK(db.scalar("SELECT ('" + rows[0][2].value_or("{}") + "'::jsonb - 'removed_at')::text") ==
          canon(db, R"({"id": 1, "name": "s1"})"));
    CHECK(db.scalar("SELECT ('" + rows[0][2].value_or("{}") +
                    "'::jsonb->>'removed_at')::timestamptz = '2024-05-01 10:00:00.5+00'") == "t");
    CHECK(rows[0][3] == *db.scalar("SELECT (extract(epoch FROM '2024-05-01 10:00:00.5+00'::timestamptz) * 1e6)::bigint"));
    CHECK(lsn_within(rows[0][4]));
    CHECK(rows[0][4] == delete_event_lsns(topics[2]).at(R"({"id":1})"));
  }
  {  // TRUNCATE expanded: one row per key the table held, the TRUNCATE's time and position
    auto rows = audit_rows(db, n, trunc);
    REQUIRE(rows.size() == 5);
    std::set<std::string> keys;
    for (const auto& r : rows) {
      keys.insert(*r[0]);
      CHECK(r[1] == "truncate");
      CHECK(r[2] == r[0]);  // key only
      CHECK(in_bracket(r[3], truncated));
      CHECK(lsn_within(r[4]));
      CHECK(r[4] == rows[0][4]);
    }
    std::set<std::string> expected;
    for (int i = 1; i <= 5; ++i) expected.insert(canon(db, "{\"id\": " + std::to_string(i) + "}"));
    CHECK(keys == expected);
  }

  {  // a restart reads on from the stored offsets: one new delete, one new row, nothing repeated
    AuditLog audit(audit_args(n, tables));
    audit.start();
    sql.exec("DELETE FROM " + keyed + " WHERE id = 2");
    wait_agent_flushed(sql, n);
    wait_recorded(db, audit, n, topics);
    INFO(audit.log());
    CHECK(audit.log().find("from the offsets stored in the audit database") != std::string::npos);
    CHECK(db.scalar("SELECT count(*) FROM " + log_table) == "10");
    CHECK(db.scalar("SELECT count(*) FROM " + log_table + " WHERE table_name = 'public." + keyed +
                    "' AND record_key = '{\"id\": 2}'") == "1");
    CHECK(audit.stop(SIGTERM) == 0);
  }
  CHECK(agent.stop(SIGTERM) == 0);
  db.exec("DROP SCHEMA au_" + n + " CASCADE");
}

TEST_CASE("audit-log SIGKILLed 4 times and the agent once while 2,000 rows are deleted: one audit row per key",
          "[integration][audit-log]") {
  const auto& env = ServiceEnv::get();
  const std::string n = unique_name("aukill");
  constexpr int kRows = 2000;
  Sql sql(env.pg_dsn);
  sql.exec("CREATE TABLE " + n + " (id int PRIMARY KEY, v text)");
  sql.exec("INSERT INTO " + n + " SELECT i, 'v' || i FROM generate_series(1, " + std::to_string(kRows) + ") i");
  Agent agent({.name = n, .tables = {"public." + n}});
  agent.start();
  agent.wait_streaming();
  const std::string topic = agent.topic("public." + n);
  // Small batches so that a kill lands between and inside many audit transactions.
  const auto args = audit_args(n, "public." + n, {"--batch-records", "40", "--session-timeout-ms", "6000"});
  std::vector<std::unique_ptr<AuditLog>> runs;
  runs.push_back(std::make_unique<AuditLog>(args));
  runs.back()->start();

  // Deletes in random order, 1-4 per transaction, with an insert-and-update of a row that
  // stays (records the audit log must skip) now and then.
  std::atomic<int> deleted{0};
  std::thread writer([&] {
    Sql w(env.pg_dsn);
    std::vector<int> ids(kRows);
    std::iota(ids.begin(), ids.end(), 1);
    std::mt19937 rng(11);
    std::shuffle(ids.begin(), ids.end(), rng);
    for (size_t i = 0; i < ids.size();) {
      size_t k = std::min(ids.size() - i, std::uniform_int_distribution<size_t>(1, 4)(rng));
      std::string list;
      for (size_t j = 0; j < k; ++j) list += (j ? "," : "") + std::to_string(ids[i + j]);
      w.exec("DELETE FROM " + n + " WHERE id IN (" + list + ")");
      if (i % 50 == 0)
        w.exec("INSERT INTO " + n + " VALUES (" + std::to_string(kRows + 1) + ", 'x') ON CONFLICT (id) DO UPDATE SET "
               "v = EXCLUDED.v || '" + std::to_string(i) + "'");
      i += k;
      deleted = static_cast<int>(i);
      std::this_thread::sleep_for(std::chrono::milliseconds(45));
    }
  });
  // Four kills, each once the run has recorded deletes (so it lands mid-stream, not at start-up;
  // a restarted run is assigned the partitions when the killed one's session expires), and the
  // agent killed once in the middle.
  int kills = 0, kills_mid_stream = 0;
  bool agent_killed = false;
  std::mt19937 pause_rng(5);
  for (int k = 0; k < 4; ++k) {
    auto& run = *runs.back();
    const std::string applied = k == 0 ? "batch applied" : "from the offsets stored in the audit database";
    REQUIRE(eventually([&] { return run.log().find(applied) != std::string::npos; }, std::chrono::seconds(60)));
    const int before = deleted;
    // Varies where in the stream the kill lands (not a proof of anything).
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(300, 1200)(pause_rng)));
    if (k == 2) {
      CHECK(agent.stop(SIGKILL) == 128 + SIGKILL);
      agent.start();
      agent_killed = true;
    }
    if (deleted < kRows && deleted > before) ++kills_mid_stream;
    CHECK(run.stop(SIGKILL) == 128 + SIGKILL);
    ++kills;
    runs.push_back(std::make_unique<AuditLog>(args));
    runs.back()->start();
  }
  writer.join();
  wait_agent_flushed(sql, n);
  Sql db(env.pg_dsn);
  AuditLog& last = *runs.back();
  wait_recorded(db, last, n, {topic}, std::chrono::seconds(120));
  std::string logs;
  for (size_t i = 0; i < runs.size(); ++i) logs += "run " + std::to_string(i + 1) + ":\n" + runs[i]->log();
  INFO(logs << "\nagent:\n" << agent.log());

  const std::string t = "au_" + n + ".audit_log";
  const auto rows = db.scalar("SELECT count(*) FROM " + t);
  const auto keys = db.scalar("SELECT count(DISTINCT record_key) FROM " + t);
  const auto deletes = db.scalar("SELECT count(*) FROM " + t + " WHERE action = 'delete' AND record_key = "
                                 "jsonb_build_object('id', (old_data->>'id')::int) AND (old_data->>'id')::int "
                                 "BETWEEN 1 AND " + std::to_string(kRows));
  const auto events = delete_event_lsns(topic).size();  // distinct keys with a delete event in Kafka
  size_t kafka_delete_events = 0, redelivered = 0;
  for (const auto& r : read_topic(topic, topic_end_offsets(topic)))
    if (r.value && r.json()["is_deleted"] == true) ++kafka_delete_events;
  for (const auto& run : runs) {
    const std::string text = run->log();
    for (size_t at = 0; (at = text.find(" skipped, ", at)) != std::string::npos; ++at)
      redelivered += std::stoul(text.substr(at + 10));
  }
  WARN("audit-log kill -9 x" << kills << " (" << kills_mid_stream << " with deletes still coming), agent kill -9 x"
                             << (agent_killed ? 1 : 0) << ": " << topic_end_offsets(topic) << " Kafka records, "
                             << kafka_delete_events << " delete events, audit_log " << *rows << " rows, " << *keys
                             << " distinct keys, " << redelivered << " redelivered records skipped");
  CHECK(kills == 4);
  CHECK(kills_mid_stream == 4);
  CHECK(events == static_cast<size_t>(kRows));
  CHECK(rows == std::to_string(kRows));
  CHECK(keys == std::to_string(kRows));
  CHECK(deletes == std::to_string(kRows));
  for (size_t i = 1; i < runs.size(); ++i)
    CHECK(runs[i]->log().find("from the offsets stored in the audit database") != std::string::npos);
  CHECK(last.stop(SIGTERM) == 0);
  CHECK(agent.stop(SIGTERM) == 0);
  db.exec("DROP SCHEMA au_" + n + " CASCADE");
}

TEST_CASE("audit-log --purge-after: rows recorded before the window go, younger ones stay",
          "[integration][audit-log]") {
  const auto& env = ServiceEnv::get();
  const std::string n = unique_name("aupurge");
  Sql sql(env.pg_dsn);
  sql.exec("CREATE TABLE " + n + " (id int PRIMARY KEY)");
  Agent agent({.name = n, .tables = {"public." + n}});
  agent.start();
  agent.wait_streaming();
  sql.exec("INSERT INTO " + n + " SELECT generate_series(1, 8)");
  sql.exec("DELETE FROM " + n);
  wait_agent_flushed(sql, n);
  const std::vector<std::string> topics{agent.topic("public." + n)};
  Sql db(env.pg_dsn);
  const std::string t = "au_" + n + ".audit_log";
  {
    AuditLog audit(audit_args(n, "public." + n));
    audit.start();
    wait_recorded(db, audit, n, topics);
    CHECK(audit.stop(SIGTERM) == 0);
  }
  REQUIRE(db.scalar("SELECT count(*) FROM " + t) == "8");
  // Keys 1-3 recorded 2 days ago, key 4 one day ago, key 5 just inside the window (23 h); 6-8 now.
  db.exec("UPDATE " + t + " SET recorded_at = now() - interval '2 days' WHERE (record_key->>'id')::int <= 3");
  db.exec("UPDATE " + t + " SET recorded_at = now() - interval '1 day 1 minute' WHERE (record_key->>'id')::int = 4");
  db.exec("UPDATE " + t + " SET recorded_at = now() - interval '23 hours' WHERE (record_key->>'id')::int = 5");
  auto ids = [&] {
    std::set<int> out;
    for (const auto& r : db.query("SELECT (record_key->>'id')::int FROM " + t)) out.insert(std::stoi(*r[0]));
    return out;
  };
  AuditLog audit(audit_args(n, "public." + n, {"--purge-after", "1d", "--purge-interval", "1s"}));
  audit.start();
  REQUIRE(eventually([&] { return audit.log().find("purged 4 rows") != std::string::npos; }, std::chrono::seconds(30)));
  INFO(audit.log());
  CHECK(ids() == std::set<int>{5, 6, 7, 8});
  // Every --purge-interval: key 6 ages past the window, and goes alone.
  db.exec("UPDATE " + t + " SET recorded_at = now() - interval '3 days' WHERE (record_key->>'id')::int = 6");
  REQUIRE(eventually([&] { return audit.log().find("purged 1 rows") != std::string::npos; }, std::chrono::seconds(30)));
  CHECK(ids() == std::set<int>{5, 7, 8});
  // The runs in between log their count too.
  CHECK(eventually([&] { return audit.log().find("purged 0 rows") != std::string::npos; }, std::chrono::seconds(30)));
  CHECK(ids() == std::set<int>{5, 7, 8});
  CHECK(audit.stop(SIGTERM) == 0);
  CHECK(agent.stop(SIGTERM) == 0);
  db.exec("DROP SCHEMA au_" + n + " CASCADE");
}

TEST_CASE("audit-log: redact_on_delete columns are absent (drop) or hashed (hash) in old_data",
          "[integration][audit-log]") {
  const auto& env = ServiceEnv::get();
  const std::string n = unique_name("auredact");
  const std::string dropped = n + "_drop", hashed = n + "_hash";
  Sql sql(env.pg_dsn);
  sql.exec("CREATE TABLE " + dropped + " (id int PRIMARY KEY, email text, name text);"
           "ALTER TABLE " + dropped + " REPLICA IDENTITY FULL;"
           "CREATE TABLE " + hashed + " (id int PRIMARY KEY, email text, name text);"
           "ALTER TABLE " + hashed + " REPLICA IDENTITY FULL;");
  Agent agent({.name = n,
               .table_yaml = "    - name: public." + dropped + "\n      redact_on_delete: [email]\n"
                             "    - name: public." + hashed + "\n      redact_on_delete: [email]\n"
                             "      redact_mode: hash\n"});
  agent.start();
  agent.wait_streaming();
  sql.exec("INSERT INTO " + dropped + " VALUES (1, 'ann@example.com', 'Ann')");
  sql.exec("INSERT INTO " + hashed + " VALUES (1, 'bob@example.com', 'Bob')");
  sql.exec("DELETE FROM " + dropped);
  sql.exec("DELETE FROM " + hashed);
  wait_agent_flushed(sql, n);
  Sql db(env.pg_dsn);
  AuditLog audit(audit_args(n, "public." + dropped + ",public." + hashed));
  audit.start();
  wait_recorded(db, audit, n, {agent.topic("public." + dropped), agent.topic("public." + hashed)});
  INFO(audit.log());
  auto d = audit_rows(db, n, dropped);
  REQUIRE(d.size() == 1);
  CHECK(d[0][2] == canon(db, R"({"id": 1, "name": "Ann"})"));  // email left out, nothing added back
  auto h = audit_rows(db, n, hashed);
  REQUIRE(h.size() == 1);
  CHECK(h[0][2] == *db.scalar("SELECT jsonb_build_object('id', 1, 'name', 'Bob', 'email', "
                              "encode(sha256('bob@example.com'::bytea), 'hex'))::text"));
  CHECK(audit.stop(SIGTERM) == 0);
  CHECK(agent.stop(SIGTERM) == 0);
  db.exec("DROP SCHEMA au_" + n + " CASCADE");
}

TEST_CASE("audit-log: bad arguments exit 2, an unreachable database exits 1, each with one line naming the fix",
          "[integration][audit-log]") {
  const auto& env = ServiceEnv::get();
  {
    AuditLog a({"--brokers", env.kafka_brokers, "--table", "public.x"});
    CHECK(a.run_to_exit() == 2);
    CHECK(a.log() == "tombsync-audit-log: --target-dsn is required: the Postgres database that holds audit_log\n");
  }
  {
    AuditLog a({"--purge-after", "a year"});
    CHECK(a.run_to_exit() == 2);
    CHECK(a.log().find("--purge-after expects a duration such as 30d, 12h, 90m or 45s, got 'a year'") !=
          std::string::npos);
  }
  {
    AuditLog a({"--brokers", env.kafka_brokers, "--audit-dsn", env.pg_dsn, "--table", "public.x"});
    CHECK(a.run_to_exit() == 2);
    CHECK(a.log().find("--topic-prefix is required for --table public.x") != std::string::npos);
  }
  {
    AuditLog a({"--brokers", env.kafka_brokers, "--target-dsn", "host=127.0.0.1 port=1 dbname=app user=x",
                "--topic-prefix", "p", "--table", "public.x"});
    CHECK(a.run_to_exit() == 1);
    CHECK(a.log().find("--target-dsn: cannot connect to Postgres") != std::string::npos);
  }
}
