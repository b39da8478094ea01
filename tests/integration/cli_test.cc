// `tombsync check` and `tombsync status` against the real services: check
// reports every pre-flight item (PASS/FAIL/SKIP with the fix) and creates
// nothing; status shows the cursor, the slot's positions and the lag, also
// while an agent streams.
#include <catch2/catch.hpp>

#include <librdkafka/rdkafka.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <atomic>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "state/cursor_store.h"
#include "tests/integration/harness.h"
#include "base/lsn.h"

using namespace tombsync::it;
using nlohmann::json;

namespace {

struct CliResult {
  int code = -1;
  std::string out, err;
  std::vector<std::string> lines() const {
    std::vector<std::string> v;
    std::istringstream in(out);
    for (std::string l; std::getline(in, l);) v.push_back(l);
    return v;
  }
  size_t all_unknown() const {
    size_t k = 0;
    for (const auto& l : lines()) k += l.rfind("UNKNOWN  ", 0) == 0;
    return k;
  }
  // The first line starting with `status` ("PASS", "FAIL", "SKIP") that contains every part.
  std::optional<std::string> line(const std::string& status, const std::vector<std::string>& parts) const {
    for (const auto& l : lines()) {
      if (l.rfind(status + "  ", 0) != 0) continue;
      bool all = true;
      for (const auto& p : parts) all = all && l.find(p) != std::string::npos;
      if (all) return l;
    }
    return std::nullopt;
  }
};

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Runs the tombsync binary with `args`, stdout and stderr captured apart.
CliResult run_cli(const std::vector<std::string>& args, std::chrono::seconds timeout = std::chrono::seconds(60)) {
  std::string dir = (std::filesystem::temp_directory_path() / unique_name("cli")).string();
  std::filesystem::create_directories(dir);
  std::string out_path = dir + "/out", err_path = dir + "/err";
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    FILE* o = std::fopen(out_path.c_str(), "w");
    FILE* e = std::fopen(err_path.c_str(), "w");
    if (o) dup2(fileno(o), STDOUT_FILENO);
    if (e) dup2(fileno(e), STDERR_FILENO);
    std::vector<char*> argv{const_cast<char*>(TOMBSYNC_BINARY)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(TOMBSYNC_BINARY, argv.data());
    _exit(127);
  }
  int status = 0;
  bool done = eventually([&] { return waitpid(pid, &status, WNOHANG) == pid; }, timeout);
  if (!done) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  CliResult r;
  r.out = slurp(out_path);
  r.err = slurp(err_path);
  std::filesystem::remove_all(dir);
  if (!done) FAIL("tombsync " << args[0] << " did not exit in time:\n" << r.out << r.err);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

CliResult check(const Agent& agent, bool as_json = false) {
  std::vector<std::string> args{"check", "--config", agent.config_path()};
  if (as_json) args.push_back("--json");
  return run_cli(args);
}

CliResult status(const Agent& agent, bool as_json = false) {
  std::vector<std::string> args{"status", "--config", agent.config_path()};
  if (as_json) args.push_back("--json");
  return run_cli(args);
}

// Whether the broker knows `topic`, asked so that nothing is created: all topics, no auto-create.
bool topic_exists(const std::string& topic) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", ServiceEnv::get().kafka_brokers.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "allow.auto.create.topics", "false", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  REQUIRE(rk != nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  auto rc = rd_kafka_metadata(rk, 1, nullptr, &md, 10000);
  bool found = false;
  if (rc == RD_KAFKA_RESP_ERR_NO_ERROR) {
    for (int i = 0; i < md->topic_cnt; ++i) found = found || topic == md->topics[i].topic;
    rd_kafka_metadata_destroy(md);
  }
  rd_kafka_destroy(rk);
  REQUIRE(rc == RD_KAFKA_RESP_ERR_NO_ERROR);
  return found;
}

std::string wrong_password(const std::string& dsn) {
  return std::regex_replace(dsn, std::regex("password=\\S+"), "password=wrong");
}

uint64_t lsn_value(const json& j) {
  REQUIRE(j.is_string());
  auto l = tombsync::Lsn::parse(j.get<std::string>());
  REQUIRE(l.has_value());
  return l->value();
}

}  // namespace

