// The check report's forms (text lines, JSON, exit rule) and the read-only
// cursor reader that check and status share, against a real RocksDB store
// held open by a writer, as a running agent holds it.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <set>
#include <nlohmann/json.hpp>

#include "state/cursor_reader.h"
#include "state/cursor_store.h"
#include "base/error.h"
#include "agent/cli/preflight.h"

using namespace tombsync;

namespace {

std::string temp_dir(const std::string& stem) {
  auto p = std::filesystem::temp_directory_path() / (stem + "-" + std::to_string(::getpid()) + "-XXXXXX");
  std::string s = p.string();
  REQUIRE(mkdtemp(s.data()) != nullptr);
  return s;
}

}  // namespace

TEST_CASE("a report passes only when every item passes", "[preflight]") {
  PreflightReport r;
  CHECK_FALSE(r.ok());  // nothing checked is not a pass
  r.items.push_back({"postgres.wal_level", "", CheckStatus::kPass, "wal_level = logical"});
  r.items.push_back({"kafka.topic", "app.public.users", CheckStatus::kPass, "Kafka topic app.public.users exists"});
  CHECK(r.ok());
  CHECK(r.text() ==
        "PASS  wal_level = logical\n"
        "PASS  Kafka topic app.public.users exists\n"
        "check: all 2 items passed\n");
  r.items.push_back({"slot", "s", CheckStatus::kSkip, "replication slot s: not checked, the Postgres login failed"});
  CHECK_FALSE(r.ok());
  r.items.push_back({"postgres.login", "", CheckStatus::kFail, "cannot connect to Postgres (...): ...; check source.dsn"});
  CHECK_FALSE(r.ok());
  CHECK(r.count(CheckStatus::kFail) == 1);
  CHECK(r.count(CheckStatus::kSkip) == 1);
  CHECK(r.text().find("SKIP  replication slot s: not checked") != std::string::npos);
  CHECK(r.text().find("FAIL  cannot connect") != std::string::npos);
  CHECK(r.text().find("check: 1 of 4 items failed, 1 skipped\n") != std::string::npos);

  auto j = nlohmann::json::parse(r.json());
  CHECK(j["ok"] == false);
  CHECK(j["passed"] == 2);
  CHECK(j["failed"] == 1);
  CHECK(j["skipped"] == 1);
  REQUIRE(j["items"].size() == 4);
  CHECK(j["items"][0]["check"] == "postgres.wal_level");
  CHECK(j["items"][0]["status"] == "pass");
  CHECK_FALSE(j["items"][0].contains("subject"));
  CHECK(j["items"][1]["subject"] == "app.public.users");
  CHECK(j["items"][2]["status"] == "skip");
  CHECK(j["items"][3]["status"] == "fail");
  CHECK(r.json().find('\n') == r.json().size() - 1);  // one line
}

TEST_CASE("a config that does not load fails the config item and skips the rest", "[preflight]") {
  auto r = config_refused("config x.yaml line 3: unknown key \"kafka.broker\"");
  CHECK_FALSE(r.ok());
  REQUIRE(r.items.size() == 4);
  CHECK(r.items[0].status == CheckStatus::kFail);
  CHECK(r.items[0].message == "config x.yaml line 3: unknown key \"kafka.broker\"");
  for (size_t i = 1; i < r.items.size(); ++i) CHECK(r.items[i].status == CheckStatus::kSkip);
  // Non-UTF-8 text (a server message in another encoding) never breaks the JSON.
  r.items[0].message = "bad \xff byte";
  CHECK_NOTHROW(nlohmann::json::parse(r.json()));
}

TEST_CASE("the cursor reader reads what the store wrote, while the writer holds it open", "[preflight][state]") {
  auto dir = temp_dir("tombsync-cursor-reader");
  SECTION("no state_dir, or one without a store") {
    auto none = read_stored_cursor(dir + "/missing", "s");
    CHECK_FALSE(none.store_exists);
    CHECK_FALSE(std::filesystem::exists(dir + "/missing"));  // nothing created
    auto empty = read_stored_cursor(dir, "s");
    CHECK_FALSE(empty.store_exists);
    CHECK_FALSE(state_dir_lock_holder(dir));
  }
  SECTION("a store held open by a writer") {
    auto writer = open_rocksdb_cursor_store(dir);
    writer->save_source_identity("s", "7711/app");
    writer->save_confirmed("s", Lsn(0x16B3748));
    std::set<std::string> files_before;
    for (const auto& e : std::filesystem::directory_iterator(dir)) files_before.insert(e.path().filename());

    auto c = read_stored_cursor(dir, "s");
    CHECK(c.store_exists);
    REQUIRE(c.confirmed);
    CHECK(c.confirmed->str() == "0/16B3748");
    CHECK(c.source == "7711/app");
    auto other = read_stored_cursor(dir, "other");
    CHECK(other.store_exists);
    CHECK_FALSE(other.confirmed);
    CHECK_FALSE(other.source);

    // A later write is seen by the next read.
    writer->save_confirmed("s", Lsn(0x16B4000));
    CHECK(read_stored_cursor(dir, "s").confirmed == Lsn(0x16B4000));

    // The reader wrote nothing (no info LOG of its own, no LOG rotation).
    std::set<std::string> files_after;
    for (const auto& e : std::filesystem::directory_iterator(dir)) files_after.insert(e.path().filename());
    CHECK(files_after == files_before);
  }
  SECTION("a closed store with the source identity and no cursor yet") {
    {
      auto writer = open_rocksdb_cursor_store(dir);
      writer->save_source_identity("s", "x");
    }
    auto c = read_stored_cursor(dir, "s");
    CHECK(c.store_exists);
    CHECK_FALSE(c.confirmed);
    CHECK(c.source == "x");
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("an unknown item does not fail the report, and is counted and named", "[preflight]") {
  PreflightReport r;
  r.items.push_back({"kafka.describe", "t", CheckStatus::kPass, "Kafka topic t: Describe granted"});
  r.items.push_back({"kafka.topic", "t", CheckStatus::kUnknown,
                     "Kafka topic t does not exist; whether the broker creates it ... is unknown"});
  CHECK(r.ok());  // exit 0: run does not need what would decide it
  CHECK(r.text() ==
        "PASS  Kafka topic t: Describe granted\n"
        "UNKNOWN  Kafka topic t does not exist; whether the broker creates it ... is unknown\n"
        "check: no item failed, 1 passed, 1 unknown\n");
  auto j = nlohmann::json::parse(r.json());
  CHECK(j["ok"] == true);
  CHECK(j["unknown"] == 1);
  CHECK(j["items"][1]["status"] == "unknown");
  r.items.push_back({"kafka.write", "t", CheckStatus::kFail, "Kafka topic t: permission denied: ..."});
  CHECK_FALSE(r.ok());
  CHECK(r.text().find("check: 1 of 3 items failed, 0 skipped, 1 unknown\n") != std::string::npos);
}
