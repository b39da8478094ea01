#include "agent/cli/preflight.h"

#include <librdkafka/rdkafka.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "state/cursor_reader.h"
#include "base/error.h"
#include "connectors/kafka/kafka_sink.h"
#include "base/log.h"
#include "connectors/postgres/replication_stream.h"
#include "connectors/postgres/source_catalog.h"

namespace tombsync {
namespace {

std::string join(const std::vector<std::string>& v, const std::string& sep = ", ") {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
  return out;
}

std::string plural(size_t n, const char* one, const char* many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

std::string replica_identity_name(char c) {
  switch (c) {
    case 'd': return "default";
    case 'f': return "full";
    case 'i': return "using index";
    case 'n': return "nothing";
  }
  return std::string(1, c);
}

// Everything check learns about one configured table on the way.
struct TableFacts {
  const TableConfig* config = nullptr;
  std::string name;        // schema.table
  std::string sql;         // "schema"."table"
  bool exists = false;     // exists and is a table (relkind r or p)
  bool partitioned = false;
  bool readable = false;   // SELECT right
  bool owned = false;      // the role has its owner's privileges (may publish it)
};

class Preflight {
 public:
  Preflight(const std::string& config_path, const Config& config) : path_(config_path), c_(config) {}

  PreflightReport run() {
    pass("config", "", fmt::format("config {} is valid: {}, slot {}, publication {}", path_,
                                   plural(c_.source.tables.size(), "table", "tables"), c_.source.slot,
                                   c_.source.publication));
    postgres();
    kafka();
    state();
    return std::move(report_);
  }

 private:
  void add(const std::string& check, const std::string& subject, CheckStatus status, std::string message) {
    report_.items.push_back({check, subject, status, std::move(message)});
  }
  void pass(const std::string& check, const std::string& subject, std::string message) {
    add(check, subject, CheckStatus::kPass, std::move(message));
  }
  void fail(const std::string& check, const std::string& subject, std::string message) {
    add(check, subject, CheckStatus::kFail, std::move(message));
  }
  // `title` names the item in the line: "SKIP  wal_level: <reason>".
  void skip(const std::string& check, const std::string& subject, const std::string& title,
            const std::string& reason) {
    add(check, subject, CheckStatus::kSkip, title + ": not checked, " + reason);
  }

  // ---------------------------------------------------------------- Postgres

  void skip_postgres(const std::string& reason) {
    skip("postgres.wal_level", "", "wal_level", reason);
    skip("postgres.replication_slots", "", "max_replication_slots", reason);
    skip("postgres.wal_senders", "", "max_wal_senders", reason);
    skip("postgres.replication_role", "", "REPLICATION right", reason);
    skip("postgres.replication_connection", "", "replication connection", reason);
    for (const auto& t : c_.source.tables) {
      auto name = t.name.qualified();
      skip("table.exists", name, "table " + name, reason);
      skip("table.select", name, "table " + name + ": SELECT right", reason);
      skip("table.key", name, "table " + name + ": key and replica identity", reason);
    }
    skip("publication", c_.source.publication, "publication " + c_.source.publication, reason);
    skip("slot", c_.source.slot, "replication slot " + c_.source.slot, reason);
  }

  void postgres() {
    std::unique_ptr<pg::PgConnection> conn;
    try {
      conn = std::make_unique<pg::PgConnection>(c_.source.dsn, pg::PgConnection::Mode::kSql);
    } catch (const std::exception& e) {
      fail("postgres.login", "", e.what());
      skip_postgres("the Postgres login failed");
      return;
    }
    const char* version = PQparameterStatus(conn->raw(), "server_version");
    pass("postgres.login", "", fmt::format("Postgres reachable: logged in ({}), PostgreSQL {}", conn->describe(),
                                           version ? version : "?"));
    try {
      checks_on(*conn);
    } catch (const std::exception& e) {
      // A query failed mid-way (connection lost, a catalog query refused): report it, do not guess.
      fail("postgres.query", "", std::string("checking the source stopped: ") + e.what());
    }
  }

  void checks_on(pg::PgConnection& conn) {
    pg::SourceCatalog catalog(conn);
    auto r = conn.exec_params(
        "SELECT current_setting('wal_level'), current_setting('max_replication_slots')::int, "
        "current_setting('max_wal_senders')::int, (SELECT count(*) FROM pg_replication_slots)::int, "
        "(SELECT count(*) FROM pg_stat_replication)::int, current_user, current_database(), "
        "(SELECT rolsuper FROM pg_roles WHERE rolname = current_user), "
        "has_database_privilege(current_database(), 'CREATE'), "
        "EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1), pg_current_wal_lsn()::text",
        {c_.source.slot}, "reading server settings");
    auto at = [&](int col) { return pg::value_at(r.get(), 0, col).value_or(""); };
    const std::string wal_level = at(0);
    const int max_slots = std::stoi(at(1)), max_senders = std::stoi(at(2));
    const int used_slots = std::stoi(at(3)), used_senders = std::stoi(at(4));
    user_ = at(5);
    database_ = at(6);
    superuser_ = at(7) == "t";
    const bool may_create_in_db = at(8) == "t";
    const bool slot_exists = at(9) == "t";
    current_wal_ = Lsn::parse(at(10));

    if (wal_level == "logical")
      pass("postgres.wal_level", "", "wal_level = logical");
    else
      fail("postgres.wal_level", "",
           "wal_level is '" + wal_level + "': logical replication needs wal_level = logical; run ALTER SYSTEM "
           "SET wal_level = logical and restart PostgreSQL");

    if (max_slots == 0)
      fail("postgres.replication_slots", "",
           "max_replication_slots is 0: run ALTER SYSTEM SET max_replication_slots = 10 and restart PostgreSQL");
    else if (!slot_exists && used_slots >= max_slots)
      fail("postgres.replication_slots", "",
           fmt::format("max_replication_slots = {} and all {} are in use, so slot {} cannot be created: raise it "
                       "(ALTER SYSTEM SET max_replication_slots = {}, then restart PostgreSQL) or drop a slot "
                       "nobody uses (SELECT pg_drop_replication_slot('<name>'))",
                       max_slots, used_slots, c_.source.slot, max_slots + 4));
    else
      pass("postgres.replication_slots", "",
           fmt::format("max_replication_slots = {}: {} used, {} free", max_slots, used_slots,
                       std::max(0, max_slots - used_slots)));

    if (max_senders == 0)
      fail("postgres.wal_senders", "",
           "max_wal_senders is 0: run ALTER SYSTEM SET max_wal_senders = 10 and restart PostgreSQL");
    else if (used_senders >= max_senders)
      fail("postgres.wal_senders", "",
           fmt::format("max_wal_senders = {} and all {} are in use, so the agent's replication connection "
                       "would be refused: raise it (ALTER SYSTEM SET max_wal_senders = {}, then restart "
                       "PostgreSQL) or stop an idle replication client",
                       max_senders, used_senders, max_senders + 4));
    else
      pass("postgres.wal_senders", "",
           fmt::format("max_wal_senders = {}: {} in use, {} free", max_senders, used_senders,
                       max_senders - used_senders));

    bool may_replicate = false;
    try {
      catalog.check_replication_role();
      may_replicate = true;
      pass("postgres.replication_role", "",
           "role " + user_ + " may replicate (" + (superuser_ ? "superuser" : "REPLICATION") + ")");
    } catch (const Error& e) {
      fail("postgres.replication_role", "", e.what());
    }

    if (!may_replicate) {
      skip("postgres.replication_connection", "", "replication connection", "the role may not replicate");
    } else {
      try {
        pg::ReplicationStream stream(c_.source.dsn);
        auto id = stream.identify();
        system_id_ = id.system_id;
        pass("postgres.replication_connection", "",
             fmt::format("replication connection works: system {}, timeline {}, WAL flushed to {}", id.system_id,
                         id.timeline, id.xlog_pos.str()));
      } catch (const Error& e) {
        fail("postgres.replication_connection", "", e.what());
      }
    }
    if (system_id_.empty()) {
      // For the cursor's identity check; pg_control_system() may be revoked, then that item is skipped.
      try {
        auto s = conn.exec("SELECT system_identifier::text FROM pg_control_system()", "reading the system identifier");
        system_id_ = pg::value_at(s.get(), 0, 0).value_or("");
      } catch (const Error&) {
      }
    }

    tables(catalog, conn);
    publication(catalog, conn, may_create_in_db);
    slot(catalog, conn);
    postgres_checked_ = true;
  }

  void tables(pg::SourceCatalog& catalog, pg::PgConnection& conn) {
    for (const auto& t : c_.source.tables) {
      TableFacts f;
      f.config = &t;
      f.name = t.name.qualified();
      f.sql = t.name.sql_quoted();
      auto r = conn.exec_params(
          "SELECT c.relkind, has_table_privilege(c.oid, 'SELECT'), pg_get_userbyid(c.relowner), "
          "pg_has_role(c.relowner, 'USAGE') "
          "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2",
          {t.name.schema, t.name.table}, "looking up table " + f.name);
      if (PQntuples(r.get()) == 0) {
        fail("table.exists", f.name,
             "table " + f.name + " (source.tables) does not exist in database " + database_ +
                 "; create it or remove it from source.tables");
        skip("table.select", f.name, "table " + f.name + ": SELECT right", "the table does not exist");
        skip("table.key", f.name, "table " + f.name + ": key and replica identity", "the table does not exist");
        tables_.push_back(f);
        continue;
      }
      std::string kind = pg::value_at(r.get(), 0, 0).value_or("");
      std::string owner = pg::value_at(r.get(), 0, 2).value_or("?");
      if (kind != "r" && kind != "p") {
        fail("table.exists", f.name,
             f.name + " (source.tables) is not a table (relkind '" + kind +
                 "'); only tables can be published: list the table itself");
        skip("table.select", f.name, "table " + f.name + ": SELECT right", "it is not a table");
        skip("table.key", f.name, "table " + f.name + ": key and replica identity", "it is not a table");
        tables_.push_back(f);
        continue;
      }
      f.exists = true;
      f.partitioned = kind == "p";
      f.readable = pg::value_at(r.get(), 0, 1).value_or("f") == "t";
      f.owned = pg::value_at(r.get(), 0, 3).value_or("f") == "t";
      pass("table.exists", f.name,
           "table " + f.name + " exists (" + (f.partitioned ? "partitioned, " : "") + "owner " + owner + ")");
      if (f.readable)
        pass("table.select", f.name, "role " + user_ + " may SELECT from " + f.name);
      else
        fail("table.select", f.name,
             "role " + user_ + " lacks SELECT on " + f.name + "; grant it: GRANT SELECT ON " + f.sql + " TO " +
                 pg::quote_ident(user_));
      if (!f.readable) {
        skip("table.key", f.name, "table " + f.name + ": key and replica identity",
             "the role must be able to SELECT from it first");
      } else {
        try {
          auto resolved = catalog.resolve_tables(
              {{t.name.schema, t.name.table, t.key_columns, t.allow_keyless}});
          const auto& rt = resolved.at(0);
          if (rt.key_columns.empty())
            pass("table.key", f.name,
                 "table " + f.name + ": no key (allow_keyless: events have a null Kafka key), replica identity " +
                     replica_identity_name(rt.replica_identity));
          else
            pass("table.key", f.name,
                 "table " + f.name + ": key (" + join(rt.key_columns) + ") from " + rt.key_source +
                     ", replica identity " + replica_identity_name(rt.replica_identity));
        } catch (const Error& e) {
          fail("table.key", f.name, e.what());
        }
      }
      tables_.push_back(f);
    }
  }

  void publication(pg::SourceCatalog& catalog, pg::PgConnection& conn, bool may_create_in_db) {
    const std::string& name = c_.source.publication;
    const std::string qname = pg::quote_ident(name);
    std::vector<const TableFacts*> present;  // the configured tables that exist
    for (const auto& f : tables_)
      if (f.exists) present.push_back(&f);
    std::vector<std::string> table_sql;
    bool any_partitioned = false;
    for (const auto* f : present) {
      table_sql.push_back(f->sql);
      any_partitioned = any_partitioned || f->partitioned;
    }
    const std::string for_tables = table_sql.empty() ? "<the tables>" : join(table_sql);

    auto pub = conn.exec_params(
        "SELECT puballtables, pubinsert, pubupdate, pubdelete, pubtruncate, pubviaroot, pg_get_userbyid(pubowner), "
        "pg_has_role(pubowner, 'USAGE') FROM pg_publication WHERE pubname = $1",
        {name}, "looking up publication " + name);
    if (PQntuples(pub.get()) == 0) {
      if (!c_.source.create_publication) {
        // ensure_publication(create = false) only reads: it refuses with the statement to run.
        std::vector<pg::ResolvedTable> resolved;
        for (const auto* f : present)
          resolved.push_back({f->config->name.schema, f->config->name.table, 0, 'd', f->partitioned, {}, ""});
        try {
          catalog.ensure_publication(name, resolved, false);
          fail("publication", name, "publication " + name + " (source.publication) does not exist");
        } catch (const Error& e) {
          fail("publication", name, e.what());
        }
        return;
      }
      const std::string create = "CREATE PUBLICATION " + qname + " FOR TABLE " + for_tables +
                                 " WITH (publish_via_partition_root = true)";
      std::vector<std::string> not_owned;
      for (const auto* f : present)
        if (!f->owned) not_owned.push_back(f->name);
      std::vector<std::string> lacks;
      if (!superuser_ && !not_owned.empty()) lacks.push_back("does not own " + join(not_owned));
      if (!superuser_ && !may_create_in_db) lacks.push_back("lacks CREATE on database " + database_);
      if (lacks.empty())
        pass("publication", name,
             "publication " + name + " does not exist; run will create it (" + create + "): role " + user_ +
                 (superuser_ ? " is a superuser" : " owns the tables and may create in database " + database_));
      else
        fail("publication", name,
             "publication " + name + " does not exist and role " + user_ + " may not create it (it " +
                 join(lacks, " and ") + "); create it as the tables' owner or a superuser: " + create);
      return;
    }
    auto flag = [&](int col) { return pg::value_at(pub.get(), 0, col).value_or("f") == "t"; };
    const bool all_tables = flag(0), via_root = flag(5), owns_pub = flag(7);
    pass("publication", name,
         "publication " + name + " exists (owner " + pg::value_at(pub.get(), 0, 6).value_or("?") +
             (all_tables ? ", FOR ALL TABLES)" : ")"));

    // Coverage: as `run` reads it (pg_publication_tables), and the tables named in the publication
    // itself: a partitioned table published without publish_via_partition_root is listed there by
    // its partitions only, which the partition_root item reports.
    if (all_tables) {
      pass("publication.tables", name, "publication " + name + " is FOR ALL TABLES, so it covers every table");
    } else {
      auto rows = conn.exec_params(
          "SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1 UNION "
          "SELECT n.nspname, c.relname FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid "
          "JOIN pg_class c ON c.oid = pr.prrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE p.pubname = $1",
          {name}, "reading publication " + name);
      std::vector<std::string> missing, missing_sql, may_not_add;
      for (const auto* f : present) {
        bool found = false;
        for (int i = 0; i < PQntuples(rows.get()) && !found; ++i)
          found = pg::value_at(rows.get(), i, 0) == f->config->name.schema &&
                  pg::value_at(rows.get(), i, 1) == f->config->name.table;
        if (!found) {
          missing.push_back(f->name);
          missing_sql.push_back(f->sql);
          if (!superuser_ && !f->owned) may_not_add.push_back(f->name);
        }
      }
      const std::string alter = missing.empty() ? "" : "ALTER PUBLICATION " + qname + " ADD TABLE " + join(missing_sql);
      if (missing.empty())
        pass("publication.tables", name,
             "publication " + name + " covers " + (present.size() == 1 ? "the table" : "all " + std::to_string(present.size()) + " tables"));
      else if (!c_.source.create_publication)
        fail("publication.tables", name,
             "publication " + name + " does not include " + join(missing) + "; run " + alter +
                 " (or set source.create_publication: true)");
      else if (!superuser_ && (!owns_pub || !may_not_add.empty()))
        fail("publication.tables", name,
             "publication " + name + " does not include " + join(missing) + ", and role " + user_ +
                 " may not add " + (missing.size() == 1 ? "it" : "them") + " (it must own the publication and the tables); "
                 "run as their owner: " + alter);
      else
        pass("publication.tables", name,
             "publication " + name + " does not include " + join(missing) + " yet; run will add " +
                 (missing.size() == 1 ? "it" : "them") + " (" + alter + ")");
    }

    std::vector<std::string> off;
    const char* ops[] = {"insert", "update", "delete", "truncate"};
    for (int col = 1; col <= 4; ++col)
      if (!flag(col)) off.push_back(ops[col - 1]);
    if (off.empty())
      pass("publication.operations", name, "publication " + name + " publishes insert, update, delete and truncate");
    else
      fail("publication.operations", name,
           "publication " + name + " does not publish " + join(off) + "; run ALTER PUBLICATION " + qname +
               " SET (publish = 'insert, update, delete, truncate')");

    // PG15 column lists and row filters would hide changes tombsync must stream.
    auto narrowed = conn.exec_params(
        "SELECT n.nspname, c.relname, pr.prattrs IS NOT NULL, pr.prqual IS NOT NULL "
        "FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid "
        "JOIN pg_class c ON c.oid = pr.prrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE p.pubname = $1 AND (pr.prattrs IS NOT NULL OR pr.prqual IS NOT NULL)",
        {name}, "reading publication " + name + " column lists and row filters");
    std::vector<std::string> narrowing;
    for (int i = 0; i < PQntuples(narrowed.get()); ++i)
      for (const auto* f : present)
        if (pg::value_at(narrowed.get(), i, 0) == f->config->name.schema &&
            pg::value_at(narrowed.get(), i, 1) == f->config->name.table) {
          std::vector<std::string> what;
          if (pg::value_at(narrowed.get(), i, 2) == "t") what.push_back("a column list");
          if (pg::value_at(narrowed.get(), i, 3) == "t") what.push_back("a row filter");
          narrowing.push_back(join(what, " and ") + " on " + f->name);
        }
    if (narrowing.empty())
      pass("publication.filters", name, "publication " + name + " has no column lists or row filters on the tables");
    else
      fail("publication.filters", name,
           "publication " + name + " has " + join(narrowing, "; ") +
               ", which would hide changes tombsync must stream; publish the whole table (ALTER PUBLICATION " +
               qname + " SET TABLE ...) or use a publication of its own");

    if (any_partitioned) {
      if (via_root)
        pass("publication.partition_root", name,
             "publication " + name + " publishes partitioned tables under their own name (publish_via_partition_root = true)");
      else
        fail("publication.partition_root", name,
             "publication " + name + " publishes the partitions of partitioned tables under their own names; run "
             "ALTER PUBLICATION " + qname + " SET (publish_via_partition_root = true)");
    }
  }

  void slot(pg::SourceCatalog& catalog, pg::PgConnection& conn) {
    const std::string& name = c_.source.slot;
    auto info = catalog.slot(name);
    slot_checked_ = true;
    slot_missing_ = !info.has_value();
    if (!info) {
      if (c_.source.create_slot)
        pass("slot", name, "replication slot " + name + " does not exist; run will create it (pgoutput)");
      else
        fail("slot", name,
             "replication slot " + name + " does not exist; create it with SELECT "
             "pg_create_logical_replication_slot('" + name + "', 'pgoutput'), or set source.create_slot: true");
      return;
    }
    slot_confirmed_ = info->confirmed_flush;
    auto w = conn.exec_params("SELECT coalesce(wal_status, '') FROM pg_replication_slots WHERE slot_name = $1",
                              {name}, "reading replication slot " + name);
    std::string wal_status = PQntuples(w.get()) ? pg::value_at(w.get(), 0, 0).value_or("") : "";
    std::vector<std::string> problems;
    if (info->plugin != "pgoutput")
      problems.push_back("it uses plugin " + (info->plugin.empty() ? std::string("none (a physical slot)") : info->plugin) +
                         ", not pgoutput: drop it or choose another source.slot");
    if (info->database != database_)
      problems.push_back("it belongs to database " + (info->database.empty() ? std::string("none") : info->database) +
                         ", not " + database_ + ": choose another source.slot");
    if (info->active)
      problems.push_back("it is in use by another connection (pid " + std::to_string(info->active_pid.value_or(0)) +
                         "): is another tombsync running on it?");
    if (wal_status == "lost")
      problems.push_back("it lost WAL it needs (wal_status lost, max_slot_wal_keep_size): drop it, re-sync the "
                         "tables and start with a fresh state_dir");
    if (problems.empty())
      pass("slot", name,
           "replication slot " + name + " exists: plugin pgoutput, database " + database_ + ", not active" +
               (info->confirmed_flush ? ", confirmed_flush_lsn " + info->confirmed_flush->str() : std::string()));
    else
      fail("slot", name, "replication slot " + name + ": " + join(problems, "; "));
  }

  // ------------------------------------------------------------------- Kafka

  void kafka() {
    std::set<std::string> seen;
    std::vector<std::string> topics;
    for (const auto& t : c_.source.tables)
      if (seen.insert(c_.topic_for(t)).second) topics.push_back(c_.topic_for(t));

    KafkaSinkOptions o;
    o.brokers = c_.kafka.brokers;
    o.properties = c_.kafka.properties;
    o.connect_timeout_ms = c_.kafka.connect_timeout_ms;
    o.log = [](int, const std::string& facility, const std::string& message) {
      log::debug("librdkafka {}: {}", facility, message);
    };
    try {
      KafkaSink sink(o);  // the producer `run` builds: it validates kafka.properties
      sink.check_reachable();
    } catch (const Error& e) {
      fail("kafka.reachable", "", e.what());
      const char* why = e.kind() == ErrorKind::kConfig ? "the Kafka client settings are invalid" : "Kafka is not reachable";
      for (const auto& t : topics) skip("kafka.topic", t, "Kafka topic " + t, why);
      return;
    }
    topic_checks(topics);
  }

  struct KafkaHandle {
    rd_kafka_t* rk = nullptr;
    ~KafkaHandle() {
      if (rk) rd_kafka_destroy(rk);
    }
  };

  // A producer that cannot create topics: `allow.auto.create.topics=false`, and the metadata request
  // asks for all topics, which never auto-creates one.
  void topic_checks(const std::vector<std::string>& topics) {
    char errstr[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    bool producer_auto_create = true;  // KafkaSink's default, unless kafka.properties says otherwise
    auto set = [&](const std::string& k, const std::string& v) {
      return rd_kafka_conf_set(conf, k.c_str(), v.c_str(), errstr, sizeof errstr) == RD_KAFKA_CONF_OK;
    };
    for (const auto& [k, v] : c_.kafka.properties) {
      if (k == "allow.auto.create.topics") {
        producer_auto_create = !(v == "false" || v == "0");
        continue;
      }
      set(k, v);  // KafkaSink accepted them already
    }
    set("bootstrap.servers", c_.kafka.brokers);
    set("client.id", "tombsync-check");
    set("allow.auto.create.topics", "false");
    rd_kafka_conf_set_log_cb(conf, [](const rd_kafka_t*, int, const char* fac, const char* msg) {
      log::debug("librdkafka {}: {}", fac, msg);
    });
    KafkaHandle h;
    h.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!h.rk) {
      rd_kafka_conf_destroy(conf);
      fail("kafka.reachable", "", std::string("cannot create a Kafka client: ") + errstr);
      for (const auto& t : topics) skip("kafka.topic", t, "Kafka topic " + t, "no Kafka client");
      return;
    }
    const rd_kafka_metadata_t* md = nullptr;
    auto err = rd_kafka_metadata(h.rk, /*all_topics=*/1, nullptr, &md, c_.kafka.connect_timeout_ms);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      fail("kafka.reachable", "",
           fmt::format("Kafka at {} answered, but not the topic list within {} ms: {}", c_.kafka.brokers,
                       c_.kafka.connect_timeout_ms, rd_kafka_err2str(err)));
      for (const auto& t : topics) skip("kafka.topic", t, "Kafka topic " + t, "the topic list could not be read");
      return;
    }
    std::unique_ptr<const rd_kafka_metadata_t, void (*)(const rd_kafka_metadata_t*)> guard(md, rd_kafka_metadata_destroy);
    pass("kafka.reachable", "",
         fmt::format("Kafka reachable at {} ({})", c_.kafka.brokers, plural(static_cast<size_t>(md->broker_cnt), "broker", "brokers")));

    std::optional<std::map<std::string, std::string>> broker_config;
    std::string broker_config_error;
    auto broker_setting = [&](const std::string& key) -> std::optional<std::string> {
      if (!broker_config && broker_config_error.empty()) {
        if (md->broker_cnt == 0) broker_config_error = "no broker in the metadata";
        else broker_config = describe_broker(h.rk, md->brokers[0].id, broker_config_error);
      }
      if (!broker_config) return std::nullopt;
      auto it = broker_config->find(key);
      if (it == broker_config->end()) return std::nullopt;
      return it->second;
    };

    for (const auto& topic : topics) {
      const rd_kafka_metadata_topic_t* found = nullptr;
      for (int i = 0; i < md->topic_cnt; ++i)
        if (topic == md->topics[i].topic) found = &md->topics[i];
      const std::string create = fmt::format("create it: kafka-topics.sh --bootstrap-server {} --create --topic {}",
                                             c_.kafka.brokers, topic);
      if (found && found->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        pass("kafka.topic", topic,
             fmt::format("Kafka topic {} exists ({})", topic,
                         plural(static_cast<size_t>(found->partition_cnt), "partition", "partitions")));
      } else if (found && found->err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
        fail("kafka.topic", topic, fmt::format("Kafka topic {}: {}", topic, rd_kafka_err2str(found->err)));
      } else if (!producer_auto_create) {
        fail("kafka.topic", topic,
             "Kafka topic " + topic + " does not exist and kafka.properties sets allow.auto.create.topics=false; " + create);
      } else if (auto on = broker_setting("auto.create.topics.enable")) {
        if (*on == "true")
          pass("kafka.topic", topic,
               "Kafka topic " + topic + " does not exist; the broker will create it at the first write "
               "(auto.create.topics.enable=true, num.partitions=" + broker_setting("num.partitions").value_or("?") + ")");
        else
          fail("kafka.topic", topic,
               "Kafka topic " + topic + " does not exist and the broker does not create topics "
               "(auto.create.topics.enable=" + *on + "); " + create);
      } else {
        fail("kafka.topic", topic,
             "Kafka topic " + topic + " was not found (or this client may not see it), and whether the broker "
             "creates topics is unknown (" + (broker_config_error.empty() ? "auto.create.topics.enable not reported" : broker_config_error) +
             "); " + create);
      }
    }
  }

  // The broker's configuration (DescribeConfigs), or nullopt with `error` set.
  std::optional<std::map<std::string, std::string>> describe_broker(rd_kafka_t* rk, int32_t broker_id,
                                                                    std::string& error) {
    char errstr[512];
    auto* res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_BROKER, std::to_string(broker_id).c_str());
    auto* opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
    rd_kafka_AdminOptions_set_request_timeout(opts, c_.kafka.connect_timeout_ms, errstr, sizeof errstr);
    auto* queue = rd_kafka_queue_new(rk);
    rd_kafka_DescribeConfigs(rk, &res, 1, opts, queue);
    rd_kafka_event_t* ev = rd_kafka_queue_poll(queue, c_.kafka.connect_timeout_ms + 1000);
    std::optional<std::map<std::string, std::string>> out;
    if (!ev) {
      error = "DescribeConfigs timed out";
    } else if (rd_kafka_event_error(ev)) {
      error = std::string("DescribeConfigs: ") + rd_kafka_event_error_string(ev);
    } else {
      size_t n = 0;
      const auto** resources =
          rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &n);
      for (size_t i = 0; i < n; ++i) {
        if (rd_kafka_ConfigResource_error(resources[i])) {
          error = std::string("DescribeConfigs: ") + rd_kafka_ConfigResource_error_string(resources[i]);
          continue;
        }
        size_t entries = 0;
        const auto** cfg = rd_kafka_ConfigResource_configs(resources[i], &entries);
        out.emplace();
        for (size_t j = 0; j < entries; ++j) {
          const char* v = rd_kafka_ConfigEntry_value(cfg[j]);
          (*out)[rd_kafka_ConfigEntry_name(cfg[j])] = v ? v : "";
        }
      }
    }
    if (ev) rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(queue);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_ConfigResource_destroy(res);
    return out;
  }

