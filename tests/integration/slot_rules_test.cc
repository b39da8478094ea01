// One rulebook for run and check (agent/source/source_rules.h), against a
// real slot: a slot that lost its WAL (wal_status lost) fails `tombsync check`
// and stops `tombsync run` with the same message.
#include <catch2/catch.hpp>

#include <chrono>
#include <sstream>
#include <string>

#include "tests/integration/harness.h"

using namespace tombsync::it;

namespace {

// max_slot_wal_keep_size for the test (a sighup setting), reset afterwards, also when the test
// fails: other tests' slots must not be invalidated. The reset waits until new sessions see it.
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
                 std::chrono::seconds(5));
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

// The line of `output` that starts with `prefix`, without it; "" when none.
std::string line_after(const std::string& output, const std::string& prefix) {
  std::istringstream in(output);
  for (std::string l; std::getline(in, l);)
    if (l.rfind(prefix, 0) == 0) return l.substr(prefix.size());
  return "";
}

}  // namespace

TEST_CASE("a slot that lost its WAL: check fails it and run refuses it, with the same message",
          "[integration][rules][cli]") {
  const auto& env = ServiceEnv::get();
  const std::string n = unique_name("lostslot");
  Sql sql(env.pg_dsn);
  sql.exec("CREATE TABLE " + n + " (id int PRIMARY KEY, v text)");

  // A slot and a cursor, as a run that streamed and stopped leaves them.
  Agent first({.name = n, .tables = {"public." + n}, .extra_yaml = "snapshot: never\n"});
  first.start();
  first.wait_streaming();
  REQUIRE(first.stop(SIGTERM) == 0);

  {
    SlotWalLimit limit("1MB");
    // Several WAL segments behind the slot, then a checkpoint: the slot falls out of
    // max_slot_wal_keep_size and its WAL is removed (wal_status lost).
    Sql super(env.pg_superuser_dsn);
    int rounds = 0;
    const bool lost = eventually(
        [&] {
          ++rounds;
          for (int i = 0; i < 3; ++i) {
            super.exec("INSERT INTO " + n + " SELECT g, md5(g::text) FROM generate_series(" +
                       std::to_string(rounds * 100 + i * 10) + ", " + std::to_string(rounds * 100 + i * 10 + 9) +
                       ") g");
            super.exec("SELECT pg_switch_wal()");
          }
          super.exec("CHECKPOINT");
          return wal_status(super, n) == "lost";
        },
        std::chrono::seconds(30));
    INFO("wal_status after " << rounds << " rounds: " << wal_status(super, n));
    REQUIRE(lost);
  }

  const std::string bin = TOMBSYNC_BINARY;
  const std::string out = run_capture("(" + bin + " check --config " + first.config_path() + "; echo exit=$?) 2>/dev/null");
  INFO("check:\n" << out);
  CHECK(out.find("exit=1") != std::string::npos);
  const std::string failed = line_after(out, "FAIL  replication slot " + n + " has lost WAL it needs (wal_status lost");
  REQUIRE_FALSE(failed.empty());
  const std::string message = "replication slot " + n + " has lost WAL it needs (wal_status lost" + failed;
  CHECK(message.find("tombsync drop-slot") != std::string::npos);
  CHECK(message.find("re-sync the tables") != std::string::npos);
  CHECK(message.find("or set on_slot_loss: reconcile to recreate the slot and reconcile every table") != std::string::npos);

  // run, on the same state_dir (the cursor is there, the slot lost): refused with check's message.
  Agent again({.name = n, .tables = {"public." + n}, .extra_yaml = "snapshot: never\n", .state_dir = first.state_dir()});
  const int code = again.run_to_exit();
  const std::string log = again.log();
  INFO("run:\n" << log);
  CHECK(code == 1);
  CHECK(log.find(message) != std::string::npos);
  CHECK(log.find("streaming slot") == std::string::npos);
}

TEST_CASE("a partition published under its partitioned ancestor's name is refused by check and run alike",
          "[integration][rules][cli]") {
  const auto& env = ServiceEnv::get();
  const std::string n = unique_name("ancestor");
  Sql sql(env.pg_dsn);
  sql.exec("CREATE TABLE " + n + "_root (id int, region text, PRIMARY KEY (id, region)) PARTITION BY LIST (region)");
  sql.exec("CREATE TABLE " + n + "_eu PARTITION OF " + n + "_root FOR VALUES IN ('eu')");
  // The admin's publication names both; with the option, the partition's changes are sent as the root's.
  sql.exec("CREATE PUBLICATION " + n + " FOR TABLE " + n + "_root, " + n + "_eu WITH (publish_via_partition_root = true)");

  Agent agent({.name = n, .tables = {"public." + n + "_eu"}, .extra_yaml = "snapshot: never\n"});
  const int first = agent.run_to_exit();
  const std::string log = agent.log();
  INFO("run:\n" << log);
  CHECK(first == 1);
  const std::string expected = "publication " + n + " publishes public." + n +
                               "_eu under the name of a partitioned ancestor it also includes";
  CHECK(log.find(expected) != std::string::npos);
  CHECK(log.find("streaming slot") == std::string::npos);

  const std::string bin = TOMBSYNC_BINARY;
  const std::string out = run_capture("(" + bin + " check --config " + agent.config_path() + "; echo exit=$?) 2>/dev/null");
  INFO("check:\n" << out);
  CHECK(out.find("exit=1") != std::string::npos);
  CHECK(out.find("FAIL  " + expected) != std::string::npos);
  sql.exec("DROP PUBLICATION IF EXISTS " + n);
}
