// judge_publication (source_rules.h): the publication exists (or run may create it), covers
// every configured table (or run may add them), publishes every operation, does not narrow a
// table with a column list or row filter, and publishes partitioned tables via their root.
#include "agent/source/finding_builders.h"
#include "agent/source/source_rules.h"

namespace tombsync {
namespace {

using rules::holds;
using rules::join;
using rules::problem;

// The configured tables that exist as tables: the only ones a publication can hold.
struct Present {
  std::vector<const pg::TableFacts*> tables;
  std::vector<pg::TableRef> refs;
  std::vector<std::string> names;
  bool any_partitioned = false;
};

Present present_tables(const pg::SourceFacts& facts) {
  Present p;
  for (const auto& t : facts.tables) {
    if (!t.exists || !t.is_table()) continue;
    p.tables.push_back(&t);
    p.refs.push_back(t.name);
    p.names.push_back(t.name.qualified());
    p.any_partitioned = p.any_partitioned || t.partitioned();
  }
  return p;
}

// The publication does not exist: run creates it when allowed and the role may.
void judge_missing(const pg::SourceFacts& facts, const Config::Source& source, const Present& present,
                   PublicationRuling& r) {
  const std::string& name = source.publication;
  const std::string create = pg::create_publication_sql(name, present.refs);
  if (!source.create_publication) {
    r.findings.push_back(problem("publication", name,
                                 "publication " + name + " (source.publication) does not exist; create it: " + create +
                                     ", or set source.create_publication: true"));
    return;
  }
  const pg::RoleFacts& role = facts.role;
  std::vector<std::string> not_owned;
  for (const auto* t : present.tables)
    if (!t->owned) not_owned.push_back(t->name.qualified());
  std::vector<std::string> lacks;
  if (!role.superuser && !not_owned.empty()) lacks.push_back("does not own " + join(not_owned));
  if (!role.superuser && !role.may_create_in_database)
    lacks.push_back("lacks CREATE on database " + facts.server.database);
  if (!lacks.empty()) {
    r.findings.push_back(problem("publication", name,
                                 "publication " + name + " does not exist and role " + role.name +
                                     " may not create it (it " + join(lacks, " and ") +
                                     "); create it as the tables' owner or a superuser: " + create));
    return;
  }
  r.plan = {PublicationPlan::Action::kCreate, present.refs};
  r.findings.push_back(holds("publication", name,
                             "publication " + name + " does not exist; run will create it (" + create + "): role " +
                                 role.name +
                                 (role.superuser ? " is a superuser"
                                                 : " owns the tables and may create in database " +
                                                       facts.server.database)));
}

// Coverage as pg_publication_tables lists it, or as the publication names it (a partitioned
// table named without publish_via_partition_root is listed by its partitions only, which the
// partition_root item reports).
void judge_coverage(const pg::SourceFacts& facts, const Config::Source& source, const Present& present,
                    PublicationRuling& r) {
  const std::string& name = source.publication;
  const pg::PublicationFacts& pub = facts.publication;
  if (pub.all_tables) {
    r.findings.push_back(
        holds("publication.tables", name, "publication " + name + " is FOR ALL TABLES, so it covers every table"));
    return;
  }
  std::vector<pg::TableRef> missing;
  std::vector<std::string> missing_names, may_not_add, under_ancestor;
  for (const auto* t : present.tables) {
    const pg::PublishedTable* p = pub.find(t->name);
    // Covered: its changes are sent under its own name. A partitioned table named without
    // publish_via_partition_root is covered through its partitions (the partition_root item
    // reports that). Any other member that is not listed is published under an ancestor's name.
    if (p && (p->listed || (t->partitioned() && !pub.via_root))) continue;
    if (p && p->member) {
      under_ancestor.push_back(t->name.qualified());
      continue;
    }
    missing.push_back(t->name);
    missing_names.push_back(t->name.qualified());
    if (!facts.role.superuser && !t->owned) may_not_add.push_back(t->name.qualified());
  }
  if (!under_ancestor.empty()) {
    r.findings.push_back(problem(
        "publication.tables", name,
        "publication " + name + " publishes " + join(under_ancestor) +
            " under the name of a partitioned ancestor it also includes (publish_via_partition_root = true), so "
            "its changes would arrive as that table and be skipped: list the ancestor in source.tables instead, "
            "or use a publication of its own"));
    return;
  }
  if (missing.empty()) {
    r.findings.push_back(holds("publication.tables", name,
                               "publication " + name + " covers " +
                                   (present.tables.size() == 1 ? std::string("the table")
                                                               : "all " + std::to_string(present.tables.size()) +
                                                                     " tables")));
    return;
  }
  const std::string alter = pg::add_tables_sql(name, missing);
  const std::string them = missing.size() == 1 ? "it" : "them";
  if (!source.create_publication)
    r.findings.push_back(problem("publication.tables", name,
                                 "publication " + name + " does not include " + join(missing_names) + "; run " + alter +
                                     " (or set source.create_publication: true)"));
  else if (!facts.role.superuser && (!pub.owned || !may_not_add.empty()))
    r.findings.push_back(problem("publication.tables", name,
                                 "publication " + name + " does not include " + join(missing_names) + ", and role " +
                                     facts.role.name + " may not add " + them +
                                     " (it must own the publication and the tables); run as their owner: " + alter));
  else {
    r.plan = {PublicationPlan::Action::kAddTables, missing};
    r.findings.push_back(holds("publication.tables", name,
                               "publication " + name + " does not include " + join(missing_names) +
                                   " yet; run will add " + them + " (" + alter + ")"));
  }
}

// Operations, column lists and row filters, and publish_via_partition_root.
void judge_contents(const pg::PublicationFacts& pub, const std::string& name, const Present& present,
                    PublicationRuling& r) {
  const std::string qname = pg::quote_ident(name);
  std::vector<std::string> off;
  if (!pub.publishes_insert) off.push_back("insert");
  if (!pub.publishes_update) off.push_back("update");
  if (!pub.publishes_delete) off.push_back("delete");
  if (!pub.publishes_truncate) off.push_back("truncate");
  if (off.empty())
    r.findings.push_back(holds("publication.operations", name,
                               "publication " + name + " publishes insert, update, delete and truncate"));
  else
    r.findings.push_back(problem("publication.operations", name,
                                 "publication " + name + " does not publish " + join(off) + "; run ALTER PUBLICATION " +
                                     qname + " SET (publish = 'insert, update, delete, truncate')"));

  // PG15 column lists and row filters would hide changes tombsync must stream.
  std::vector<std::string> narrowing;
  for (const auto* t : present.tables) {
    const pg::PublishedTable* p = pub.find(t->name);
    if (!p || (!p->column_list && !p->row_filter)) continue;
    std::vector<std::string> what;
    if (p->column_list) what.push_back("a column list");
    if (p->row_filter) what.push_back("a row filter");
    narrowing.push_back(join(what, " and ") + " on " + t->name.qualified());
  }
  if (narrowing.empty())
    r.findings.push_back(holds("publication.filters", name,
                               "publication " + name + " has no column lists or row filters on the tables"));
  else
    r.findings.push_back(problem("publication.filters", name,
                                 "publication " + name + " has " + join(narrowing, "; ") +
                                     ", which would hide changes tombsync must stream; publish the whole table "
                                     "(ALTER PUBLICATION " + qname + " SET TABLE ...) or use a publication of its own"));

  if (!present.any_partitioned) return;
  std::vector<std::string> partitioned;
  for (const auto* t : present.tables)
    if (t->partitioned()) partitioned.push_back(t->name.qualified());
  if (pub.via_root)
    r.findings.push_back(holds("publication.partition_root", name,
                               "publication " + name + " publishes partitioned tables under their own name "
                               "(publish_via_partition_root = true)"));
  else
    r.findings.push_back(problem("publication.partition_root", name,
                                 "publication " + name + " publishes the partitions of " + join(partitioned) +
                                     " under their own names; run ALTER PUBLICATION " + qname +
                                     " SET (publish_via_partition_root = true)"));
}

}  // namespace

PublicationRuling judge_publication(const pg::SourceFacts& facts, const Config::Source& source) {
  PublicationRuling r;
  const Present present = present_tables(facts);
  const pg::PublicationFacts& pub = facts.publication;
  if (!pub.exists) {
    judge_missing(facts, source, present, r);
    return r;
  }
  r.findings.push_back(holds("publication", source.publication,
                             "publication " + source.publication + " exists (owner " + pub.owner +
                                 (pub.all_tables ? ", FOR ALL TABLES)" : ")")));
  judge_coverage(facts, source, present, r);
  judge_contents(pub, source.publication, present, r);
  return r;
}

}  // namespace tombsync