  // ------------------------------------------------------------------- state

  void state() {
    namespace fs = std::filesystem;
    const std::string& dir = c_.state_dir;
    std::error_code ec;
    fs::path abs = fs::absolute(dir, ec);
    if (fs::is_directory(abs, ec)) {
      if (auto pid = state_dir_lock_holder(dir)) {
        fail("state_dir", dir,
             fmt::format("state_dir {} is in use by process {} (a running tombsync?); run refuses a state_dir in "
                         "use: stop that agent, or give this one its own state_dir",
                         dir, *pid));
      } else {
        std::string probe = (abs / ".tombsync-check-XXXXXX").string();
        int fd = mkstemp(probe.data());
        if (fd < 0) {
          fail("state_dir", dir,
               fmt::format("state_dir {} is not writable ({}): give the agent's user write access to it, or "
                           "choose another state_dir",
                           dir, std::strerror(errno)));
        } else {
          ::close(fd);
          ::unlink(probe.c_str());
          pass("state_dir", dir, "state_dir " + dir + " is writable");
        }
      }
    } else if (fs::exists(abs, ec)) {
      fail("state_dir", dir, "state_dir " + dir + " exists but is not a directory: remove it or choose another state_dir");
    } else {
      fs::path parent = abs.parent_path();
      while (!parent.empty() && !fs::exists(parent, ec) && parent != parent.root_path()) parent = parent.parent_path();
      if (fs::is_directory(parent, ec) && ::access(parent.c_str(), W_OK | X_OK) == 0)
        pass("state_dir", dir,
             "state_dir " + dir + " does not exist; run will create it (" + parent.string() + " is writable)");
      else
        fail("state_dir", dir,
             "state_dir " + dir + " does not exist and cannot be created (" + parent.string() +
                 " is not writable): create it (mkdir -p " + dir + ") and give the agent's user write access");
    }
    cursor();
  }

