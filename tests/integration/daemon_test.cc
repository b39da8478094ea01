// The agent as a daemon (issue 4): /metrics counts what the workload did per
// table and op, /readyz follows Kafka going away and coming back, the agent
// rides out a Postgres restart and then a Kafka restart mid-stream without
// losing a record, secrets come from files, and drop-slot asks first.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "tests/integration/harness.h"
#include "tests/integration/topic_state.h"
#include "tests/integration/http_client.h"

using namespace tombsync::it;

namespace {

void services(const std::string& script, const std::string& verb) {
  const std::string cmd = std::string(TOMBSYNC_SOURCE_DIR) + "/tests/services/" + script + " " + verb + " >/dev/null 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
}

// Each record once by (lsn, op): a delete and its tombstone share the LSN.
size_t duplicates(const std::vector<KafkaRecord>& rs, size_t& distinct) {
  std::set<std::pair<std::string, std::string>> seen;
  size_t dups = 0;
  for (const auto& r : rs)
    if (!seen.insert({r.headers.at("tombsync.lsn"), r.headers.at("tombsync.op")}).second) ++dups;
  distinct = seen.size();
  return dups;
}

}  // namespace

TEST_CASE("/metrics counts per table and op; /readyz follows Kafka going and coming back", "[daemon][metrics]") {
  const std::string n = unique_name("metrics");
  Sql sql(ServiceEnv::get().pg_dsn);
  sql.exec("CREATE TABLE " + n + "_a (id int PRIMARY KEY, v int); CREATE TABLE " + n + "_b (id int PRIMARY KEY, v text)");
  sql.exec("INSERT INTO " + n + "_b SELECT g, 's' FROM generate_series(10001, 10120) g");  // for the snapshot
  Agent agent({.name = n,
               .tables = {"public." + n + "_a", "public." + n + "_b"},
               .extra_yaml = "http: {address: \"127.0.0.1:0\"}\nheartbeat: {interval: 500ms}\n"
                             "health: {kafka_stall_ms: 3000}\n"});
  agent.start();
  agent.wait_streaming();
  const int port = http_port(agent);
  CHECK(http_get(port, "/healthz").status == 200);
  CHECK(eventually([&] { return http_get(port, "/readyz").status == 200; }, std::chrono::seconds(10)));

  sql.exec("INSERT INTO " + n + "_a SELECT g, 0 FROM generate_series(1, 300) g");
  sql.exec("UPDATE " + n + "_a SET v = 1 WHERE id <= 100");
  sql.exec("DELETE FROM " + n + "_a WHERE id > 250");
  sql.exec("INSERT INTO " + n + "_b SELECT g, 'x' FROM generate_series(1, 200) g");
  read_topic(agent.topic("public." + n + "_a"), 300 + 100 + 2 * 50);
  read_topic(agent.topic("public." + n + "_b"), 120 + 200);

  const std::string a = "{table=\"public." + n + "_a\"";
  const std::string b = "{table=\"public." + n + "_b\"";
  std::string text;
  CHECK(eventually([&] {
    text = http_get(port, "/metrics").body;
    return metric(text, "tombsync_deletes_total" + a + "}") == 50;
  }, std::chrono::seconds(10)));
  CHECK(metric(text, "tombsync_events_total" + a + ",op=\"insert\"}") == 300);
  CHECK(metric(text, "tombsync_events_total" + a + ",op=\"update\"}") == 100);
  CHECK(metric(text, "tombsync_events_total" + a + ",op=\"delete\"}") == 50);
  CHECK(metric(text, "tombsync_tombstones_total" + a + "}") == 50);
  CHECK(metric(text, "tombsync_records_total" + a + "}") == 500);
  CHECK(metric(text, "tombsync_events_total" + b + ",op=\"insert\"}") == 200);
  CHECK(metric(text, "tombsync_events_total" + b + ",op=\"delete\"}") == 0);
  CHECK(metric(text, "tombsync_events_total" + b + ",op=\"read\"}") == 120);
  CHECK(metric(text, "tombsync_snapshot_rows_total" + b + "}") == 120);
  CHECK(metric(text, "tombsync_snapshot_running" + b + "}") == 0);
  CHECK(metric(text, "tombsync_bytes_total" + b + "}") > 200 * 10);
  CHECK(metric(text, "tombsync_streaming") == 1);
  CHECK(metric(text, "tombsync_heartbeats_total") >= 1);
  CHECK(metric(text, "tombsync_replication_lag_bytes") >= 0);
  CHECK(metric(text, "tombsync_seconds_since_last_event") >= 0);
  CHECK(metric(text, "tombsync_producer_queue_messages") >= 0);
  CHECK(metric(text, "tombsync_errors_total{kind=\"source\"}") == 0);

  services("kafka-ctl", "stop");
  struct Restart {
    ~Restart() { (void)std::system((std::string(TOMBSYNC_SOURCE_DIR) + "/tests/services/kafka-ctl start >/dev/null 2>&1").c_str()); }
  } restart_kafka;
  sql.exec("INSERT INTO " + n + "_b SELECT g, 'y' FROM generate_series(201, 250) g");  // waits in the producer
  HttpResult unready;
  CHECK(eventually([&] { return (unready = http_get(port, "/readyz")).status == 503; }, std::chrono::seconds(20)));
  INFO("readyz while Kafka is down: " << unready.body);
  CHECK(unready.body.find("not ready") != std::string::npos);
  CHECK(metric(http_get(port, "/metrics").body, "tombsync_ready") == 0);

  services("kafka-ctl", "start");
  CHECK(eventually([&] { return http_get(port, "/readyz").status == 200; }, std::chrono::seconds(60)));
  auto rs = read_topic(agent.topic("public." + n + "_b"), 120 + 250);
  CHECK(rs.size() >= 120 + 250);
  CHECK(agent.stop(SIGTERM) == 0);
  CHECK(agent.log().find("kafka: no broker at") != std::string::npos);
}

