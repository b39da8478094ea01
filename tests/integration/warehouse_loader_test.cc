// examples/warehouse-loader against real Postgres and Kafka: source ->
// tombsync -> Kafka -> tombsync-warehouse-loader -> warehouse tables. The
// warehouse lives in a schema of its own in the test database.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <librdkafka/rdkafka.h>

#include "tests/integration/harness.h"

using namespace tombsync::it;

namespace {

// The loader as a child process; SIGKILLed on destruction if still running.
class Loader {
 public:
  explicit Loader(std::vector<std::string> args) : args_(std::move(args)) {
    char tmpl[] = "/tmp/tombsync-it-loader-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    log_path_ = std::string(tmpl) + "/loader.log";
  }
  ~Loader() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
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
      std::vector<char*> argv{const_cast<char*>(TOMBSYNC_LOADER_BINARY)};
      for (auto& a : args_) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(TOMBSYNC_LOADER_BINARY, argv.data());
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

std::vector<std::string> loader_args(const std::string& name, const std::string& tables,
                                     std::vector<std::string> extra = {}) {
  const auto& env = ServiceEnv::get();
  std::vector<std::string> a{"--brokers",          env.kafka_brokers, "--source-dsn",   env.pg_dsn,
                             "--warehouse-dsn",    env.pg_dsn,        "--warehouse-schema", "wh_" + name,
                             "--topic-prefix",     name,              "--group",        name,
                             "--table",            tables,            "--batch-wait-ms", "100"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

// Waits until Kafka holds every change committed so far (the slot confirmed past the WAL end).
void wait_agent_flushed(Sql& sql, const std::string& slot) {
  auto target = std::stoull(*sql.scalar("SELECT pg_current_wal_lsn() - '0/0'"));
  bool ok = eventually([&] { return confirmed_flush(sql, slot) >= target; }, std::chrono::seconds(60));
  REQUIRE(ok);
}

// Waits until the warehouse's stored offsets reach the end of every topic.
void wait_loaded(Sql& wh, Loader& loader, const std::string& name, const std::vector<std::string>& topics,
                 std::chrono::seconds timeout = std::chrono::seconds(60)) {
  bool ok = eventually(
      [&] {
        if (!loader.running()) FAIL("the loader exited:\n" << loader.log());
        if (wh.scalar("SELECT to_regclass('wh_" + name + "._tombsync_loader_offsets') IS NULL") == "t") return false;
        for (const auto& t : topics) {
          auto stored = wh.scalar("SELECT coalesce(sum(next_offset), 0) FROM wh_" + name +
                                  "._tombsync_loader_offsets WHERE consumer_group = '" + name + "' AND topic = '" + t +
                                  "'");
          if (std::stoull(stored.value_or("0")) != topic_end_offsets(t)) return false;
        }
        return true;
      },
      timeout);
  if (!ok) FAIL("the loader did not catch up:\n" << loader.log());
}

int64_t micros_now(Sql& sql) { return std::stoll(*sql.scalar("SELECT (extract(epoch FROM clock_timestamp()) * 1e6)::bigint")); }

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

// The source of the random workload: what exists, so each operation picks a real target.
struct Model {
  struct Row {
    std::string email;
    bool soft_deleted = false;
  };
  std::map<int, Row> a;                     // source table A, soft-deleted rows included
  std::set<std::pair<std::string, int>> b;  // source table B keys
  std::vector<std::string> freed_emails;    // of hard-deleted rows: reusable at once
  // Hard-deleted keys and when: bracket of the deleting transaction, or the
  // exact soft-delete time kept by a truncate (a flagged row keeps its deleted_at).
  std::map<int, std::pair<std::optional<Bracket>, std::optional<std::string>>> a_deleted;
  std::map<std::pair<std::string, int>, Bracket> b_deleted;
  int next_id = 1, next_n = 1, next_email = 1;
  size_t ops = 0;
};

template <class Map>
auto pick(std::mt19937& rng, const Map& m) {
  auto it = m.begin();
  std::advance(it, std::uniform_int_distribution<size_t>(0, m.size() - 1)(rng));
  return it;
}

std::string q(const std::string& s) { return "'" + s + "'"; }

// Runs ~`ops` random operations in transactions of 1-8 on tables A (id, email unique among
// rows not soft-deleted, counter, body sometimes TOASTed, removed_at = soft delete) and
// B (composite key), with one TRUNCATE of A a third of the way in.
void random_workload(Sql& sql, const std::string& a, const std::string& b, Model& m, size_t ops, unsigned seed) {
  std::mt19937 rng(seed);
  auto chance = [&](int pct) { return std::uniform_int_distribution<int>(0, 99)(rng) < pct; };
  bool truncated = false;
  auto big = [] { return "(SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 300))"; };
  while (m.ops < ops) {
    if (!truncated && m.ops >= ops / 3) {
      truncated = true;
      auto soft = sql.query("SELECT id, removed_at::text FROM " + a + " WHERE removed_at IS NOT NULL");
      sql.exec("BEGIN");
      sql.exec("TRUNCATE " + a);
      Bracket br = commit(sql);
      std::map<int, std::string> removed;
      for (auto& r : soft) removed[std::stoi(*r[0])] = *r[1];
      for (auto& [id, row] : m.a) {
        if (row.soft_deleted) m.a_deleted[id] = {std::nullopt, removed.at(id)};
        else m.a_deleted[id] = {br, std::nullopt};
        m.freed_emails.push_back(row.email);
      }
      m.a.clear();
      ++m.ops;
      continue;
    }
    sql.exec("BEGIN");
    std::vector<int> hard_deleted_a;
    std::vector<std::pair<std::string, int>> hard_deleted_b;
    int n = std::uniform_int_distribution<int>(1, 8)(rng);
    for (int i = 0; i < n; ++i, ++m.ops) {
      int roll = std::uniform_int_distribution<int>(0, 99)(rng);
      std::vector<int> live;  // rows of A not soft-deleted (bounded scan: the model is small)
      if (roll >= 25 && roll < 80)
        for (auto& [id, row] : m.a)
          if (!row.soft_deleted) live.push_back(id);
      if (roll < 20 || m.a.size() < 5) {  // insert into A
        int id = m.next_id++;
        std::string email;
        if (!m.freed_emails.empty() && chance(30)) {
          email = m.freed_emails.back();  // a value a deleted row held, maybe on another partition
          m.freed_emails.pop_back();
        } else {
          email = "e" + std::to_string(m.next_email++) + "@x";
        }
        sql.exec("INSERT INTO " + a + " (id, email, counter, body) VALUES (" + std::to_string(id) + ", " + q(email) +
                 ", 0, " + (chance(15) ? big() : q("short " + std::to_string(id))) + ")");
        m.a[id] = {email, false};
      } else if (roll < 25) {  // insert into B
        std::pair<std::string, int> k{chance(50) ? "eu" : "us", m.next_n++};
        sql.exec("INSERT INTO " + b + " VALUES (" + q(k.first) + ", " + std::to_string(k.second) + ", 0)");
        m.b.insert(k);
      } else if (roll < 45 && !live.empty()) {  // counter++: a TOASTed body travels as unchanged
        int id = live[std::uniform_int_distribution<size_t>(0, live.size() - 1)(rng)];
        sql.exec("UPDATE " + a + " SET counter = counter + 1 WHERE id = " + std::to_string(id));
      } else if (roll < 50 && !live.empty()) {  // body changes
        int id = live[std::uniform_int_distribution<size_t>(0, live.size() - 1)(rng)];
        sql.exec("UPDATE " + a + " SET body = " + (chance(30) ? big() : q("b" + std::to_string(m.ops))) +
                 " WHERE id = " + std::to_string(id));
      } else if (roll < 57 && live.size() >= 2) {  // email moves from one key to another
        int k1 = live[std::uniform_int_distribution<size_t>(0, live.size() - 1)(rng)];
        int k2 = live[std::uniform_int_distribution<size_t>(0, live.size() - 1)(rng)];
        if (k1 == k2) continue;
        std::string e = m.a[k1].email, fresh = "e" + std::to_string(m.next_email++) + "@x";
        sql.exec("UPDATE " + a + " SET email = " + q(fresh) + " WHERE id = " + std::to_string(k1) + "; UPDATE " + a +
                 " SET email = " + q(e) + " WHERE id = " + std::to_string(k2));
        m.a[k1].email = fresh;
        m.a[k2].email = e;
      } else if (roll < 65 && !live.empty()) {  // soft delete
        int id = live[std::uniform_int_distribution<size_t>(0, live.size() - 1)(rng)];
        sql.exec("UPDATE " + a + " SET removed_at = clock_timestamp() WHERE id = " + std::to_string(id));
        m.a[id].soft_deleted = true;
      } else if (roll < 70) {  // restore, or touch a soft-deleted row (still deleted)
        std::vector<int> soft;
        for (auto& [id, row] : m.a)
          if (row.soft_deleted) soft.push_back(id);
        if (soft.empty()) continue;
        int id = soft[std::uniform_int_distribution<size_t>(0, soft.size() - 1)(rng)];
        if (chance(70)) {
          sql.exec("UPDATE " + a + " SET removed_at = NULL WHERE id = " + std::to_string(id));
          m.a[id].soft_deleted = false;
        } else {
          sql.exec("UPDATE " + a + " SET counter = counter + 1 WHERE id = " + std::to_string(id));
        }
      } else if (roll < 80 && !m.a.empty()) {  // hard delete
        int id = pick(rng, m.a)->first;
        sql.exec("DELETE FROM " + a + " WHERE id = " + std::to_string(id));
        m.freed_emails.push_back(m.a[id].email);
        m.a.erase(id);
        hard_deleted_a.push_back(id);
      } else if (roll < 85 && !m.a.empty()) {  // primary-key change: the old key is deleted
        int id = pick(rng, m.a)->first;
        int to = m.next_id++;
        sql.exec("UPDATE " + a + " SET id = " + std::to_string(to) + " WHERE id = " + std::to_string(id));
        m.a[to] = m.a[id];
        m.a.erase(id);
        hard_deleted_a.push_back(id);
      } else if (roll < 92 && !m.b.empty()) {
        auto k = *pick(rng, m.b);
        sql.exec("UPDATE " + b + " SET val = val + 1 WHERE region = " + q(k.first) + " AND n = " +
                 std::to_string(k.second));
      } else if (roll < 96 && !m.b.empty()) {
        auto k = *pick(rng, m.b);
        sql.exec("DELETE FROM " + b + " WHERE region = " + q(k.first) + " AND n = " + std::to_string(k.second));
        m.b.erase(k);
        hard_deleted_b.push_back(k);
      } else if (!m.b.empty()) {  // composite key change
        auto k = *pick(rng, m.b);
        std::pair<std::string, int> to{k.first == "eu" ? "us" : "eu", m.next_n++};
        sql.exec("UPDATE " + b + " SET region = " + q(to.first) + ", n = " + std::to_string(to.second) +
                 " WHERE region = " + q(k.first) + " AND n = " + std::to_string(k.second));
        m.b.erase(k);
        m.b.insert(to);
        hard_deleted_b.push_back(k);
      }
    }
    Bracket br = commit(sql);
    for (int id : hard_deleted_a)
      if (!m.a.count(id)) m.a_deleted[id] = {br, std::nullopt};
    for (auto& k : hard_deleted_b) m.b_deleted[k] = br;
  }
}

using Rows = std::map<std::string, std::vector<std::optional<std::string>>>;

// Rows keyed by their first column's text.
Rows keyed(const std::vector<std::vector<std::optional<std::string>>>& rows) {
  Rows out;
  for (const auto& r : rows) out[r[0].value_or("NULL")] = std::vector(r.begin() + 1, r.end());
  return out;
}

}  // namespace

TEST_CASE("random workload of 10k operations: the warehouse equals the source, every deleted key flagged",
          "[integration][loader]") {
  const auto& env = ServiceEnv::get();
  std::string n = unique_name("wl");
  std::string a = n + "_a", b = n + "_b";
  Sql sql(env.pg_dsn);
  sql.exec("CREATE TABLE " + a + " (id int PRIMARY KEY, email text NOT NULL, counter int NOT NULL, body text, "
           "removed_at timestamptz)");
  sql.exec("CREATE UNIQUE INDEX " + a + "_email ON " + a + " (email) WHERE removed_at IS NULL");
  sql.exec("CREATE TABLE " + b + " (region text, n int, val int, PRIMARY KEY (region, n))");

  Agent agent({.name = n, .tables = {"public." + b},
               .table_yaml = "    - name: public." + a + "\n      soft_delete_column: removed_at\n"});
  agent.start();
  agent.wait_streaming();
  Loader loader(loader_args(n, "public." + a + ",public." + b));
  loader.start();

  Model model;
  auto started = std::chrono::steady_clock::now();
  random_workload(sql, a, b, model, 10000, 20261123);
  auto workload_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  wait_agent_flushed(sql, n);
  Sql wh(env.pg_dsn);
  wait_loaded(wh, loader, n, {agent.topic("public." + a), agent.topic("public." + b)});
  auto total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  WARN("workload: " << model.ops << " operations in " << workload_s << " s; warehouse caught up " << total_s
                    << " s after the start; " << topic_end_offsets(agent.topic("public." + a)) + topic_end_offsets(agent.topic("public." + b))
                    << " Kafka records");
  REQUIRE(model.ops >= 10000);
  INFO("loader log:\n" << loader.log().substr(0, 20000));

  std::string whs = "wh_" + n + ".";
  const std::string micros = "(extract(epoch FROM deleted_at) * 1e6)::bigint";
  {  // table A: live rows equal, soft-deleted rows flagged at removed_at, hard-deleted keys flagged at commit
    auto src = keyed(sql.query("SELECT id, email, counter, md5(body), removed_at::text FROM " + a));
    auto dst = keyed(wh.query("SELECT id, email, counter, md5(body), removed_at::text, is_deleted::text, deleted_at::text, " +
                              micros + " FROM " + whs + a));
    size_t live = 0, soft = 0, checked_deleted = 0;
    for (const auto& [id, row] : src) {
      INFO("source row " << id);
      REQUIRE(dst.count(id) == 1);
      const auto& w = dst.at(id);
      CHECK(std::vector(w.begin(), w.begin() + 4) == row);
      if (!row[3]) {
        ++live;
        CHECK(w[4] == "false");
        CHECK_FALSE(w[5].has_value());
      } else {
        ++soft;
        CHECK(w[4] == "true");
        CHECK(w[5] == row[3]);  // deleted_at is the soft-delete column's value
      }
    }
    for (const auto& [id, when] : model.a_deleted) {
      std::string key = std::to_string(id);
      if (src.count(key)) continue;  // (never: ids are not reused)
      INFO("deleted key " << key);
      REQUIRE(dst.count(key) == 1);
      const auto& w = dst.at(key);
      CHECK(w[4] == "true");
      if (when.second) {
        CHECK(w[5] == *when.second);
      } else {
        REQUIRE(w[6].has_value());
        CHECK(std::stoll(*w[6]) >= when.first->lo);
        CHECK(std::stoll(*w[6]) <= when.first->hi);
      }
      ++checked_deleted;
    }
    CHECK(dst.size() == src.size() + checked_deleted);  // nothing else in the warehouse
    CHECK(wh.scalar("SELECT count(*) FROM " + whs + a + "_active") == std::to_string(live));
    auto unique = wh.scalar("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = '" + whs + a +
                            "'::regclass AND conname = '" + a + "_email'");
    REQUIRE(unique.has_value());
    CHECK(*unique == "EXCLUDE USING btree (email WITH =) WHERE (((removed_at IS NULL) AND (NOT is_deleted))) "
                     "DEFERRABLE INITIALLY DEFERRED");
    WARN("table A: " << live << " live rows, " << soft << " soft-deleted, " << checked_deleted
                     << " hard-deleted keys (truncate included) checked");
  }
  {  // table B: composite key, primary-key changes
    auto src = keyed(sql.query("SELECT region || '/' || n, val::text FROM " + b));
    auto dst = keyed(wh.query("SELECT region || '/' || n, val::text, is_deleted::text, " + micros + " FROM " + whs + b));
    for (const auto& [key, row] : src) {
      INFO("source row " << key);
      REQUIRE(dst.count(key) == 1);
      CHECK(dst.at(key)[0] == row[0]);
      CHECK(dst.at(key)[1] == "false");
    }
    for (const auto& [k, br] : model.b_deleted) {
      std::string key = k.first + "/" + std::to_string(k.second);
      INFO("deleted key " << key);
      REQUIRE(dst.count(key) == 1);
      CHECK(dst.at(key)[1] == "true");
      CHECK(std::stoll(*dst.at(key)[2]) >= br.lo);
      CHECK(std::stoll(*dst.at(key)[2]) <= br.hi);
    }
    CHECK(dst.size() == src.size() + model.b_deleted.size());
  }
  CHECK(loader.stop(SIGTERM) == 0);
  CHECK(agent.stop(SIGTERM) == 0);
  wh.exec("DROP SCHEMA wh_" + n + " CASCADE");
}

TEST_CASE("loader killed with SIGKILL mid-stream and restarted: no record applied twice, none skipped",
          "[integration][loader]") {
  const auto& env = ServiceEnv::get();
  std::string n = unique_name("wlkill");
  Sql sql(env.pg_dsn);
  sql.exec("CREATE TABLE " + n + " (id int PRIMARY KEY, counter int NOT NULL, note text)");
  Agent agent({.name = n, .tables = {"public." + n}});
  agent.start();
  agent.wait_streaming();
  // Small batches so that a kill lands between and inside many warehouse transactions.
  auto args = loader_args(n, "public." + n, {"--batch-records", "50"});
  auto first = std::make_unique<Loader>(args);
  first->start();

  // Every write the loader makes to a row is audited with the position it applied: a record
  // applied twice shows twice, a record skipped is missing.
  Sql wh(env.pg_dsn);
  std::string table = "wh_" + n + "." + n;
  REQUIRE(eventually([&] { return wh.scalar("SELECT to_regclass('" + table + "') IS NOT NULL") == "t"; },
                     std::chrono::seconds(30)));
  wh.exec("CREATE TABLE wh_" + n + ".audit (id int, lsn pg_lsn, seq bigint)");
  wh.exec("CREATE FUNCTION wh_" + n + ".audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
          "INSERT INTO wh_" + n + ".audit VALUES (NEW.id, NEW._synced_lsn, NEW._synced_seq); RETURN NEW; END $$");
  wh.exec("CREATE TRIGGER audit AFTER INSERT OR UPDATE ON " + table + " FOR EACH ROW EXECUTE FUNCTION wh_" + n +
          ".audit()");

  std::thread writer([&] {
    Sql w(env.pg_dsn);
    std::mt19937 rng(7);
    for (int i = 0; i < 2500; ++i) {
      int id = std::uniform_int_distribution<int>(1, 400)(rng);
      int op = std::uniform_int_distribution<int>(0, 9)(rng);
      std::string s = std::to_string(id);
      if (op < 5)
        w.exec("INSERT INTO " + n + " VALUES (" + s + ", 0, 'n') ON CONFLICT (id) DO UPDATE SET counter = " + n +
               ".counter + 1");
      else if (op < 8)
        w.exec("UPDATE " + n + " SET counter = counter + 1, note = 'u" + std::to_string(i) + "' WHERE id = " + s);
      else
        w.exec("DELETE FROM " + n + " WHERE id = " + s);
      std::this_thread::sleep_for(std::chrono::microseconds(1500));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  CHECK(first->stop(SIGKILL) == 128 + SIGKILL);
  auto second = std::make_unique<Loader>(args);
  second->start();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  CHECK(second->stop(SIGKILL) == 128 + SIGKILL);
  Loader third(args);
  third.start();
  writer.join();
  wait_agent_flushed(sql, n);
  wait_loaded(wh, third, n, {agent.topic("public." + n)});
  INFO("first run:\n" << first->log() << "\nsecond run:\n" << second->log() << "\nthird run:\n" << third.log());

  // What Kafka holds: every row image (inserts, updates, delete events) with its position.
  auto records = read_topic(agent.topic("public." + n), topic_end_offsets(agent.topic("public." + n)));
  std::multiset<std::string> expected;
  for (const auto& r : records)
    if (r.value) expected.insert(r.headers.at("tombsync.commit_lsn") + ":" + r.headers.at("tombsync.seq"));
  std::multiset<std::string> applied;
  for (const auto& row : wh.query("SELECT lsn::text || ':' || seq FROM wh_" + n + ".audit")) applied.insert(*row[0]);
  size_t doubled = 0, skipped = 0;
  for (const auto& p : applied)
    if (applied.count(p) > 1) ++doubled;
  for (const auto& p : expected)
    if (!applied.count(p)) ++skipped;
  WARN("kill -9 twice: " << records.size() << " Kafka records, " << expected.size() << " row images, "
                         << applied.size() << " applied, " << doubled << " applied twice, " << skipped << " skipped");
  CHECK(doubled == 0);
  CHECK(skipped == 0);
  CHECK(applied.size() == expected.size());
  CHECK(second->log().find("from the offsets stored in the warehouse") != std::string::npos);

  // And the copy equals the source.
  auto src = keyed(sql.query("SELECT id, counter::text, note FROM " + n));
  auto dst = keyed(wh.query("SELECT id, counter::text, note, is_deleted::text FROM " + table));
  for (const auto& [id, row] : src) {
    INFO("row " << id);
    REQUIRE(dst.count(id) == 1);
    CHECK(dst.at(id) == std::vector<std::optional<std::string>>{row[0], row[1], "false"});
  }
  for (const auto& [id, row] : dst)
    if (!src.count(id)) CHECK(row[2] == "true");
  CHECK(third.stop(SIGTERM) == 0);
  CHECK(agent.stop(SIGTERM) == 0);
  wh.exec("DROP SCHEMA wh_" + n + " CASCADE");
}

TEST_CASE("loader: partial unique index, active view, unchanged TOAST, restore, tombstone and retention purges",
          "[integration][loader]") {
  const auto& env = ServiceEnv::get();
  std::string n = unique_name("wlfeat");
  Sql sql(env.pg_dsn);
  sql.exec("CREATE TABLE " + n + " (id int PRIMARY KEY, email text UNIQUE, body text, deleted_at timestamptz)");
  Agent agent({.name = n, .table_yaml = "    - name: public." + n + "\n      soft_delete_column: deleted_at\n"});
  agent.start();
  agent.wait_streaming();
  sql.exec("INSERT INTO " + n + " VALUES (1, 'a@x', 'one', NULL), (3, 'c@x', 'three', NULL)");
  sql.exec("INSERT INTO " + n + " SELECT 2, 'b@x', string_agg(md5(i::text), ''), NULL FROM generate_series(1, 400) i");
  sql.exec("DELETE FROM " + n + " WHERE id = 1");
  sql.exec("INSERT INTO " + n + " VALUES (4, 'a@x', 'four', NULL)");  // takes the deleted row's unique value
  sql.exec("UPDATE " + n + " SET email = 'b2@x' WHERE id = 2");        // body stays unchanged TOAST
  sql.exec("UPDATE " + n + " SET deleted_at = '2024-05-01 10:00:00.5+00' WHERE id = 3");  // soft delete
  sql.exec("UPDATE " + n + " SET deleted_at = NULL, body = 'three again' WHERE id = 3");  // restore
  sql.exec("UPDATE " + n + " SET deleted_at = '2024-05-02 00:00:00+00' WHERE id = 4");   // soft delete, stays
  wait_agent_flushed(sql, n);
  Sql wh(env.pg_dsn);
  std::string t = "wh_" + n + "." + n;
  auto rows = [&](const std::string& table) {
    return keyed(wh.query("SELECT id, email, md5(body), is_deleted::text, deleted_at::text FROM " + table));
  };

  {  // default: tombstones keep the flagged row
    Loader loader(loader_args(n, "public." + n));
    loader.start();
    wait_loaded(wh, loader, n, {agent.topic("public." + n)});
    INFO(loader.log());
    auto w = rows(t);
    REQUIRE(w.size() == 4);
    CHECK(w["1"][2] == "true");
    CHECK(w["1"][3].has_value());
    CHECK(w["2"][0] == "b2@x");
    CHECK(w["2"][1] == sql.scalar("SELECT md5(body) FROM " + n + " WHERE id = 2"));  // TOAST value kept
    CHECK(w["3"][2] == "false");
    CHECK_FALSE(w["3"][3].has_value());
    CHECK(w["3"][1] == sql.scalar("SELECT md5('three again')"));
    CHECK(w["4"][2] == "true");
    CHECK(w["4"][3] == "2024-05-02 00:00:00+00");
    CHECK(keyed(wh.query("SELECT id FROM " + t + "_active")).size() == 2);
    // The source's UNIQUE (email) holds among rows not deleted, checked at commit.
    auto unique = wh.scalar("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = '" + t +
                            "'::regclass AND conname = '" + n + "_email_key'");
    CHECK(unique == "EXCLUDE USING btree (email WITH =) WHERE ((NOT is_deleted)) DEFERRABLE INITIALLY DEFERRED");
    CHECK_THROWS(wh.exec("INSERT INTO " + t + " (id, email, _synced_lsn, _synced_seq) VALUES (99, 'b2@x', '0/0', 0)"));
    wh.exec("INSERT INTO " + t + " (id, email, is_deleted, _synced_lsn, _synced_seq) VALUES (99, 'b2@x', true, '0/0', 0)");
    wh.exec("DELETE FROM " + t + " WHERE id = 99");
    CHECK(loader.log().find("batch applied: public." + n) != std::string::npos);
    CHECK(loader.stop(SIGTERM) == 0);
  }
  {  // --purge-tombstones, into a second schema: hard-deleted keys are gone, soft-deleted ones too
    std::string n2 = n + "_p";
    auto args = loader_args(n, "public." + n, {"--purge-tombstones"});
    for (auto& arg : args)
      if (arg == "wh_" + n) arg = "wh_" + n2;
    Loader loader(args);
    loader.start();
    bool ok = eventually(
        [&] {
          if (wh.scalar("SELECT to_regclass('wh_" + n2 + "._tombsync_loader_offsets') IS NULL") == "t") return false;
          return wh.scalar("SELECT sum(next_offset) FROM wh_" + n2 + "._tombsync_loader_offsets") ==
                 std::to_string(topic_end_offsets(agent.topic("public." + n)));
        },
        std::chrono::seconds(60));
    INFO(loader.log());
    REQUIRE(ok);
    auto w = rows("wh_" + n2 + "." + n);
    CHECK(w.size() == 2);
    CHECK(w.count("2") == 1);
    CHECK(w.count("3") == 1);
    CHECK(loader.stop(SIGTERM) == 0);
    wh.exec("DROP SCHEMA wh_" + n2 + " CASCADE");
  }
  {  // --purge-deleted-after: flagged rows older than the retention go; live ones stay
    Loader loader(loader_args(n, "public." + n, {"--purge-deleted-after", "1h"}));
    loader.start();
    bool ok = eventually([&] { return rows(t).count("4") == 0; }, std::chrono::seconds(30));
    INFO(loader.log());
    CHECK(ok);
    CHECK(loader.log().find("purged 1 rows") != std::string::npos);
    CHECK(rows(t).size() == 3);  // 4 was soft-deleted in 2024; 1, deleted a moment ago, stays
    CHECK(loader.stop(SIGTERM) == 0);
  }
  CHECK(agent.stop(SIGTERM) == 0);
  wh.exec("DROP SCHEMA wh_" + n + " CASCADE");
}

TEST_CASE("loader: bad arguments exit 2, unreachable services exit 1, each with one line naming the fix",
          "[integration][loader]") {
  const auto& env = ServiceEnv::get();
  {
    Loader l({"--brokers", env.kafka_brokers, "--table", "public.x"});
    CHECK(l.run_to_exit() == 2);
    CHECK(l.log().find("--source-dsn is required") != std::string::npos);
  }
  {
    Loader l({"--purge-deleted-after", "thirty days"});
    CHECK(l.run_to_exit() == 2);
    CHECK(l.log().find("--purge-deleted-after expects a duration") != std::string::npos);
  }
  {
    Loader l({"--brokers", env.kafka_brokers, "--source-dsn", "host=127.0.0.1 port=1 dbname=app user=x",
              "--warehouse-dsn", env.pg_dsn, "--topic-prefix", "p", "--table", "public.x"});
    CHECK(l.run_to_exit() == 1);
    CHECK(l.log().find("--source-dsn: cannot connect to Postgres") != std::string::npos);
  }
  {
    std::string n = unique_name("wlbad");
    Sql sql(env.pg_dsn);
    sql.exec("CREATE TABLE " + n + " (id int PRIMARY KEY)");
    Loader l({"--brokers", "127.0.0.1:1", "--source-dsn", env.pg_dsn, "--warehouse-dsn", env.pg_dsn,
              "--warehouse-schema", "wh_" + n, "--topic-prefix", n, "--table", "public." + n});
    CHECK(l.run_to_exit() == 1);
    CHECK(l.log().find("cannot reach Kafka at 127.0.0.1:1") != std::string::npos);
    sql.exec("DROP SCHEMA IF EXISTS wh_" + n + " CASCADE");
    Loader missing({"--brokers", env.kafka_brokers, "--source-dsn", env.pg_dsn, "--warehouse-dsn", env.pg_dsn,
                    "--topic-prefix", n, "--table", "public.no_such_table"});
    CHECK(missing.run_to_exit() == 1);
    CHECK(missing.log().find("source table public.no_such_table does not exist") != std::string::npos);
  }
}

// The loader orders by the headers' (commit_lsn, seq); the value's __pos is the same position as one
// number (docs/event-format.md "Position"). A record where the two disagree is refused, not applied.
TEST_CASE("loader: a record whose __pos disagrees with its position headers stops it with one line",
          "[integration][loader]") {
  const auto& env = ServiceEnv::get();
  const std::string n = unique_name("wlpos");
  Sql sql(env.pg_dsn);
  sql.exec("CREATE TABLE " + n + " (id int PRIMARY KEY)");
  const std::string topic = n + ".public." + n;
  create_topic_with(topic, 1, {});
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", env.kafka_brokers.c_str(), err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  REQUIRE(rk != nullptr);
  const std::string key = R"({"id":1})";
  // 0/16B3F00 * 2^32 + 3 = 102244685778518019; the value says 0/16B3F00 with seq 4.
  const std::string value = R"({"id":1,"is_deleted":false,"deleted_at":null,"__op":"insert","__pos":"102244685778518020"})";
  rd_kafka_headers_t* h = rd_kafka_headers_new(4);
  rd_kafka_header_add(h, "tombsync.op", -1, "insert", -1);
  rd_kafka_header_add(h, "tombsync.commit_ts", -1, "2026-12-06T00:00:00.000000Z", -1);
  rd_kafka_header_add(h, "tombsync.commit_lsn", -1, "0/16B3F00", -1);
  rd_kafka_header_add(h, "tombsync.seq", -1, "3", -1);
  REQUIRE(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_KEY(key.data(), key.size()),
                            RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(h),
                            RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR_NO_ERROR);
  REQUIRE(rd_kafka_flush(rk, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy(rk);

  Loader l(loader_args(n, "public." + n));
  CHECK(l.run_to_exit() == 1);
  INFO(l.log());
  CHECK(l.log().find("has __pos \"102244685778518020\", which is not its headers' position 0/16B3F00:3") !=
        std::string::npos);
  CHECK(sql.scalar("SELECT count(*) FROM wh_" + n + "." + n) == "0");
  sql.exec("DROP SCHEMA IF EXISTS wh_" + n + " CASCADE");
}