TEST_CASE("check passes every item on a good setup and creates nothing", "[integration][cli]") {
  const auto& env = ServiceEnv::get();
  std::string n = unique_name("chkok");
  Sql sql(env.pg_dsn);
  sql.exec("CREATE TABLE " + n + " (id int PRIMARY KEY, v text)");
  Agent agent({.name = n, .tables = {"public." + n}});

  auto r = check(agent);
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  auto lines = r.lines();
  REQUIRE(lines.size() >= 2);
  // Every item passes. The test broker runs no authorizer (its authorizer.class.name is empty), so
  // Write and Read on the topic that does not exist yet need no grant; with ACLs they are UNKNOWN
  // until it exists ([secure] secure_check_test.cc).
  for (size_t i = 0; i + 1 < lines.size(); ++i) CHECK(lines[i].rfind("PASS  ", 0) == 0);
  CHECK(r.all_unknown() == 0);
  CHECK(r.line("PASS", {"Write needs no grant: the broker runs no authorizer"}));
  CHECK(r.line("PASS", {"Read needs no grant: the broker runs no authorizer"}));
  CHECK(lines.back().find("check: all ") != std::string::npos);
  std::string table = "public." + n;
  for (const auto& parts : std::vector<std::vector<std::string>>{
           {"config", "is valid"},
           {"Postgres reachable", "user=tombsync"},
           {"wal_level = logical"},
           {"max_replication_slots = ", "free"},
           {"max_wal_senders = ", "free"},
           {"role tombsync may replicate"},
           {"replication connection works"},
           {"table " + table + " exists"},
           {"may SELECT from " + table},
           {"table " + table + ": key (id) from primary key, replica identity default"},
           {"publication " + n + " does not exist; run will create it", "owns the tables"},
           {"replication slot " + n + " does not exist; run will create it"},
           {"Kafka reachable at " + env.kafka_brokers},
           {"Kafka topic " + n + "." + table + " does not exist; the broker will create it"},
           {"state_dir", "run will create it"},
           {"no cursor for slot " + n}})
    CHECK(r.line("PASS", parts));
  CHECK(r.out.find("password") == std::string::npos);  // no DSN in the report

  auto j = check(agent, true);
  INFO(j.out);
  CHECK(j.code == 0);
  auto doc = json::parse(j.out);
  CHECK(doc["ok"] == true);
  CHECK(doc["failed"] == 0);
  CHECK(doc["skipped"] == 0);
  CHECK(doc["unknown"] == 0);
  std::set<std::string> checks;
  for (const auto& item : doc["items"]) {
    CHECK(item["status"] == "pass");
    checks.insert(item["check"].get<std::string>());
  }
  for (const char* c : {"config", "postgres.login", "postgres.wal_level", "postgres.replication_slots",
                        "postgres.wal_senders", "postgres.replication_role", "postgres.replication_connection",
                        "table.exists", "table.select", "table.key", "publication", "slot", "kafka.reachable",
                        "kafka.topic", "kafka.describe", "kafka.create", "kafka.write", "kafka.read",
                        "kafka.idempotent_write", "state_dir", "state.cursor"})
    CHECK(checks.count(c) == 1);

  // Read-only: no publication, no slot, no topic, no state_dir.
  CHECK(sql.scalar("SELECT count(*) FROM pg_publication WHERE pubname = '" + n + "'") == "0");
  CHECK(sql.scalar("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '" + n + "'") == "0");
  CHECK_FALSE(topic_exists(n + "." + table));
  CHECK_FALSE(std::filesystem::exists(agent.state_dir()));
}

