// Reconciliation requests in <state_dir>/requests/ (agent/snapshot/reconcile_request.h): written
// atomically, read bounded, removed once read; a malformed one is dropped with a warning.
#include "agent/snapshot/reconcile_request.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "base/error.h"

namespace fs = std::filesystem;
using namespace tombsync;

namespace {

fs::path fresh_state_dir(const std::string& stem) {
  fs::path dir = fs::temp_directory_path() / ("tombsync-rreq-" + stem + "-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void write_raw(const fs::path& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
}

}  // namespace

TEST_CASE("reconcile requests round-trip the table, the dry-run flag and the id, and are removed once taken", "[reconcile]") {
  fs::path dir = fresh_state_dir("roundtrip");
  request_reconcile(dir.string(), {"public.orders", false, "1700000000000-42-0"});
  request_reconcile(dir.string(), {"\"Odd Schema\".\"t x\nnl\"", true, "1700000000000-42-1"});
  auto requests = take_reconcile_requests(dir.string());
  std::sort(requests.begin(), requests.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].table == "public.orders");
  CHECK_FALSE(requests[0].dry_run);
  CHECK(requests[0].id == "1700000000000-42-0");
  CHECK(requests[1].table == "\"Odd Schema\".\"t x\nnl\"");
  CHECK(requests[1].dry_run);
  CHECK(requests[1].id == "1700000000000-42-1");
  CHECK(take_reconcile_requests(dir.string()).empty());
  fs::remove_all(dir);
}

TEST_CASE("reconcile requests leave snapshot requests alone", "[reconcile]") {
  fs::path dir = fresh_state_dir("apart");
  fs::create_directories(dir / "requests");
  write_raw(dir / "requests" / "snapshot-7075626c69632e74", "public.t");
  request_reconcile(dir.string(), {"public.t", false, "a"});
  CHECK(take_reconcile_requests(dir.string()).size() == 1);
  CHECK(fs::exists(dir / "requests" / "snapshot-7075626c69632e74"));
  fs::remove_all(dir);
}

TEST_CASE("a malformed reconcile request, a FIFO or a huge file is ignored and removed, never read whole", "[reconcile]") {
  fs::path dir = fresh_state_dir("bounded");
  fs::create_directories(dir / "requests");
  REQUIRE(mkfifo((dir / "requests" / "reconcile-fifo").c_str(), 0600) == 0);  // opening must not block
  write_raw(dir / "requests" / "reconcile-big", std::string(1 << 20, 'x'));
  write_raw(dir / "requests" / "reconcile-noflag", "x id\npublic.t");
  write_raw(dir / "requests" / "reconcile-nonl", "0 id public.t");
  write_raw(dir / "requests" / "reconcile-badid", "0 a/b\npublic.t");
  write_raw(dir / "requests" / "reconcile-notable", "1 id\n");
  request_reconcile(dir.string(), {"public.kept", true, "kept"});
  auto requests = take_reconcile_requests(dir.string());
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].table == "public.kept");
  CHECK(fs::is_empty(dir / "requests"));
  fs::remove_all(dir);
}

TEST_CASE("a reconcile request with an id unfit for a file name is refused before anything is written", "[reconcile]") {
  fs::path dir = fresh_state_dir("badid");
  CHECK_THROWS_AS(request_reconcile(dir.string(), {"public.t", false, "../x"}), Error);
  CHECK_THROWS_AS(request_reconcile(dir.string(), {"public.t", false, ""}), Error);
  CHECK((!fs::exists(dir / "requests") || fs::is_empty(dir / "requests")));
  fs::remove_all(dir);
}
