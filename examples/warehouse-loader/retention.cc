#include "examples/warehouse-loader/retention.h"

namespace tombsync::loader {

size_t delete_older_than(pg::PgConnection& conn, const std::string& table, const std::string& timestamp_column,
                         std::chrono::seconds older_than, const std::string& condition) {
  auto r = conn.exec_params("DELETE FROM " + table + " WHERE " + (condition.empty() ? "" : condition + " AND ") +
                                pg::quote_ident(timestamp_column) + " < now() - make_interval(secs => $1::bigint)",
                            {std::to_string(older_than.count())}, "purging old rows of " + table);
  const char* tuples = PQcmdTuples(r.get());
  return tuples && *tuples ? std::stoul(tuples) : 0;
}

}  // namespace tombsync::loader
