// Snapshot requests in <state_dir>/requests/ (agent/snapshot/snapshot_request.h): written
// atomically, read bounded, removed once read.
#include "agent/snapshot/snapshot_request.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using namespace tombsync;

namespace {

fs::path fresh_state_dir(const std::string& stem) {
  fs::path dir = fs::temp_directory_path() / ("tombsync-req-" + stem + "-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

}  // namespace

TEST_CASE("snapshot requests round-trip any table name and are removed once taken", "[snapshot]") {
  fs::path dir = fresh_state_dir("roundtrip");
  request_snapshot(dir.string(), "public.orders");
  request_snapshot(dir.string(), "\"Odd Schema\".\"t\"\"x\"");
  auto tables = take_snapshot_requests(dir.string());
  std::sort(tables.begin(), tables.end());
  CHECK(tables == std::vector<std::string>{"\"Odd Schema\".\"t\"\"x\"", "public.orders"});
  CHECK(take_snapshot_requests(dir.string()).empty());
  fs::remove_all(dir);
}

TEST_CASE("a request that is not a small regular file is ignored and removed, never read whole", "[snapshot]") {
  fs::path dir = fresh_state_dir("bounded");
  fs::create_directories(dir / "requests");
  REQUIRE(mkfifo((dir / "requests" / "snapshot-fifo").c_str(), 0600) == 0);  // opening must not block
  {
    std::ofstream f(dir / "requests" / "snapshot-big");
    f << std::string(1 << 20, 'x');
  }
  request_snapshot(dir.string(), "public.kept");
  CHECK(take_snapshot_requests(dir.string()) == std::vector<std::string>{"public.kept"});
  CHECK(fs::is_empty(dir / "requests"));
  fs::remove_all(dir);
}
