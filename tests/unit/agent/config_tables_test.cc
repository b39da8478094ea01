// Config loading of source.tables: names as SQL reads them, per-table overrides, and the
// checks across keys and across tables (topics, keyless tables, snapshot modes).
#include <catch2/catch.hpp>

#include <string>

#include "agent/config/config.h"
#include "base/error.h"
#include "tests/unit/agent/config_fixtures.h"

using namespace tombsync;
using namespace tombsync::test;
using Catch::Contains;

TEST_CASE("table names follow SQL identifier rules", "[config]") {
  const Config c = parse_config(with_tables("    - Public.Users\n"
                                            "    - name: '\"CamelSchema\".\"With\"\"Quote\"'\n"
                                            "      topic: camel\n"
                                            "    - { name: app.t$1, topic: app.t1 }\n"),
                                "test.yaml");
  REQUIRE(c.source.tables.size() == 3);
  // Unquoted names fold to lower case, as Postgres stores them.
  CHECK(c.source.tables[0].name == TableName{"public", "users"});
  CHECK(c.find_table("public", "users") != nullptr);
  CHECK(c.source.tables[1].name == TableName{"CamelSchema", "With\"Quote"});
  CHECK(c.source.tables[1].name.sql_quoted() == "\"CamelSchema\".\"With\"\"Quote\"");
  CHECK(c.source.tables[2].name == TableName{"app", "t$1"});
}

TEST_CASE("tables must be schema-qualified, valid and unique", "[config][errors]") {
  CHECK(error_of(with_tables("    - public.orders\n    - users\n")) ==
        "config test.yaml line 5: source.tables[1]: \"users\" is not schema-qualified; expected "
        "\"schema.table\", e.g. \"public.users\"");
  CHECK_THAT(error_of(with_tables("    - name: users\n")),
             Contains("source.tables[0].name: \"users\" is not schema-qualified"));
  CHECK_THAT(error_of(with_tables("    - db.public.users\n")),
             Contains("source.tables[0]: \"db.public.users\" has 3 dot-separated parts"));
  CHECK_THAT(error_of(with_tables("    - public.my-table\n")),
             Contains("source.tables[0]: \"public.my-table\" is not a valid table name: \"-\" is "
                      "not allowed in an unquoted name"));
  CHECK_THAT(error_of(with_tables("    - 'public.\"open'\n")),
             Contains("source.tables[0]: \"public.\\\"open\" is not a valid table name: a double "
                      "quote is not closed"));
  CHECK_THAT(error_of(with_tables("    - public.\n")), Contains("a name is empty"));
  CHECK_THAT(error_of(with_tables("    - public." + std::string(64, 'x') + "\n")),
             Contains("longer than 63 bytes"));
  CHECK_THAT(error_of(with_tables("    - \"\"\n")), Contains("source.tables[0]: is empty"));
  // Duplicates compare the names Postgres would see.
  CHECK(error_of(with_tables("    - public.users\n    - public.orders\n"
                             "    - name: Public.USERS\n")) ==
        "config test.yaml line 6: source.tables[2]: public.users is listed twice (first as "
        "source.tables[0])");
}

TEST_CASE("per-table overrides are validated", "[config][errors]") {
  CHECK_THAT(error_of(with_tables("    - name: public.users\n      key_columns: []\n")),
             Contains("source.tables[0].key_columns: is empty; expected a list of column names"));
  CHECK_THAT(error_of(with_tables("    - name: public.users\n      key_columns: id\n")),
             Contains("source.tables[0].key_columns: expected a list of column names, e.g. "
                      "[order_id], got a scalar"));
  CHECK_THAT(error_of(with_tables("    - name: public.users\n      key_columns: [id, ID]\n")),
             Contains("source.tables[0].key_columns[1]: column \"id\" is listed twice"));
  CHECK_THAT(error_of(with_tables("    - name: public.users\n      key_columns: [a.b]\n")),
             Contains("source.tables[0].key_columns[0]: \"a.b\" is not a valid column name"));
  CHECK_THAT(error_of(with_tables("    - name: public.users\n      allow_keyless: true\n"
                                  "      deletes: flag\n      key_columns: [id]\n")),
             Contains("source.tables[0]: allow_keyless: true and key_columns contradict"));
  CHECK_THAT(error_of(with_tables("    - name: public.users\n      topic: \"bad topic\"\n")),
             Contains("source.tables[0].topic: \"bad topic\" is not a valid Kafka topic name"));
  CHECK_THAT(error_of(with_tables("    - name: public.users\n      topic: ..\n")),
             Contains("source.tables[0].topic: \"..\" is not a valid Kafka topic name"));
}