TEST_CASE("Postgres restarted, then Kafka restarted, mid-stream: the agent reconnects and loses nothing",
          "[daemon][reconnect]") {
  const std::string n = unique_name("reconnect");
  Sql sql(ServiceEnv::get().pg_dsn);
  sql.exec("CREATE TABLE " + n + " (id int PRIMARY KEY, v int)");
  Agent agent({.name = n, .tables = {"public." + n},
               .extra_yaml = "reconnect: {initial_backoff_ms: 200, max_backoff_ms: 2000}\n"});
  agent.start();
  agent.wait_streaming();
  size_t expected = 0;
  // A batch the agent is still streaming when the restart comes.
  auto batch = [&](int from, int count) {
    Sql s(ServiceEnv::get().pg_dsn);
    const std::string lo = std::to_string(from), hi = std::to_string(from + count - 1);
    s.exec("INSERT INTO " + n + " SELECT g, 0 FROM generate_series(" + lo + ", " + hi + ") g");
    s.exec("UPDATE " + n + " SET v = v + 1 WHERE id BETWEEN " + lo + " AND " + hi + " AND id % 2 = 0");
    s.exec("DELETE FROM " + n + " WHERE id BETWEEN " + lo + " AND " + hi + " AND id % 5 = 0");
    expected += static_cast<size_t>(count) + static_cast<size_t>(count) / 2 + 2 * (static_cast<size_t>(count) / 5);
  };
  batch(1, 100000);
  services("pg-restart", "");
  batch(100001, 20000);
  batch(120001, 100000);
  services("kafka-ctl", "restart");
  batch(220001, 20000);

  auto rs = read_topic(agent.topic("public." + n), expected, std::chrono::seconds(180));
  INFO("agent log:\n" << agent.log());
  size_t distinct = 0;
  const size_t dups = duplicates(rs, distinct);
  std::printf("reconnect test: %zu records expected, %zu distinct in Kafka, %zu duplicates\n", expected, distinct, dups);
  CHECK(distinct == expected);
  auto rows = materialize(rs).live;
  Sql after(ServiceEnv::get().pg_dsn);  // the first connection died with the restart
  CHECK(std::to_string(rows.size()) == after.scalar("SELECT count(*) FROM " + n).value());
  CHECK(rows.size() == 240000 - 48000);
  const std::string log = agent.log();
  CHECK(log.find("reconnecting in") != std::string::npos);
  CHECK(agent.stop(SIGTERM) == 0);  // it never exited: the stop reaches the same process
}

