// `tombsync reconcile` (agent/cli/reconcile_command.h) without an agent: which tables it takes
// and refuses, the request files it writes, its lines, and its timeout while nothing answers.
#include "agent/cli/reconcile_command.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "agent/ops/job_progress.h"

#include "agent/snapshot/reconcile_request.h"
#include "base/error.h"
#include "tests/unit/agent/config_fixtures.h"

namespace fs = std::filesystem;
using namespace tombsync;
using Catch::Contains;

namespace {

Config three_tables(const fs::path& state_dir) {
  Config c = parse_config(test::with_tables("    - public.a\n"
                                            "    - { name: public.b, ledger: none }\n"
                                            "    - { name: public.c, allow_keyless: true, deletes: flag, snapshot: never }\n"
                                            "    - public.d\n"),
                          "test.yaml");
  c.state_dir = state_dir.string();
  return c;
}

std::string refusal(const Config& c, const ReconcileOptions& o) {
  try {
    reconcile_tables(c, o);
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kConfig);
    return e.what();
  }
  FAIL("not refused");
  return "";
}

std::string read_all(std::FILE* f) {
  std::rewind(f);
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
  return out;
}

}  // namespace

TEST_CASE("reconcile takes configured tables with a ledger and refuses the others with the fix", "[reconcile]") {
  const Config c = three_tables("/tmp/unused");
  CHECK(reconcile_tables(c, {.tables = {"public.a"}}) == std::vector<std::string>{"public.a"});
  CHECK(reconcile_tables(c, {.all = true}) == std::vector<std::string>{"public.a", "public.d"});
  CHECK_THAT(refusal(c, {.tables = {"public.zz"}}), Contains("--table public.zz is not in source.tables"));
  CHECK_THAT(refusal(c, {.tables = {"public.b"}}), Contains("public.b keeps no key ledger (ledger: none)"));
  CHECK_THAT(refusal(c, {.tables = {"public.b"}}), Contains("set ledger: keys"));
  CHECK_THAT(refusal(c, {.tables = {"public.c"}}), Contains("public.c is keyless"));
  Config none = c;
  none.ledger = LedgerMode::kNone;
  none.source.tables.erase(none.source.tables.begin() + 2);  // the keyless one
  for (auto& t : none.source.tables) t.ledger.reset();
  CHECK_THAT(refusal(none, {.all = true}), Contains("no table in source.tables keeps a key ledger"));
}

TEST_CASE("reconcile's lines: progress, a real run's result, a dry run's result with its sample", "[reconcile]") {
  JobProgress p;
  p.job = "reconcile";
  p.table = "public.t";
  p.phase = "reading";
  p.done = 12000;
  p.total = 50000;
  p.rate = 3000;
  p.eta_s = 13;
  CHECK(reconcile_progress_text(p) == "12000 of ~50000 rows read, 3000 rows/s, ETA 13 s");
  p.running = false;
  p.done = 1000;
  p.inferred = 50;
  p.elapsed_s = 1.23;
  CHECK(reconcile_result_text(p) == "50 inferred deletes, 1000 rows read in 1.2 s");
  p.dry_run = true;
  p.sample = {"{\"id\":3}", "{\"id\":9}"};
  CHECK(reconcile_result_text(p) == "50 keys to delete, 1000 rows read; sample: {\"id\":3} {\"id\":9}");
}

TEST_CASE("reconcile writes one request per table; without an agent it times out saying the request is queued",
          "[reconcile]") {
  const fs::path dir = fs::temp_directory_path() / ("tombsync-rcmd-" + std::to_string(getpid()));
  fs::remove_all(dir);
  const Config c = three_tables(dir);
  std::FILE* out = std::tmpfile();
  REQUIRE(out);
  CHECK(reconcile_command(c, "test.yaml", {.all = true, .dry_run = true, .wait = false}, out) == 0);
  auto requests = take_reconcile_requests(dir.string());
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].dry_run);
  CHECK(requests[0].id != requests[1].id);
  CHECK_THAT(read_all(out), Contains("requested a dry-run reconciliation of public.a"));

  std::FILE* waited = std::tmpfile();
  REQUIRE(waited);
  CHECK(reconcile_command(c, "test.yaml", {.tables = {"public.a"}, .timeout_s = 1, .poll_ms = 50}, waited) == 1);
  const std::string text = read_all(waited);
  CHECK_THAT(text, Contains("reconcile public.a: not finished after 1 s: queued: no agent has taken the request"));
  CHECK_THAT(text, Contains("tombsync status --config test.yaml"));
  std::fclose(out);
  std::fclose(waited);
  fs::remove_all(dir);
}

TEST_CASE("reconcile stops waiting when the agent refuses the request, and exits 1 with the reason", "[reconcile]") {
  const fs::path dir = fs::temp_directory_path() / ("tombsync-rcmd-refused-" + std::to_string(getpid()));
  fs::remove_all(dir);
  const Config c = three_tables(dir);
  // The agent's side, as SnapshotWindow answers a request it refuses.
  std::thread agent([&] {
    for (int i = 0; i < 200; ++i) {
      auto requests = take_reconcile_requests(dir.string());
      if (requests.empty()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      JobProgress p{.job = "reconcile-refused", .table = requests[0].table, .lsn = "-", .running = false};
      p.phase = "refused: its snapshot is under way";
      p.request_id = requests[0].id;
      write_job_progress(dir.string(), p);
      return;
    }
  });
  std::FILE* out = std::tmpfile();
  REQUIRE(out);
  CHECK(reconcile_command(c, "test.yaml", {.tables = {"public.a"}, .timeout_s = 10, .poll_ms = 20}, out) == 1);
  agent.join();
  CHECK_THAT(read_all(out), Contains("reconcile public.a: not done: refused: its snapshot is under way"));
  std::fclose(out);
  fs::remove_all(dir);
}