TEST_CASE("checks across keys point at the table", "[config][errors]") {
  // A keyless table's events have a null key: a tombstone would delete nothing.
  CHECK(error_of(with_tables("    - public.users\n    - name: public.log\n"
                             "      allow_keyless: true\n")) ==
        "config test.yaml line 5: source.tables[1]: public.log is keyless (allow_keyless: true) "
        "and its delete policy is both, but a tombstone needs a key; set deletes: flag on this "
        "table");
  const Config flag = parse_config(
      with_tables("    - name: public.log\n      allow_keyless: true\n      snapshot: never\n") +
          "deletes: flag\n",
      "test.yaml");
  CHECK(flag.deletes_for(flag.source.tables[0]) == DeletePolicy::kFlag);
  // A quoted name can hold characters a topic cannot: then a topic must be set.
  CHECK_THAT(error_of(with_tables("    - 'public.\"Order Items\"'\n")),
             Contains("source.tables[0]: the topic \"app.public.Order Items\" derived from "
                      "kafka.topic_prefix and the table name is not a valid Kafka topic name"));
  const std::string long_prefix(200, 'p');
  CHECK_THAT(error_of("source:\n" + kDsn + "  tables: [public." + std::string(63, 't') +
                      "]\nkafka:\n  brokers: k:9092\n  topic_prefix: " + long_prefix + "\n" +
                      kStateDir),
             Contains("source.tables[0]: the topic \"" + long_prefix.substr(0, 50)));
}

TEST_CASE("two tables routed to one topic are refused, naming both", "[config]") {
  const std::string yaml =
      "source:\n  dsn: \"host=x\"\n  tables:\n    - public.a\n    - name: public.b\n      topic: app.public.a\n"
      "kafka:\n  brokers: k:9092\n  topic_prefix: app\nstate_dir: /tmp/x\n";
  try {
    tombsync::parse_config(yaml, "test.yaml");
    FAIL("accepted two tables on one topic");
  } catch (const tombsync::Error& e) {
    std::string what = e.what();
    CHECK(what.find("source.tables[1]") != std::string::npos);
    CHECK(what.find("source.tables[0] (public.a)") != std::string::npos);
    CHECK(what.find("set topic:") != std::string::npos);
  }
}

TEST_CASE("snapshot modes parse globally and per table, and keyless tables must not be snapshotted", "[config]") {
  const std::string base = "source:\n  dsn: \"host=x\"\n  tables:\n    - public.a\n    - name: public.b\n      snapshot: never\n"
                           "kafka:\n  brokers: k:9092\n  topic_prefix: app\nstate_dir: /tmp/x\n";
  auto c = tombsync::parse_config(base + "snapshot: initial_only\nsnapshot_chunk_rows: 500\n", "test.yaml");
  CHECK(c.snapshot == tombsync::SnapshotMode::kInitialOnly);
  CHECK(c.snapshot_chunk_rows == 500);
  CHECK(c.snapshot_for(c.source.tables[0]) == tombsync::SnapshotMode::kInitialOnly);
  CHECK(c.snapshot_for(c.source.tables[1]) == tombsync::SnapshotMode::kNever);
  auto d = tombsync::parse_config(base, "test.yaml");
  CHECK(d.snapshot == tombsync::SnapshotMode::kInitial);
  CHECK(d.snapshot_chunk_rows == 10000);
  CHECK_THROWS_WITH(tombsync::parse_config(base + "snapshot: sometimes\n", "test.yaml"),
                    Catch::Contains("snapshot") && Catch::Contains("initial_only"));
  CHECK_THROWS_WITH(tombsync::parse_config(base + "snapshot_chunk_rows: 5\n", "test.yaml"),
                    Catch::Contains("snapshot_chunk_rows"));
  const std::string keyless = "source:\n  dsn: \"host=x\"\n  tables:\n    - name: public.k\n      allow_keyless: true\n"
                              "      deletes: flag\nkafka:\n  brokers: k:9092\n  topic_prefix: app\nstate_dir: /tmp/x\n";
  CHECK_THROWS_WITH(tombsync::parse_config(keyless, "test.yaml"), Catch::Contains("snapshot: never"));
  CHECK_NOTHROW(tombsync::parse_config(keyless + "snapshot: never\n", "test.yaml"));
}

TEST_CASE("ledger: keys unless set, a per-table override, none for a keyless table", "[config][ledger]") {
  const Config c = parse_config(with_tables("    - public.a\n"
                                            "    - { name: public.b, ledger: keys }\n") +
                                    "ledger: none\n",
                                "test.yaml");
  CHECK(c.ledger_for(c.source.tables[0]) == LedgerMode::kNone);
  CHECK(c.ledger_for(c.source.tables[1]) == LedgerMode::kKeys);
  const Config d = parse_config(with_tables("    - public.a\n"), "test.yaml");
  CHECK(d.ledger_for(d.source.tables[0]) == LedgerMode::kKeys);
  const Config r = parse_config(with_tables("    - { name: public.b, ledger: rows }\n"), "test.yaml");
  CHECK(r.ledger_for(r.source.tables[0]) == LedgerMode::kRows);
  CHECK_THAT(error_of(with_tables("    - { name: public.b, ledger: all }\n")), Contains("source.tables[0].ledger"));
  CHECK_THAT(error_of(with_top("ledger: yes\n")), Contains("none, keys, rows"));
  CHECK_THAT(error_of(with_tables("    - { name: public.b, allow_keyless: true, ledger: rows }\n")),
             Contains("ledger: rows keeps each key's last row"));
}