  void cursor() {
    const std::string& slot = c_.source.slot;
    StoredCursor stored;
    try {
      stored = read_stored_cursor(c_.state_dir, slot);
    } catch (const Error& e) {
      fail("state.cursor", slot, e.what());
      return;
    }
    if (!stored.confirmed && !stored.source) {
      pass("state.cursor", slot,
           "state_dir holds no cursor for slot " + slot + ": the agent starts at the slot's position");
      return;
    }
    const std::string title = "cursor of slot " + slot;
    if (!postgres_checked_ || database_.empty()) {
      skip("state.cursor", slot, title, "it must be compared with the source, and Postgres could not be checked");
      return;
    }
    if (system_id_.empty()) {
      skip("state.cursor", slot, title,
           "the server's system identifier could not be read (no replication connection, no pg_control_system())");
      return;
    }
    const std::string identity = system_id_ + "/" + database_;
    if (stored.source && *stored.source != identity) {
      fail("state.cursor", slot,
           "state_dir " + c_.state_dir + " holds the cursor of slot " + slot + " for source " + *stored.source +
               ", not " + identity + "; use a fresh state_dir for a different database");
      return;
    }
    if (!stored.confirmed) {
      pass("state.cursor", slot, "state_dir belongs to this database (" + identity + "), no cursor for slot " + slot + " yet");
      return;
    }
    const Lsn cur = *stored.confirmed;
    if (current_wal_ && cur > *current_wal_) {
      fail("state.cursor", slot,
           "the stored cursor of slot " + slot + " (" + cur.str() + ") is ahead of the server's WAL (" +
               current_wal_->str() + "): the database was restored or failed over; streaming from here could "
               "skip changes. Re-sync the tables and start with a fresh state_dir");
      return;
    }
    if (slot_checked_ && slot_missing_) {
      fail("state.cursor", slot,
           "replication slot " + slot + " is gone but state_dir has its cursor " + cur.str() +
               ": changes since then are lost to this slot (dropped, or a failover to a server without it). "
               "Re-sync the tables and start with a fresh state_dir");
      return;
    }
    std::string note;
    if (slot_confirmed_ && *slot_confirmed_ > cur)
      note = "; the slot is ahead (" + slot_confirmed_->str() + "), so streaming resumes there";
    pass("state.cursor", slot, "cursor of slot " + slot + " is " + cur.str() + ", recorded for this database (" +
                                   identity + ")" + note);
  }