TEST_CASE("check reports a missing table and a keyless table, with the fix, and goes on", "[integration][cli]") {
  const auto& env = ServiceEnv::get();
  std::string n = unique_name("chkbad");
  Sql sql(env.pg_dsn);
  sql.exec("CREATE TABLE " + n + "_keyless (a int, b text)");
  sql.exec("CREATE TABLE " + n + "_good (id int PRIMARY KEY)");
  Agent agent({.name = n, .tables = {"public." + n + "_nope", "public." + n + "_keyless", "public." + n + "_good"}});

  auto r = check(agent);
  INFO(r.out << r.err);
  CHECK(r.code == 1);
  CHECK(r.line("FAIL", {"table public." + n + "_nope (source.tables) does not exist in database app",
                        "create it or remove it from source.tables"}));
  CHECK(r.line("SKIP", {"table public." + n + "_nope: SELECT right", "does not exist"}));
  CHECK(r.line("SKIP", {"table public." + n + "_nope: key", "does not exist"}));
  CHECK(r.line("FAIL", {"table public." + n + "_keyless has no primary key", "ADD PRIMARY KEY",
                        "REPLICA IDENTITY USING INDEX", "key_columns", "allow_keyless: true"}));
  // Every other item is still checked.
  CHECK(r.line("PASS", {"table public." + n + "_good: key (id)"}));
  CHECK(r.line("PASS", {"wal_level = logical"}));
  CHECK(r.line("PASS", {"Kafka reachable"}));
  CHECK(r.line("PASS", {"publication " + n + " does not exist; run will create it"}));
  CHECK(r.lines().back().find("2 of") != std::string::npos);

  auto j = check(agent, true);
  CHECK(j.code == 1);
  auto doc = json::parse(j.out);
  CHECK(doc["ok"] == false);
  CHECK(doc["failed"] == 2);
  bool keyless_failed = false;
  for (const auto& item : doc["items"])
    if (item["check"] == "table.key" && item.value("subject", "") == "public." + n + "_keyless")
      keyless_failed = item["status"] == "fail";
  CHECK(keyless_failed);
  CHECK(sql.scalar("SELECT count(*) FROM pg_publication WHERE pubname = '" + n + "'") == "0");
}

TEST_CASE("check with a wrong password fails the login and skips what needs Postgres", "[integration][cli]") {
  const auto& env = ServiceEnv::get();
  std::string n = unique_name("chkpw");
  Agent agent({.name = n, .tables = {"public." + n}, .dsn = wrong_password(env.pg_dsn)});

  auto r = check(agent);
  INFO(r.out << r.err);
  CHECK(r.code == 1);
  CHECK(r.line("FAIL", {"cannot connect to Postgres", "password authentication failed",
                        "check the user and password in source.dsn"}));
  for (const auto& title : {std::string("wal_level"), std::string("max_replication_slots"),
                            std::string("max_wal_senders"), std::string("REPLICATION right"),
                            "table public." + n, "publication " + n, "replication slot " + n})
    CHECK(r.line("SKIP", {title + ": not checked, the Postgres login failed"}));
  // Only the config and what does not need Postgres pass.
  for (const auto& l : r.lines())
    if (l.rfind("PASS  ", 0) == 0)
      CHECK((l.find("config") != std::string::npos || l.find("Kafka") != std::string::npos ||
             l.find("state_dir") != std::string::npos));
  CHECK(r.line("PASS", {"Kafka reachable"}));
  CHECK(r.out.find("password=wrong") == std::string::npos);
}