TEST_CASE("password_file supplies the password; drop-slot asks, refuses while running, then drops and forgets",
          "[daemon][drop-slot]") {
  const std::string n = unique_name("dropslot");
  Sql sql(ServiceEnv::get().pg_dsn);
  sql.exec("CREATE TABLE " + n + " (id int PRIMARY KEY)");
  const auto dir = std::filesystem::temp_directory_path() / n;
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "pw") << "tombsync\n";
  // The DSN without its password: it comes from the file.
  std::string dsn = ServiceEnv::get().pg_dsn;
  dsn = std::regex_replace(dsn, std::regex("password=\\S+"), "");
  Agent agent({.name = n, .tables = {"public." + n}, .dsn = dsn,
               .source_yaml = "  password_file: " + (dir / "pw").string() + "\n"});
  agent.start();
  agent.wait_streaming();
  const std::string bin = TOMBSYNC_BINARY;
  const std::string drop = bin + " drop-slot --config " + agent.config_path();
  CHECK(run_capture("(" + drop + " --yes < /dev/null; echo exit=$?) 2>&1").find("is in use") != std::string::npos);
  CHECK(agent.stop(SIGTERM) == 0);

  const std::string ask = run_capture("(" + drop + " < /dev/null; echo exit=$?) 2>&1");
  CHECK(ask.find("pass --yes") != std::string::npos);
  CHECK(ask.find("exit=2") != std::string::npos);
  CHECK(sql.scalar("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '" + n + "'") == "1");

  const std::string done = run_capture("(" + drop + " --yes < /dev/null; echo exit=$?) 2>&1");
  INFO(done);
  CHECK(done.find("dropped slot " + n) != std::string::npos);
  CHECK(done.find("exit=0") != std::string::npos);
  CHECK(sql.scalar("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '" + n + "'") == "0");

  // The state was forgotten too: a new run creates a new slot instead of refusing a lost one.
  Agent again({.name = n, .tables = {"public." + n}, .dsn = dsn, .state_dir = agent.state_dir(),
               .source_yaml = "  password_file: " + (dir / "pw").string() + "\n"});
  again.start();
  again.wait_streaming();
  CHECK(again.log().find("created replication slot " + n) != std::string::npos);
  CHECK(again.stop(SIGTERM) == 0);
  std::filesystem::remove_all(dir);
}

TEST_CASE("lag above health.max_lag_bytes is logged once, and its return under", "[daemon][lag]") {
  const std::string n = unique_name("lag");
  Sql sql(ServiceEnv::get().pg_dsn);
  sql.exec("CREATE TABLE " + n + " (id int PRIMARY KEY, v text)");
  Agent agent({.name = n, .tables = {"public." + n},
               .extra_yaml = "health: {max_lag_bytes: 64KiB}\nhttp: {address: \"127.0.0.1:0\"}\n"});
  agent.start();
  agent.wait_streaming();
  // A burst of WAL that takes the agent a while to deliver: megabytes behind for a moment.
  sql.exec("INSERT INTO " + n + " SELECT g, repeat('x', 200) FROM generate_series(1, 200000) g");
  read_topic(agent.topic("public." + n), 200000, std::chrono::seconds(120));
  CHECK(eventually([&] { return agent.log().find("lag back to") != std::string::npos; }, std::chrono::seconds(30)));
  const std::string log = agent.log();
  INFO(log);
  const auto above = log.find("is above health.max_lag_bytes 65536");
  CHECK(above != std::string::npos);
  CHECK(log.find("is above health.max_lag_bytes", above + 1) == std::string::npos);  // once per crossing
  CHECK(eventually([&] { return http_get(http_port(agent), "/readyz").status == 200; }, std::chrono::seconds(10)));
  CHECK(agent.stop(SIGTERM) == 0);
}