  const std::string& path_;
  const Config& c_;
  PreflightReport report_;
  // Learnt along the way, for later items.
  std::string user_, database_, system_id_;
  bool superuser_ = false;
  bool postgres_checked_ = false;
  bool slot_checked_ = false, slot_missing_ = false;
  std::optional<Lsn> current_wal_, slot_confirmed_;
  std::vector<TableFacts> tables_;
};

}  // namespace

const char* to_string(CheckStatus status) {
  switch (status) {
    case CheckStatus::kPass: return "PASS";
    case CheckStatus::kFail: return "FAIL";
    case CheckStatus::kSkip: return "SKIP";
  }
  return "?";
}

bool PreflightReport::ok() const {
  return !items.empty() && count(CheckStatus::kPass) == items.size();
}

size_t PreflightReport::count(CheckStatus status) const {
  return static_cast<size_t>(std::count_if(items.begin(), items.end(), [&](const CheckItem& i) { return i.status == status; }));
}

std::string PreflightReport::text() const {
  std::string out;
  for (const auto& i : items) out += fmt::format("{}  {}\n", to_string(i.status), i.message);
  if (ok())
    out += fmt::format("check: all {} items passed\n", items.size());
  else
    out += fmt::format("check: {} of {} items failed, {} skipped\n", count(CheckStatus::kFail), items.size(),
                       count(CheckStatus::kSkip));
  return out;
}