TEST_CASE("check names a publication the role may not create, and the statement", "[integration][cli]") {
  const auto& env = ServiceEnv::get();
  std::string n = unique_name("chkown");
  Sql owner(env.pg_dsn);
  owner.exec("CREATE TABLE " + n + " (id int PRIMARY KEY)");
  Sql super(env.pg_superuser_dsn);
  super.exec("CREATE ROLE " + n + " LOGIN REPLICATION PASSWORD 'pw'");
  struct DropRole {
    std::string role;
    ~DropRole() {
      try {
        Sql s(ServiceEnv::get().pg_superuser_dsn);
        s.exec("DROP OWNED BY " + role);
        s.exec("DROP ROLE " + role);
      } catch (...) {
      }
    }
  } drop{n};
  owner.exec("GRANT SELECT ON " + n + " TO " + n);
  auto dsn = std::regex_replace(env.pg_dsn, std::regex("user=\\S+"), "user=" + n);
  dsn = std::regex_replace(dsn, std::regex("password=\\S+"), "password=pw");
  Agent agent({.name = n, .tables = {"public." + n}, .dsn = dsn});

  auto r = check(agent);
  INFO(r.out << r.err);
  CHECK(r.code == 1);
  CHECK(r.line("PASS", {"role " + n + " may SELECT from public." + n}));
  CHECK(r.line("FAIL", {"publication " + n + " does not exist and role " + n + " may not create it",
                        "does not own public." + n, "CREATE PUBLICATION \"" + n + "\" FOR TABLE \"public\".\"" + n + "\""}));

  // With create_publication: false the publication must exist: the statement to run.
  Agent no_create({.name = n, .tables = {"public." + n}, .source_yaml = "  create_publication: false\n"});
  auto r2 = check(no_create);
  INFO(r2.out);
  CHECK(r2.code == 1);
  CHECK(r2.line("FAIL", {"publication " + n + " (source.publication) does not exist", "CREATE PUBLICATION",
                         "source.create_publication: true"}));
}

TEST_CASE("check on a server with wal_level=replica fails that item with the fix", "[integration][cli]") {
  ScratchCluster cluster("chkwal", {"wal_level=replica"});
  const std::string& dsn = cluster.dsn;
  {
    Sql sql(dsn);
    sql.exec("CREATE TABLE t (id int PRIMARY KEY)");
  }
  Agent agent({.name = unique_name("chkwal"), .tables = {"public.t"}, .dsn = dsn});
  auto r = check(agent);
  INFO(r.out << r.err);
  CHECK(r.code == 1);
  CHECK(r.line("FAIL", {"wal_level is 'replica'", "ALTER SYSTEM SET wal_level = logical", "restart PostgreSQL"}));
  CHECK(r.line("PASS", {"table public.t: key (id)"}));  // the rest is still checked
}