TEST_CASE("truncate: expand where a ledger is kept, event otherwise; expand without a ledger is refused",
          "[config][truncate]") {
  const Config c = parse_config(with_tables("    - public.a\n"
                                            "    - { name: public.b, truncate: event }\n"
                                            "    - { name: public.c, ledger: none }\n"
                                            "    - { name: public.d, allow_keyless: true, deletes: flag, snapshot: never }\n"),
                                "test.yaml");
  CHECK(c.truncate_for(c.source.tables[0]) == TruncateMode::kExpand);
  CHECK(c.truncate_for(c.source.tables[1]) == TruncateMode::kEvent);
  CHECK(c.truncate_for(c.source.tables[2]) == TruncateMode::kEvent);  // no ledger to expand from
  CHECK(c.truncate_for(c.source.tables[3]) == TruncateMode::kEvent);  // keyless: no ledger
  const Config e = parse_config(with_tables("    - public.a\n    - { name: public.b, truncate: expand }\n") +
                                    "truncate: event\n",
                                "test.yaml");
  CHECK(e.truncate_for(e.source.tables[0]) == TruncateMode::kEvent);
  CHECK(e.truncate_for(e.source.tables[1]) == TruncateMode::kExpand);
  // A keyless table under a global expand falls back to the event; an explicit ledger: none does not.
  CHECK_NOTHROW(parse_config(with_tables("    - { name: public.d, allow_keyless: true, deletes: flag, snapshot: never }\n") +
                                 "truncate: expand\n",
                             "test.yaml"));
  CHECK_THAT(error_of(with_tables("    - { name: public.c, ledger: none, truncate: expand }\n")),
             Contains("public.c has truncate: expand but ledger: none"));
  CHECK_THAT(error_of(with_tables("    - public.a\n") + "ledger: none\ntruncate: expand\n"),
             Contains("set ledger: keys, or truncate: event"));
  CHECK_THAT(error_of(with_top("truncate: delete\n")), Contains("expand, event"));
}

TEST_CASE("on_slot_loss: stop unless set, reconcile when asked; global only", "[config][reconcile]") {
  CHECK(parse_config(with_tables("    - public.a\n"), "test.yaml").on_slot_loss == OnSlotLoss::kStop);
  CHECK(parse_config(with_top("on_slot_loss: reconcile\n"), "test.yaml").on_slot_loss == OnSlotLoss::kReconcile);
  CHECK(parse_config(with_top("on_slot_loss: stop\n"), "test.yaml").on_slot_loss == OnSlotLoss::kStop);
  CHECK(std::string(to_string(OnSlotLoss::kReconcile)) == "reconcile");
  const std::string bad = error_of(with_top("on_slot_loss: resync\n"));
  CHECK_THAT(bad, Contains("on_slot_loss"));
  CHECK_THAT(bad, Contains("stop, reconcile"));
  CHECK_THAT(error_of(with_tables("    - { name: public.a, on_slot_loss: reconcile }\n")), Contains("on_slot_loss"));
}

TEST_CASE("oversized: a global default and a per-table override, fail unless set", "[config]") {
  const Config c = parse_config(with_tables("    - public.a\n"
                                            "    - { name: public.b, oversized: skip_column }\n") +
                                    "oversized: truncate_column\n",
                                "test.yaml");
  CHECK(c.oversized_for(c.source.tables[0]) == OversizedPolicy::kTruncateColumn);
  CHECK(c.oversized_for(c.source.tables[1]) == OversizedPolicy::kSkipColumn);
  const Config d = parse_config(with_tables("    - public.a\n"), "test.yaml");
  CHECK(d.oversized_for(d.source.tables[0]) == OversizedPolicy::kFail);
  CHECK_THAT(error_of(with_tables("    - { name: public.b, oversized: drop }\n")),
             Contains("source.tables[0].oversized"));
  CHECK_THAT(error_of(with_top("oversized: cut\n")), Contains("fail, truncate_column, skip_column"));
}

TEST_CASE("complete_rows is a per-table boolean, off by default, refused for a keyless table", "[config]") {
  const Config c = parse_config(with_tables("    - public.plain\n"
                                            "    - name: public.users\n      complete_rows: true\n"
                                            "    - name: public.orders\n      complete_rows: false\n"),
                                "test");
  REQUIRE(c.source.tables.size() == 3);
  CHECK_FALSE(c.source.tables[0].complete_rows);
  CHECK(c.source.tables[1].complete_rows);
  CHECK_FALSE(c.source.tables[2].complete_rows);
  CHECK_THAT(error_of(with_tables("    - name: public.users\n      complete_rows: maybe\n")),
             Contains("source.tables[0].complete_rows"));
  CHECK_THAT(error_of(with_tables("    - name: audit.events\n      allow_keyless: true\n      deletes: flag\n"
                                  "      complete_rows: true\n")),
             Contains("complete_rows: true needs a key"));
}