std::string PreflightReport::json() const {
  nlohmann::ordered_json j;
  j["ok"] = ok();
  j["passed"] = count(CheckStatus::kPass);
  j["failed"] = count(CheckStatus::kFail);
  j["skipped"] = count(CheckStatus::kSkip);
  j["items"] = nlohmann::ordered_json::array();
  for (const auto& i : items) {
    std::string status = to_string(i.status);
    std::transform(status.begin(), status.end(), status.begin(), [](unsigned char ch) { return std::tolower(ch); });
    nlohmann::ordered_json item = {{"check", i.check}, {"status", status}, {"message", i.message}};
    if (!i.subject.empty()) item["subject"] = i.subject;
    j["items"].push_back(std::move(item));
  }
  // Invalid UTF-8 (a server message in another encoding) is replaced, never thrown.
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

PreflightReport run_preflight(const std::string& config_path, const Config& config) {
  return Preflight(config_path, config).run();
}

PreflightReport config_refused(const std::string& error) {
  PreflightReport r;
  r.items.push_back({"config", "", CheckStatus::kFail, error});
  r.items.push_back({"postgres", "", CheckStatus::kSkip, "Postgres checks: not checked, the config is invalid"});
  r.items.push_back({"kafka", "", CheckStatus::kSkip, "Kafka checks: not checked, the config is invalid"});
  r.items.push_back({"state", "", CheckStatus::kSkip, "state_dir checks: not checked, the config is invalid"});
  return r;
}

}  // namespace tombsync
