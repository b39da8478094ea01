#include "connectors/postgres/source_catalog.h"

namespace tombsync::pg {
namespace {

std::string table_list(const std::vector<TableRef>& tables) {
  if (tables.empty()) return "<the tables>";
  std::string out;
  for (size_t i = 0; i < tables.size(); ++i) out += (i ? ", " : "") + tables[i].sql();
  return out;
}

}  // namespace

std::string create_publication_sql(const std::string& publication, const std::vector<TableRef>& tables) {
  return "CREATE PUBLICATION " + quote_ident(publication) + " FOR TABLE " + table_list(tables) +
         " WITH (publish_via_partition_root = true)";
}

std::string add_tables_sql(const std::string& publication, const std::vector<TableRef>& tables) {
  return "ALTER PUBLICATION " + quote_ident(publication) + " ADD TABLE " + table_list(tables);
}

void SourceCatalog::create_publication(const std::string& publication, const std::vector<TableRef>& tables) {
  conn_.exec(create_publication_sql(publication, tables),
             "creating publication " + publication + " (the role must own the tables, or use a superuser)");
}

void SourceCatalog::add_tables(const std::string& publication, const std::vector<TableRef>& tables) {
  conn_.exec(add_tables_sql(publication, tables), "adding tables to publication " + publication);
}

std::unordered_map<uint32_t, std::string> SourceCatalog::builtin_type_names() {
  auto r = conn_.exec("SELECT oid, typname FROM pg_type WHERE oid < 16384", "reading built-in types");
  std::unordered_map<uint32_t, std::string> names;
  for (int i = 0; i < PQntuples(r.get()); ++i)
    names.emplace(static_cast<uint32_t>(std::stoul(value_at(r.get(), i, 0).value_or("0"))),
                  value_at(r.get(), i, 1).value_or(""));
  return names;
}

}  // namespace tombsync::pg
