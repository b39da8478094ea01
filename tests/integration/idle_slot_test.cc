// A quiet publication must not pin WAL: while only unpublished tables
// change, keepalive positions are confirmed and the slot moves on.
#include <catch2/catch.hpp>

#include "tests/integration/harness.h"

using namespace tombsync::it;

TEST_CASE("a quiet published table while an unpublished table churns: the slot's confirmed_flush_lsn advances",
          "[integration][idle]") {
  const auto& env = ServiceEnv::get();
  std::string n = unique_name("idle");
  Sql sql(env.pg_dsn);
  sql.exec("CREATE TABLE " + n + "_quiet (id int PRIMARY KEY)");
  sql.exec("CREATE TABLE " + n + "_busy (id serial PRIMARY KEY, payload text)");
  Agent agent({.name = n, .tables = {"public." + n + "_quiet"}});
  agent.start();
  agent.wait_streaming();
  Sql super(env.pg_superuser_dsn);
  uint64_t before = confirmed_flush(super, n);
  for (int i = 0; i < 50; ++i)
    sql.exec("INSERT INTO " + n + "_busy (payload) SELECT md5(random()::text) FROM generate_series(1, 100)");
  uint64_t wal_after = std::stoull(super.scalar("SELECT pg_current_wal_lsn() - '0/0'").value());
  bool advanced = eventually([&] { return confirmed_flush(super, n) >= wal_after; }, std::chrono::seconds(30));
  uint64_t after = confirmed_flush(super, n);
  WARN("idle slot: confirmed_flush moved by " << (after - before) << " bytes (WAL written " << (wal_after - before)
                                              << " bytes)");
  CHECK(advanced);
  CHECK(after > before);
  CHECK(agent.stop(SIGTERM) == 0);
  drop_replication_objects(n);
}
