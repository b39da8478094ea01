// The source's start-up rules (agent/source/source_rules.h) on hand-built
// facts: every rule `tombsync run` refuses with and `tombsync check` prints,
// with no Postgres. Each case starts from a source where everything holds and
// breaks one fact.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

#include "agent/source/source_rules.h"

using namespace tombsync;
using Level = Finding::Level;

namespace {

TableConfig table_config(const std::string& schema, const std::string& table) {
  TableConfig t;
  t.name = {schema, table};
  return t;
}

Config::Source source_config() {
  Config::Source s;
  s.dsn = "host=db dbname=app user=tombsync";
  s.slot = "tombsync";
  s.publication = "tombsync";
  s.tables = {table_config("public", "users")};
  return s;
}

pg::TableFacts users_table() {
  pg::TableFacts t;
  t.name = {"public", "users"};
  t.exists = true;
  t.relkind = 'r';
  t.oid = RelationId(16400);
  t.owner = "tombsync";
  t.owned = true;
  t.readable = true;
  t.replica_identity = 'd';
  t.columns = {"id", "email", "name"};
  t.primary_key = {"id"};
  return t;
}

// A source where every rule holds: streaming resumes from an existing slot.
pg::SourceFacts good_facts() {
  pg::SourceFacts f;
  f.server.version = "15.20";
  f.server.version_num = 150020;
  f.server.database = "app";
  f.server.wal_level = "logical";
  f.server.max_replication_slots = 10;
  f.server.used_replication_slots = 2;
  f.server.max_wal_senders = 10;
  f.server.used_wal_senders = 1;
  f.server.system_identifier = "7000";
  f.server.current_wal = Lsn(0x5000000);
  f.role = {"tombsync", false, true, true};
  f.tables = {users_table()};
  f.publication.exists = true;
  f.publication.owner = "tombsync";
  f.publication.owned = true;
  f.publication.publishes_insert = f.publication.publishes_update = true;
  f.publication.publishes_delete = f.publication.publishes_truncate = true;
  f.publication.tables = {{.name = {"public", "users"}, .listed = true, .member = true}};
  f.slot.exists = true;
  f.slot.plugin = "pgoutput";
  f.slot.database = "app";
  f.slot.confirmed_flush = Lsn(0x4000000);
  f.slot.restart_lsn = Lsn(0x3F00000);
  f.slot.wal_status = "reserved";
  return f;
}

StoredState stored(std::optional<Lsn> cursor, std::optional<std::string> identity = "7000/app") {
  return {"/var/lib/tombsync", cursor, std::move(identity)};
}

// Every finding of every rule, in check's order.
Findings judge_all(const pg::SourceFacts& f, const Config::Source& s, const StoredState& state = stored(Lsn(0x4000000))) {
  Findings out = judge_server(f.server);
  for (auto& x : judge_role(f.role)) out.push_back(x);
  for (auto& x : judge_tables(f, s).findings) out.push_back(x);
  for (auto& x : judge_publication(f, s).findings) out.push_back(x);
  for (auto& x : judge_slot(f.slot, f.server, s).findings) out.push_back(x);
  out.push_back(judge_cursor(state, f.server, f.slot, s.slot));
  return out;
}

// The only problem among `findings`; FAILs the test when there is not exactly one.
Problem only_problem(const Findings& findings) {
  auto p = problems(findings);
  INFO("problems: " << p.size());
  for (const auto& x : p) INFO(x.check << ": " << x.message);
  REQUIRE(p.size() == 1);
  return p[0];
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

const Finding* find_check(const Findings& findings, const std::string& check) {
  auto it = std::find_if(findings.begin(), findings.end(), [&](const Finding& f) { return f.check == check; });
  return it == findings.end() ? nullptr : &*it;
}

}  // namespace

TEST_CASE("a good source: every rule holds, nothing to do", "[rules]") {
  auto f = good_facts();
  auto s = source_config();
  auto all = judge_all(f, s);
  CHECK(problems(all).empty());
  for (const auto& x : all) {
    INFO(x.check << ": " << x.message);
    CHECK(x.level == Level::kHolds);
  }
  auto tables = judge_tables(f, s);
  REQUIRE(tables.resolved.size() == 1);
  CHECK(tables.resolved[0].key_columns == std::vector<std::string>{"id"});
  CHECK(tables.resolved[0].key_source == "primary key");
  CHECK(tables.resolved[0].oid.value() == 16400);
  CHECK(judge_publication(f, s).plan.action == PublicationPlan::Action::kNone);
  CHECK_FALSE(judge_slot(f.slot, f.server, s).create);
  CHECK(has(find_check(all, "table.key")->message, "table public.users: key (id) from primary key, replica identity default"));
  CHECK(has(find_check(all, "slot")->message, "replication slot tombsync exists: plugin pgoutput"));
  CHECK(has(find_check(all, "state.cursor")->message, "recorded for this database (7000/app)"));
  CHECK_NOTHROW(refuse_first_problem(all));
}

TEST_CASE("slot rules: lost WAL, at risk, another plugin or database, in use, missing", "[rules]") {
  auto f = good_facts();
  auto s = source_config();
  SECTION("wal_status lost is a problem run refuses, with the fix") {
    f.slot.wal_status = "lost";
    auto p = only_problem(judge_slot(f.slot, f.server, s).findings);
    CHECK(p.check == "slot");
    CHECK(p.subject == "tombsync");
    CHECK(has(p.message, "replication slot tombsync has lost WAL it needs (wal_status lost"));
    CHECK(has(p.message, "max_slot_wal_keep_size"));
    CHECK(has(p.message, "tombsync drop-slot"));
    CHECK(has(p.message, "re-sync the tables"));
    CHECK(has(p.message, "or set on_slot_loss: reconcile to recreate the slot and reconcile every table (docs/deletes.md)"));
    CHECK(p.kind == ErrorKind::kSource);
    CHECK(p.transient == Transient::kNo);
    CHECK_THROWS_WITH(refuse_first_problem(judge_slot(f.slot, f.server, s).findings),
                      Catch::Contains("wal_status lost"));
  }
  SECTION("wal_status unreserved is a warning, not a problem") {
    f.slot.wal_status = "unreserved";
    auto r = judge_slot(f.slot, f.server, s);
    CHECK(problems(r.findings).empty());
    REQUIRE(r.findings.size() == 1);
    CHECK(r.findings[0].level == Level::kWarning);
    CHECK(has(r.findings[0].message, "replication slot tombsync exists: plugin pgoutput"));
    CHECK(has(r.findings[0].message, "at risk: wal_status unreserved"));
    CHECK(has(r.findings[0].message, "raise max_slot_wal_keep_size"));
    CHECK_NOTHROW(refuse_first_problem(r.findings));
  }
  SECTION("unreserved and in use: the problem, and the risk as its own warning") {
    f.slot.wal_status = "unreserved";
    f.slot.active = true;
    auto r = judge_slot(f.slot, f.server, s);
    REQUIRE(r.findings.size() == 2);
    CHECK(r.findings[0].level == Level::kProblem);
    CHECK(r.findings[1].level == Level::kWarning);
    CHECK(has(r.findings[1].message, "replication slot tombsync is at risk: wal_status unreserved"));
  }
  SECTION("wal_status extended holds") {
    f.slot.wal_status = "extended";
    auto r = judge_slot(f.slot, f.server, s);
    REQUIRE(r.findings.size() == 1);
    CHECK(r.findings[0].level == Level::kHolds);
    CHECK(has(r.findings[0].message, "wal_status extended"));
  }
  SECTION("a slot of another plugin") {
    f.slot.plugin = "test_decoding";
    auto p = only_problem(judge_slot(f.slot, f.server, s).findings);
    CHECK(has(p.message, "replication slot tombsync uses plugin test_decoding, not pgoutput"));
    CHECK(has(p.message, "choose another source.slot"));
  }
  SECTION("a physical slot") {
    f.slot.plugin = "";
    f.slot.database = "";
    auto p = only_problem(judge_slot(f.slot, f.server, s).findings);
    CHECK(has(p.message, "uses plugin none (a physical slot), not pgoutput"));
  }
  SECTION("a slot of another database") {
    f.slot.database = "billing";
    auto p = only_problem(judge_slot(f.slot, f.server, s).findings);
    CHECK(has(p.message, "replication slot tombsync belongs to database billing, not app"));
    CHECK(has(p.message, "choose another source.slot"));
  }
  SECTION("an active slot is a transient problem (the supervisor retries it)") {
    f.slot.active = true;
    f.slot.active_pid = 4242;
    auto p = only_problem(judge_slot(f.slot, f.server, s).findings);
    CHECK(has(p.message, "replication slot tombsync is in use by another connection (pid 4242)"));
    CHECK(p.transient == Transient::kYes);
    try {
      refuse_first_problem(judge_slot(f.slot, f.server, s).findings);
      FAIL("not refused");
    } catch (const Error& e) {
      CHECK(e.transient());
      CHECK(e.kind() == ErrorKind::kSource);
    }
  }
  SECTION("lost and in use: both reported, the lost WAL first") {
    f.slot.wal_status = "lost";
    f.slot.active = true;
    auto p = problems(judge_slot(f.slot, f.server, s).findings);
    REQUIRE(p.size() == 2);
    CHECK(has(p[0].message, "wal_status lost"));
    CHECK(p[0].transient == Transient::kNo);
    CHECK(has(p[1].message, "in use"));
  }
  SECTION("a missing slot: run creates it, or refuses with the statement when it may not") {
    f.slot = pg::SlotFacts{};
    auto r = judge_slot(f.slot, f.server, s);
    CHECK(r.create);
    REQUIRE(r.findings.size() == 1);
    CHECK(r.findings[0].level == Level::kHolds);
    CHECK(has(r.findings[0].message, "replication slot tombsync does not exist; run will create it (pgoutput)"));
    s.create_slot = false;
    auto refused = judge_slot(f.slot, f.server, s);
    CHECK_FALSE(refused.create);
    auto p = only_problem(refused.findings);
    CHECK(has(p.message, "pg_create_logical_replication_slot('tombsync', 'pgoutput')"));
    CHECK(has(p.message, "source.create_slot: true"));
  }
  SECTION("PG17's failover flag is shown") {
    f.slot.failover = false;
    auto r = judge_slot(f.slot, f.server, s);
    CHECK(has(r.findings.at(0).message, "failover off"));
  }
}

TEST_CASE("cursor rules: identity, ahead of the WAL, slot gone, slot ahead", "[rules]") {
  auto f = good_facts();
  const std::string slot = "tombsync";
  SECTION("no cursor holds without any fact of the source") {
    auto x = judge_cursor(stored(std::nullopt, std::nullopt), pg::ServerFacts{}, pg::SlotFacts{}, slot);
    CHECK(x.level == Level::kHolds);
    CHECK(has(x.message, "state_dir holds no cursor for slot tombsync"));
  }
  SECTION("a cursor of another source") {
    auto x = judge_cursor(stored(Lsn(0x1000), "12345/otherdb"), f.server, f.slot, slot);
    CHECK(x.level == Level::kProblem);
    CHECK(x.kind == ErrorKind::kState);
    CHECK(has(x.message, "state_dir /var/lib/tombsync holds the cursor of slot tombsync for source 12345/otherdb, not "
                         "7000/app; use a fresh state_dir"));
  }
  SECTION("a cursor ahead of the server's WAL") {
    auto x = judge_cursor(stored(Lsn(0x6000000)), f.server, f.slot, slot);
    CHECK(x.level == Level::kProblem);
    CHECK(x.kind == ErrorKind::kState);
    CHECK(has(x.message, "the stored cursor of slot tombsync (0/6000000) is ahead of the server's WAL (0/5000000)"));
    CHECK(has(x.message, "Re-sync the tables and start with a fresh state_dir, or set on_slot_loss: reconcile"));
  }
  SECTION("the slot is gone but the cursor is there") {
    f.slot = pg::SlotFacts{};
    auto x = judge_cursor(stored(Lsn(0x1000)), f.server, f.slot, slot);
    CHECK(x.level == Level::kProblem);
    CHECK(x.kind == ErrorKind::kSource);
    CHECK(has(x.message, "replication slot tombsync is gone but state_dir has its cursor 0/1000"));
    CHECK(has(x.message, "Re-sync"));
    CHECK(has(x.message, "or set on_slot_loss: reconcile to recreate the slot"));
  }
  SECTION("a slot ahead of the cursor is a warning: streaming resumes at the slot") {
    auto x = judge_cursor(stored(Lsn(0x2000000)), f.server, f.slot, slot);
    CHECK(x.level == Level::kWarning);
    CHECK(has(x.message, "cursor of slot tombsync is 0/2000000, recorded for this database (7000/app)"));
    CHECK(has(x.message, "the slot is ahead (confirmed_flush_lsn 0/4000000)"));
  }
  SECTION("an unknown system identifier: the identity is not judged, the rest is") {
    f.server.system_identifier = "";
    CHECK(judge_cursor(stored(Lsn(0x1000)), f.server, f.slot, slot).level == Level::kUnjudged);
    CHECK(judge_cursor(stored(Lsn(0x6000000)), f.server, f.slot, slot).level == Level::kProblem);
  }
  SECTION("an identity without a cursor yet") {
    auto x = judge_cursor(stored(std::nullopt), f.server, f.slot, slot);
    CHECK(x.level == Level::kHolds);
    CHECK(has(x.message, "no cursor for slot tombsync yet"));
  }
}

TEST_CASE("slot loss with on_slot_loss: reconcile: a warning run acts on, with the cause and the positions",
          "[rules][reconcile]") {
  auto f = good_facts();
  auto s = source_config();
  const std::string slot = "tombsync";
  const auto reconcile = OnSlotLoss::kReconcile;
  SECTION("the slot is gone") {
    f.slot = pg::SlotFacts{};
    auto x = judge_cursor(stored(Lsn(0x1000)), f.server, f.slot, slot, reconcile, true);
    CHECK(x.level == Level::kWarning);
    CHECK(has(x.message, "slot tombsync is gone (dropped, or a failover to a server without it); cursor 0/1000, "
                         "server WAL 0/5000000; run will recreate the slot and reconcile every table"));
    auto loss = find_slot_loss(stored(Lsn(0x1000)), f.server, f.slot, slot);
    REQUIRE(loss);
    CHECK(loss->cause == SlotLoss::Cause::kMissing);
    CHECK_FALSE(loss->slot_exists);
    CHECK(problems(judge_slot(f.slot, f.server, s, reconcile).findings).empty());
  }
  SECTION("the cursor is ahead of the server's WAL: the slot is dropped and created again") {
    auto x = judge_cursor(stored(Lsn(0x6000000)), f.server, f.slot, slot, reconcile, true);
    CHECK(x.level == Level::kWarning);
    CHECK(has(x.message, "the cursor of slot tombsync (0/6000000) is ahead of the server's WAL (0/5000000)"));
    auto loss = find_slot_loss(stored(Lsn(0x6000000)), f.server, f.slot, slot);
    REQUIRE(loss);
    CHECK(loss->cause == SlotLoss::Cause::kAhead);
    CHECK(loss->slot_exists);
  }
  SECTION("wal_status lost, with a cursor or without one (a crash while recreating it)") {
    f.slot.wal_status = "lost";
    auto r = judge_slot(f.slot, f.server, s, reconcile);
    CHECK(problems(r.findings).empty());
    auto w = find_check(r.findings, "slot");
    REQUIRE(w);
    CHECK(w->level == Level::kWarning);
    CHECK(has(w->message, "wal_status lost"));
    CHECK(has(w->message, "run will recreate the slot and reconcile"));
    CHECK(r.findings.size() == 1);  // no "exists" line besides the warning
    for (auto cursor : {std::optional<Lsn>(Lsn(0x1000)), std::optional<Lsn>()}) {
      auto loss = find_slot_loss(stored(cursor), f.server, f.slot, slot);
      REQUIRE(loss);
      CHECK(loss->cause == SlotLoss::Cause::kLost);
      CHECK(loss->slot_exists);
      CHECK(has(loss->what, "confirmed_flush_lsn 0/4000000"));
      CHECK(has(loss->what, cursor ? "cursor 0/1000" : "cursor none"));
    }
  }
  SECTION("create_slot: false forbids the recreation: still a problem, naming the setting") {
    f.slot = pg::SlotFacts{};
    auto x = judge_cursor(stored(Lsn(0x1000)), f.server, f.slot, slot, reconcile, false);
    CHECK(x.level == Level::kProblem);
    CHECK(has(x.message, "set source.create_slot: true"));
    s.create_slot = false;
    pg::SlotFacts lost = good_facts().slot;
    lost.wal_status = "lost";
    CHECK(has(only_problem(judge_slot(lost, f.server, s, reconcile).findings).message, "source.create_slot: false forbids"));
  }
  SECTION("no loss: a good slot, a slot ahead, another source's state_dir") {
    CHECK_FALSE(find_slot_loss(stored(Lsn(0x1000)), f.server, f.slot, slot));
    CHECK_FALSE(find_slot_loss(stored(Lsn(0x2000000)), f.server, f.slot, slot));
    CHECK_FALSE(find_slot_loss(stored(Lsn(0x6000000), "12345/otherdb"), f.server, f.slot, slot));
    CHECK(judge_cursor(stored(Lsn(0x6000000), "12345/otherdb"), f.server, f.slot, slot, reconcile, true).level ==
          Level::kProblem);
  }
}

TEST_CASE("publication rules: coverage, create and add, operations, filters, partition root", "[rules]") {
  auto f = good_facts();
  auto s = source_config();
  s.tables.push_back(table_config("public", "orders"));
  auto orders = users_table();
  orders.name = {"public", "orders"};
  f.tables.push_back(orders);

  SECTION("a missing table is added when create_publication allows it and the role owns both") {
    auto r = judge_publication(f, s);
    CHECK(problems(r.findings).empty());
    CHECK(r.plan.action == PublicationPlan::Action::kAddTables);
    CHECK(r.plan.tables == std::vector<pg::TableRef>{{"public", "orders"}});
    const Finding* t = find_check(r.findings, "publication.tables");
    REQUIRE(t);
    CHECK(has(t->message, "publication tombsync does not include public.orders yet; run will add it "
                          "(ALTER PUBLICATION \"tombsync\" ADD TABLE \"public\".\"orders\")"));
  }
  SECTION("a missing table without create_publication: the statement to run") {
    s.create_publication = false;
    auto r = judge_publication(f, s);
    auto p = only_problem(r.findings);
    CHECK(p.check == "publication.tables");
    CHECK(has(p.message, "publication tombsync does not include public.orders; run ALTER PUBLICATION \"tombsync\" "
                         "ADD TABLE \"public\".\"orders\" (or set source.create_publication: true)"));
    CHECK(r.plan.action == PublicationPlan::Action::kNone);
  }
  SECTION("a missing table the role may not add") {
    f.tables[1].owned = false;
    auto p = only_problem(judge_publication(f, s).findings);
    CHECK(has(p.message, "does not include public.orders, and role tombsync may not add it (it must own the "
                         "publication and the tables)"));
    f.tables[1].owned = true;
    f.publication.owned = false;
    CHECK(has(only_problem(judge_publication(f, s).findings).message, "may not add it"));
    f.role.superuser = true;  // a superuser may
    CHECK(problems(judge_publication(f, s).findings).empty());
  }
  SECTION("a missing publication is created, when the role may") {
    f.publication = pg::PublicationFacts{};
    auto r = judge_publication(f, s);
    CHECK(problems(r.findings).empty());
    CHECK(r.plan.action == PublicationPlan::Action::kCreate);
    CHECK(r.plan.tables.size() == 2);
    REQUIRE(r.findings.size() == 1);
    CHECK(has(r.findings[0].message, "publication tombsync does not exist; run will create it (CREATE PUBLICATION "
                                     "\"tombsync\" FOR TABLE \"public\".\"users\", \"public\".\"orders\" WITH "
                                     "(publish_via_partition_root = true)): role tombsync owns the tables"));
    f.tables[0].owned = false;
    f.role.may_create_in_database = false;
    auto p = only_problem(judge_publication(f, s).findings);
    CHECK(has(p.message, "publication tombsync does not exist and role tombsync may not create it (it does not own "
                         "public.users and lacks CREATE on database app)"));
    s.create_publication = false;
    p = only_problem(judge_publication(f, s).findings);
    CHECK(has(p.message, "publication tombsync (source.publication) does not exist; create it: CREATE PUBLICATION"));
    CHECK(has(p.message, "source.create_publication: true"));
  }
  SECTION("a publication without delete and truncate") {
    f.publication.tables.push_back({.name = {"public", "orders"}, .listed = true, .member = true});
    f.publication.publishes_delete = false;
    f.publication.publishes_truncate = false;
    auto p = only_problem(judge_publication(f, s).findings);
    CHECK(p.check == "publication.operations");
    CHECK(has(p.message, "publication tombsync does not publish delete, truncate; run ALTER PUBLICATION "
                         "\"tombsync\" SET (publish = 'insert, update, delete, truncate')"));
  }
  SECTION("a column list and a row filter") {
    f.publication.tables[0].column_list = true;
    f.publication.tables.push_back({.name = {"public", "orders"}, .listed = true, .member = true, .row_filter = true});
    auto p = only_problem(judge_publication(f, s).findings);
    CHECK(p.check == "publication.filters");
    CHECK(has(p.message, "publication tombsync has a column list on public.users; a row filter on public.orders, "
                         "which would hide changes tombsync must stream"));
  }
  SECTION("a partitioned table without publish_via_partition_root") {
    f.tables[1].relkind = 'p';
    // Named by the publication, listed by its partitions only.
    f.publication.tables.push_back({.name = {"public", "orders"}, .listed = false, .member = true});
    auto p = only_problem(judge_publication(f, s).findings);
    CHECK(p.check == "publication.partition_root");
    CHECK(has(p.message, "publication tombsync publishes the partitions of public.orders under their own names; run "
                         "ALTER PUBLICATION \"tombsync\" SET (publish_via_partition_root = true)"));
    f.publication.via_root = true;
    f.publication.tables.back().listed = true;  // with the option, Postgres lists the root itself
    auto ok = judge_publication(f, s);
    CHECK(problems(ok.findings).empty());
    CHECK(find_check(ok.findings, "publication.partition_root")->level == Level::kHolds);
  }
  SECTION("FOR ALL TABLES covers every table") {
    f.publication.all_tables = true;
    f.publication.tables.clear();
    auto r = judge_publication(f, s);
    CHECK(problems(r.findings).empty());
    CHECK(r.plan.action == PublicationPlan::Action::kNone);
    f.publication.owned = false;  // an admin's publication: nothing to change, so no right needed
    f.tables[0].owned = f.tables[1].owned = false;
    CHECK(problems(judge_publication(f, s).findings).empty());
  }
  SECTION("an admin's publication that already covers every table needs no right to change it") {
    f.publication.tables.push_back({.name = {"public", "orders"}, .listed = true, .member = true});
    f.publication.owned = false;
    f.tables[0].owned = f.tables[1].owned = false;
    f.role.may_create_in_database = false;
    auto r = judge_publication(f, s);
    CHECK(problems(r.findings).empty());
    CHECK(r.plan.action == PublicationPlan::Action::kNone);
  }
  SECTION("a superuser creates a missing publication without owning the tables or CREATE on the database") {
    f.publication = pg::PublicationFacts{};
    f.tables[0].owned = f.tables[1].owned = false;
    f.role.may_create_in_database = false;
    f.role.superuser = true;
    auto r = judge_publication(f, s);
    CHECK(problems(r.findings).empty());
    CHECK(r.plan.action == PublicationPlan::Action::kCreate);
  }
  SECTION("a partition published under its ancestor's name (via root) is refused, not silently skipped") {
    // CREATE PUBLICATION p FOR TABLE orders_root, orders WITH (publish_via_partition_root = true):
    // orders is a member, but its changes are sent as orders_root.
    f.publication.via_root = true;
    f.publication.tables.push_back({.name = {"public", "orders"}, .listed = false, .member = true});
    f.publication.tables.push_back({.name = {"public", "orders_root"}, .listed = true, .member = true});
    auto r = judge_publication(f, s);
    auto p = only_problem(r.findings);
    CHECK(p.check == "publication.tables");
    CHECK(has(p.message, "publishes public.orders under the name of a partitioned ancestor"));
    CHECK(has(p.message, "list the ancestor in source.tables"));
    CHECK(r.plan.action == PublicationPlan::Action::kNone);  // no ALTER ... ADD TABLE of a member
  }
}

TEST_CASE("server and role rules: wal_level, slots, senders, REPLICATION", "[rules]") {
  auto f = good_facts();
  auto s = source_config();
  SECTION("wal_level replica") {
    f.server.wal_level = "replica";
    auto p = only_problem(judge_server(f.server));
    CHECK(p.check == "postgres.wal_level");
    CHECK(has(p.message, "wal_level is 'replica'"));
    CHECK(has(p.message, "ALTER SYSTEM SET wal_level = logical"));
    CHECK(has(p.message, "restart PostgreSQL"));
  }
  SECTION("max_replication_slots full: a problem only when the slot must be created") {
    f.server.used_replication_slots = 10;
    CHECK(problems(judge_server(f.server)).empty());
    CHECK(problems(judge_slot(f.slot, f.server, s).findings).empty());  // the slot exists: nothing to create
    f.slot = pg::SlotFacts{};
    CHECK(problems(judge_server(f.server)).empty());  // judged with the slot, after the cursor in run
    auto r = judge_slot(f.slot, f.server, s);
    auto p = only_problem(r.findings);
    CHECK(p.check == "slot");
    CHECK(has(p.message, "max_replication_slots = 10 and all 10 are in use, so slot tombsync cannot be created"));
    CHECK(has(p.message, "pg_drop_replication_slot"));
    CHECK_FALSE(r.create);
    s.create_slot = false;  // nothing would be created: the missing slot is the problem, not the room
    CHECK(has(only_problem(judge_slot(f.slot, f.server, s).findings).message, "does not exist; create it with"));
  }
  SECTION("max_replication_slots 0") {
    f.server.max_replication_slots = 0;
    CHECK(has(only_problem(judge_server(f.server)).message, "max_replication_slots is 0"));
  }
  SECTION("every wal sender in use: transient") {
    f.server.used_wal_senders = 10;
    auto p = only_problem(judge_server(f.server));
    CHECK(p.check == "postgres.wal_senders");
    CHECK(has(p.message, "max_wal_senders = 10 and all 10 are in use"));
    CHECK(p.transient == Transient::kYes);
  }
  SECTION("a role without REPLICATION") {
    f.role.replication = false;
    auto p = only_problem(judge_role(f.role));
    CHECK(has(p.message, "role tombsync may not replicate; grant it: ALTER ROLE \"tombsync\" WITH REPLICATION"));
    f.role.superuser = true;
    CHECK(problems(judge_role(f.role)).empty());
  }
}

TEST_CASE("table rules: missing, not a table, SELECT, keys", "[rules]") {
  auto f = good_facts();
  auto s = source_config();
  SECTION("a missing table, and what depends on it") {
    f.tables[0] = pg::TableFacts{.name = {"public", "users"}};
    auto r = judge_tables(f, s);
    auto p = only_problem(r.findings);
    CHECK(p.check == "table.exists");
    CHECK(has(p.message, "table public.users (source.tables) does not exist in database app; create it or remove it "
                         "from source.tables"));
    CHECK(r.resolved.empty());
    REQUIRE(r.findings.size() == 3);
    CHECK(r.findings[1].level == Level::kUnjudged);
    CHECK(has(r.findings[1].message, "table public.users: SELECT right: not checked, the table does not exist"));
    CHECK(r.findings[2].level == Level::kUnjudged);
  }
  SECTION("a view") {
    f.tables[0].relkind = 'v';
    auto p = only_problem(judge_tables(f, s).findings);
    CHECK(has(p.message, "public.users (source.tables) is not a table (relkind 'v')"));
  }
  SECTION("no SELECT right: the GRANT, and the key still judged") {
    f.tables[0].readable = false;
    auto r = judge_tables(f, s);
    auto p = only_problem(r.findings);
    CHECK(has(p.message, "role tombsync lacks SELECT on public.users; grant it: GRANT SELECT ON \"public\".\"users\" "
                         "TO \"tombsync\""));
    CHECK(find_check(r.findings, "table.key")->level == Level::kHolds);
    CHECK(r.resolved.empty());
  }
  SECTION("a keyless table without allow_keyless: the fixes") {
    f.tables[0].primary_key.clear();
    auto p = only_problem(judge_tables(f, s).findings);
    CHECK(p.check == "table.key");
    for (const char* part : {"table public.users has no primary key", "ADD PRIMARY KEY", "REPLICA IDENTITY USING INDEX",
                             "key_columns", "allow_keyless: true"})
      CHECK(has(p.message, part));
  }
  SECTION("a keyless table with allow_keyless needs REPLICA IDENTITY FULL") {
    f.tables[0].primary_key.clear();
    s.tables[0].allow_keyless = true;
    CHECK(has(only_problem(judge_tables(f, s).findings).message,
              "keyless table public.users needs REPLICA IDENTITY FULL"));
    f.tables[0].replica_identity = 'f';
    auto r = judge_tables(f, s);
    CHECK(problems(r.findings).empty());
    REQUIRE(r.resolved.size() == 1);
    CHECK(r.resolved[0].key_columns.empty());
    CHECK(r.resolved[0].key_source == "none");
    CHECK(has(find_check(r.findings, "table.key")->message, "no key (allow_keyless"));
  }
  SECTION("key_columns not in the replica identity") {
    s.tables[0].key_columns = {"email"};
    auto p = only_problem(judge_tables(f, s).findings);
    CHECK(has(p.message, "key_columns (email) of public.users are not all in its replica identity"));
    CHECK(has(p.message, "ALTER TABLE \"public\".\"users\" REPLICA IDENTITY FULL"));
    f.tables[0].replica_identity = 'f';
    auto r = judge_tables(f, s);
    CHECK(problems(r.findings).empty());
    REQUIRE(r.resolved.size() == 1);
    CHECK(r.resolved[0].key_columns == std::vector<std::string>{"email"});
    CHECK(r.resolved[0].key_source == "key_columns");
  }
  SECTION("key_columns within the primary key but REPLICA IDENTITY NOTHING: deletes carry no key") {
    s.tables[0].key_columns = {"id"};
    f.tables[0].replica_identity = 'n';
    auto p = only_problem(judge_tables(f, s).findings);
    CHECK(has(p.message, "key_columns (id) of public.users are not all in its replica identity"));
  }
  SECTION("key_columns in the replica identity index") {
    s.tables[0].key_columns = {"email"};
    f.tables[0].replica_identity = 'i';
    f.tables[0].identity_index = {"email"};
    CHECK(problems(judge_tables(f, s).findings).empty());
  }
  SECTION("key_columns naming a column the table lacks") {
    s.tables[0].key_columns = {"nope"};
    CHECK(has(only_problem(judge_tables(f, s).findings).message,
              "key_columns of public.users names column \"nope\", which the table does not have"));
  }
  SECTION("the replica identity index is the key when set") {
    f.tables[0].replica_identity = 'i';
    f.tables[0].identity_index = {"email", "name"};
    auto r = judge_tables(f, s);
    REQUIRE(r.resolved.size() == 1);
    CHECK(r.resolved[0].key_columns == std::vector<std::string>{"email", "name"});
    CHECK(r.resolved[0].key_source == "replica identity index");
  }
  SECTION("REPLICA IDENTITY NOTHING on a table with a primary key") {
    f.tables[0].replica_identity = 'n';
    CHECK(has(only_problem(judge_tables(f, s).findings).message, "REPLICA IDENTITY DEFAULT"));
  }
}

TEST_CASE("run refuses the first problem in check's order, with its kind", "[rules]") {
  auto f = good_facts();
  auto s = source_config();
  f.server.wal_level = "minimal";
  f.slot.wal_status = "lost";
  auto all = judge_all(f, s);
  auto p = problems(all);
  REQUIRE(p.size() == 2);
  CHECK(p[0].check == "postgres.wal_level");
  CHECK(p[1].check == "slot");
  CHECK_THROWS_WITH(refuse_first_problem(all), Catch::Contains("wal_level is 'minimal'"));
  CHECK(p[1].error().kind() == ErrorKind::kSource);
}
