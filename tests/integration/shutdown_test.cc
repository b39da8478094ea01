// SIGTERM is honoured in seconds even when Kafka stops answering, and what
// Kafka did not acknowledge is streamed again after the restart — once.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <set>
#include <thread>

#include "tests/integration/harness.h"

using namespace tombsync::it;

namespace {

void kafka_ctl(const std::string& verb) {
  std::string cmd = std::string(TOMBSYNC_SOURCE_DIR) + "/tests/services/kafka-ctl " + verb + " >/dev/null 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
}

}  // namespace

TEST_CASE("SIGTERM while Kafka hangs exits in seconds; the restart delivers every change once",
          "[integration][shutdown]") {
  const auto& env = ServiceEnv::get();
  std::string n = unique_name("hang");
  Sql sql(env.pg_dsn);
  sql.exec("CREATE TABLE " + n + " (id int PRIMARY KEY, v text)");
  AgentOptions options{.name = n, .tables = {"public." + n}};
  Agent first(options);
  first.start();
  first.wait_streaming();
  sql.exec("INSERT INTO " + n + " VALUES (0, 'before')");
  REQUIRE(read_topic(first.topic("public." + n), 1).size() == 1);

  kafka_ctl("pause");
  struct Resume {
    ~Resume() { (void)std::system((std::string(TOMBSYNC_SOURCE_DIR) + "/tests/services/kafka-ctl resume >/dev/null 2>&1").c_str()); }
  } resume;
  for (int i = 1; i <= 10; ++i)
    sql.exec("INSERT INTO " + n + " SELECT g, 'during' FROM generate_series(" + std::to_string(i * 10) + ", " +
             std::to_string(i * 10 + 9) + ") g");
  std::this_thread::sleep_for(std::chrono::seconds(1));
  auto t0 = std::chrono::steady_clock::now();
  int status = first.stop(SIGTERM, std::chrono::seconds(30));
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  WARN("SIGTERM with Kafka paused: exit " << status << " after " << secs << " s");
  CHECK(status == 0);
  CHECK(secs < 20);
  kafka_ctl("resume");

  options.state_dir = first.state_dir();
  Agent second(options);
  second.start();
  second.wait_streaming();
  auto rs = read_topic(second.topic("public." + n), 101, std::chrono::seconds(90));
  std::set<std::string> lsns;
  for (const auto& r : rs) lsns.insert(r.headers.at("tombsync.lsn"));
  INFO("first log:\n" << first.log() << "\nsecond log:\n" << second.log());
  CHECK(lsns.size() == 101);
  CHECK(rs.size() == 101);  // no duplicates
  CHECK(second.stop(SIGTERM) == 0);
  drop_replication_objects(n);
}
