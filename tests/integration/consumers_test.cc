// [consumers]: the documented recipes against real consumers (docs/consumers.md). The Debezium
// JDBC sink on Kafka Connect standalone is driven by tests/consumers/jdbc-sink-test (bash: it
// starts the worker with the doc's own sink settings, runs the workload, and compares the target
// database with the source row by row, live and catch-up); this case runs it against the test
// services and requires it to pass. The ClickHouse recipe is clickhouse_recipe_test.cc.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "tests/integration/harness.h"

using namespace tombsync::it;

namespace {

// Runs tests/consumers/jdbc-sink-test with `args` (both modes each time); returns its summary and
// requires the exit status 0 and a PASS line for each mode.
void require_sink_test_passes(const std::string& args, const std::string& extra_in_summary) {
  (void)ServiceEnv::get();  // the services this run uses (.services/env is sourced by scripts/test)
  const std::string repo = TOMBSYNC_SOURCE_DIR;
  const std::string log = "/tmp/tombsync-it-jdbc-sink-" + std::to_string(::getpid()) + ".log";
  // The binary under test, the services of this run (never started or stopped by the script), and
  // a bound: a stuck worker fails the case instead of hanging the suite.
  const std::string cmd = "TOMBSYNC_AGENT='" + std::string(TOMBSYNC_BINARY) + "' TOMBSYNC_NO_SERVICES=1 timeout 900 " + repo +
                          "/tests/consumers/jdbc-sink-test " + args + " >" + log + " 2>&1";
  const int status = std::system(cmd.c_str());
  std::string summary, all;
  if (FILE* f = std::fopen(log.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) all.append(buf, n);
    std::fclose(f);
  }
  const auto at = all.find("===== jdbc-sink-test summary");
  summary = at == std::string::npos ? all.substr(all.size() > 3000 ? all.size() - 3000 : 0) : all.substr(at);
  WARN(summary);
  INFO("full log: " << log);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  for (const char* mode : {"live", "catchup"})
    CHECK(summary.find(std::string("PASS  mode=") + mode + " complete_rows=true" + extra_in_summary) != std::string::npos);
  if (WEXITSTATUS(status) == 0) std::remove(log.c_str());
}

}  // namespace

TEST_CASE("the Debezium JDBC sink with the doc's settings, live and catch-up: the target equals the source",
          "[integration][consumers]") {
  require_sink_test_passes("", "  workload");
}

// With truncate: expand, debezium-json has no table-level truncate record (docs/formats.md), so a
// sink that applies them cannot wipe rows other partitions hold from after the TRUNCATE.
TEST_CASE("the Debezium JDBC sink with truncate.enabled=true, live and catch-up: the target equals the source",
          "[integration][consumers]") {
  require_sink_test_passes("--sink-setting truncate.enabled=true", " +truncate.enabled=true  workload");
}

// docs/consumers.md's way to keep the source's types: the target table made before the sink starts,
// stringtype=unspecified on the URL; the comparison then fails on any column type change too.
TEST_CASE("the Debezium JDBC sink into pre-created tables keeps every column type, live and catch-up",
          "[integration][consumers]") {
  require_sink_test_passes("--precreate", " +precreate (types kept)  workload");
}