TEST_CASE("status shows the cursor, the slot and the lag while streaming, and they agree after the stop",
          "[integration][cli]") {
  const auto& env = ServiceEnv::get();
  std::string n = unique_name("status");
  Sql sql(env.pg_dsn);
  sql.exec("CREATE TABLE " + n + " (id int PRIMARY KEY, v text)");
  Agent agent({.name = n, .tables = {"public." + n}});
  agent.start();
  agent.wait_streaming();

  // A workload running meanwhile: many small transactions.
  std::atomic<bool> stop_workload{false};
  std::thread workload([&] {
    Sql w(env.pg_dsn);
    for (int i = 0; !stop_workload; ++i) {
      w.exec("INSERT INTO " + n + " VALUES (" + std::to_string(i) + ", md5(random()::text))");
      if (i % 3 == 0) w.exec("DELETE FROM " + n + " WHERE id = " + std::to_string(i));
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  struct Join {
    std::atomic<bool>& flag;
    std::thread& t;
    ~Join() {
      flag = true;
      if (t.joinable()) t.join();
    }
  } join{stop_workload, workload};

  json doc;
  bool has_cursor = eventually(
      [&] {
        auto r = status(agent, true);
        if (r.code != 0) return false;
        doc = json::parse(r.out);
        return !doc["cursor"]["lsn"].is_null();
      },
      std::chrono::seconds(30));
  INFO(doc.dump(2));
  REQUIRE(has_cursor);
  CHECK(doc["ok"] == true);
  CHECK(doc["slot"]["exists"] == true);
  CHECK(doc["slot"]["active"] == true);
  CHECK(doc["slot"]["active_pid"].is_number());
  CHECK(doc["slot"]["plugin"] == "pgoutput");
  CHECK(lsn_value(doc["slot"]["confirmed_flush_lsn"]) > 0);
  CHECK(lsn_value(doc["slot"]["restart_lsn"]) > 0);
  CHECK(doc["slot"]["lag_bytes"].is_number_integer());
  CHECK(doc["slot"]["lag_bytes"].get<int64_t>() >= 0);
  CHECK(doc["slot"]["retained_wal_bytes"].get<int64_t>() >= doc["slot"]["lag_bytes"].get<int64_t>());
  CHECK(doc["cursor"]["lag_bytes"].is_number_integer());
  CHECK(doc["cursor"]["agent_pid"].is_number());  // the running agent holds state_dir
  CHECK(doc["cursor"]["matches_source"] == true);
  CHECK(doc["publication"]["exists"] == true);
  CHECK(doc["tables"][0]["name"] == "public." + n);
  CHECK(doc["tables"][0]["in_publication"] == true);
  CHECK(doc["tables"][0]["snapshot"] == "done");  // the table was empty: its snapshot ended at once
  CHECK(doc["tables"][0]["snapshot_rows"] == 0);
  CHECK(doc["source"]["user"] == "tombsync");
  CHECK(doc.dump().find("password") == std::string::npos);

  auto text = status(agent);
  INFO(text.out << text.err);
  CHECK(text.code == 0);
  CHECK(std::regex_search(text.out, std::regex("slot +" + n + ": active \\(pid \\d+\\)")));
  CHECK(std::regex_search(text.out, std::regex("confirmed_flush_lsn +[0-9A-F]+/[0-9A-F]+ +lag \\d+ bytes")));
  CHECK(std::regex_search(text.out, std::regex("restart_lsn +[0-9A-F]+/[0-9A-F]+ +retained WAL \\d+ bytes")));
  CHECK(std::regex_search(text.out, std::regex("cursor +[0-9A-F]+/[0-9A-F]+ +lag -?\\d+ bytes")));
  CHECK(text.out.find("password") == std::string::npos);
  CHECK(std::regex_search(text.out, std::regex("public\\." + n + " -> .*snapshot done \\(0 rows\\)")));

  // check while the agent runs: the slot and state_dir are in use.
  auto busy = check(agent);
  INFO(busy.out);
  CHECK(busy.code == 1);
  CHECK(busy.line("FAIL", {"replication slot " + n, "in use by another connection"}));
  CHECK(busy.line("FAIL", {"state_dir", "is in use by process"}));

  stop_workload = true;
  workload.join();
  CHECK(agent.stop(SIGTERM) == 0);

  auto after = status(agent, true);
  INFO(after.out << after.err);
  REQUIRE(after.code == 0);
  auto fin = json::parse(after.out);
  CHECK(fin["slot"]["active"] == false);
  CHECK(fin["cursor"]["agent_pid"].is_null());
  CHECK(lsn_value(fin["cursor"]["lsn"]) == lsn_value(fin["slot"]["confirmed_flush_lsn"]));
  CHECK(lsn_value(fin["cursor"]["lsn"]) == confirmed_flush(sql, n));
  CHECK(lsn_value(fin["cursor"]["lsn"]) >= lsn_value(doc["cursor"]["lsn"]));

  // A stopped agent's setup passes check again (slot and cursor exist now).
  auto again = check(agent);
  INFO(again.out);
  CHECK(again.code == 0);
  CHECK(again.line("PASS", {"replication slot " + n + " exists: plugin pgoutput"}));
  CHECK(again.line("PASS", {"cursor of slot " + n + " is ", "recorded for this database"}));
  CHECK(again.line("PASS", {"Kafka topic " + n + ".public." + n + " exists"}));
  drop_replication_objects(n);
}

TEST_CASE("check and status compare a stored cursor with the source", "[integration][cli]") {
  const auto& env = ServiceEnv::get();
  std::string n = unique_name("chkcur");
  Sql sql(env.pg_dsn);
  sql.exec("CREATE TABLE " + n + " (id int PRIMARY KEY)");
  auto system_id = Sql(env.pg_superuser_dsn).scalar("SELECT system_identifier::text FROM pg_control_system()").value();

  SECTION("a cursor of another database") {
    Agent agent({.name = n, .tables = {"public." + n}});
    {
      auto store = tombsync::open_rocksdb_cursor_store(agent.state_dir());
      store->save_source_identity(n, "12345/otherdb");
      store->save_confirmed(n, tombsync::Lsn(0x1000));
    }
    auto r = check(agent);
    INFO(r.out);
    CHECK(r.code == 1);
    CHECK(r.line("FAIL", {"holds the cursor of slot " + n + " for source 12345/otherdb, not " + system_id + "/app",
                          "use a fresh state_dir"}));
    auto s = status(agent, true);
    INFO(s.out);
    CHECK(s.code == 1);
    auto doc = json::parse(s.out);
    CHECK(doc["cursor"]["lsn"] == "0/1000");
    CHECK(doc["cursor"]["matches_source"] == false);
    REQUIRE(doc["errors"].size() >= 1);
    CHECK(doc["errors"][0].get<std::string>().find("for source 12345/otherdb") != std::string::npos);
  }
  SECTION("a cursor whose slot is gone") {
    Agent agent({.name = n, .tables = {"public." + n}});
    {
      auto store = tombsync::open_rocksdb_cursor_store(agent.state_dir());
      store->save_source_identity(n, system_id + "/app");
      store->save_confirmed(n, tombsync::Lsn(0x1000));
    }
    auto r = check(agent);
    INFO(r.out);
    CHECK(r.code == 1);
    CHECK(r.line("PASS", {"replication slot " + n + " does not exist; run will create it"}));
    CHECK(r.line("FAIL", {"replication slot " + n + " is gone but state_dir has its cursor 0/1000", "Re-sync"}));
    auto s = status(agent);
    INFO(s.out);
    CHECK(s.code == 1);
    CHECK(s.out.find("error: replication slot " + n + " is gone") != std::string::npos);
    CHECK(std::regex_search(s.out, std::regex("cursor +0/1000 +lag \\d+ bytes")));
    CHECK(s.out.find("slot         " + n + ": does not exist") != std::string::npos);
  }
}

TEST_CASE("check and status refuse a bad config with exit code 2", "[integration][cli]") {
  std::string n = unique_name("chkcfg");
  Agent agent({.name = n, .tables = {"public.x"}, .extra_yaml = "kafka: [unclosed\n"});
  auto r = check(agent);
  INFO(r.out << r.err);
  CHECK(r.code == 2);
  CHECK(r.line("FAIL", {"config", "line"}));
  CHECK(r.line("SKIP", {"Postgres checks: not checked, the config is invalid"}));
  auto s = status(agent);
  CHECK(s.code == 2);
  CHECK(s.err.find("config") != std::string::npos);
  auto u = run_cli({"status"});
  CHECK(u.code == 2);
  CHECK(u.err.find("status needs --config FILE") != std::string::npos);
}

// docs/operations.md, "The state store is damaged": 200 random bytes in the middle of the WAL an
// agent left behind, and run, check and status all refuse with the same line.
TEST_CASE("a damaged WAL in state_dir: run, check and status refuse with the same line", "[integration][cli][state]") {
  const auto& env = ServiceEnv::get();
  std::string n = unique_name("damaged");
  Sql sql(env.pg_dsn);
  sql.exec("CREATE TABLE " + n + " (id int PRIMARY KEY)");
  AgentOptions options{.name = n, .tables = {"public." + n}};
  Agent first(options);
  first.start();
  first.wait_streaming();
  for (int i = 0; i < 20; ++i) sql.exec("INSERT INTO " + n + " VALUES (" + std::to_string(i) + ")");
  const auto end = Sql(env.pg_superuser_dsn).scalar("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").value();
  REQUIRE(eventually([&] { return confirmed_flush(sql, n) >= std::stoull(end); }, std::chrono::seconds(20)));
  REQUIRE(first.stop(SIGTERM) == 0);

  // A clean stop leaves this run's synced writes in the WAL (RocksDB moves them into an SST at
  // the next open); write over its middle.
  std::filesystem::path wal;
  for (const auto& e : std::filesystem::directory_iterator(first.state_dir()))
    if (e.path().extension() == ".log" && e.file_size() > 0) wal = e.path();
  REQUIRE_FALSE(wal.empty());
  {
    std::string junk(200, '\0');
    uint32_t x = 2463534242u;
    for (char& c : junk) x ^= x << 13, x ^= x >> 17, x ^= x << 5, c = static_cast<char>(x);
    std::fstream f(wal, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(std::filesystem::file_size(wal) / 2));
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
    REQUIRE(f);
  }
  const auto size = std::filesystem::file_size(wal);

  options.state_dir = first.state_dir();
  Agent second(options);
  const auto started = std::chrono::steady_clock::now();
  CHECK(second.run_to_exit(std::chrono::seconds(30)) == 1);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(10));
  const std::string log = second.log();
  INFO(log);
  const std::string marker = "state error: ";
  const auto at = log.find(marker);
  REQUIRE(at != std::string::npos);
  const std::string line = log.substr(at + marker.size(), log.find('\n', at) - at - marker.size());
  CHECK(line.rfind("state store " + first.state_dir() + " is damaged: the write-ahead log " +
                       wal.filename().string() + " (Corruption: ",
                   0) == 0);
  CHECK(line.find("tombsync will not guess a position to stream from") != std::string::npos);
  CHECK(line.find("docs/operations.md#the-state-store-is-damaged") != std::string::npos);
  CHECK(log.find("streaming slot") == std::string::npos);

  auto r = check(second);
  INFO(r.out);
  CHECK(r.code == 1);
  CHECK(r.line("FAIL", {line}) == "FAIL  " + line);
  auto s = status(second, true);
  INFO(s.out);
  CHECK(s.code == 1);
  auto doc = json::parse(s.out);
  REQUIRE(doc["errors"].size() >= 1);
  CHECK(doc["errors"][0] == line);
  CHECK(std::filesystem::file_size(wal) == size);  // refused, not repaired or truncated
  drop_replication_objects(n);
}

// debezium-json's truncate record on a multi-partition topic is what makes a JDBC sink with
// truncate.enabled=true lose rows; with truncate: expand there is none (docs/consumers.md).
TEST_CASE("check warns about debezium-json truncate records on a multi-partition topic, not with expand",
          "[integration][cli]") {
  const auto& env = ServiceEnv::get();
  std::string n = unique_name("chktrunc");
  Sql sql(env.pg_dsn);
  sql.exec("CREATE TABLE " + n + "_event (id int PRIMARY KEY)");
  sql.exec("CREATE TABLE " + n + "_expand (id int PRIMARY KEY)");
  for (const char* t : {"_event", "_expand"}) create_topic_with(n + ".public." + n + t, 3, {});
  Agent agent({.name = n,
               .table_yaml = "    - name: public." + n + "_event\n      truncate: event\n    - name: public." + n + "_expand\n",
               .format = "debezium-json"});
  auto r = check(agent);
  INFO(r.out << r.err);
  CHECK(r.line("PASS", {"Kafka topic " + n + ".public." + n + "_event has 3 partitions",
                        "truncate.enabled=true loses rows", "truncate: expand"}));
  CHECK(r.out.find("Kafka topic " + n + ".public." + n + "_expand has 3 partitions") == std::string::npos);
  auto doc = json::parse(check(agent, true).out);
  size_t warned = 0;
  for (const auto& item : doc["items"])
    if (item["check"] == "kafka.truncate") warned += item.value("warning", false) ? 1 : 0;
  CHECK(warned == 1);
}
