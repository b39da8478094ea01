#include "examples/warehouse-loader/purge.h"

#include "examples/warehouse-loader/log.h"
#include "examples/warehouse-loader/warehouse_ddl.h"

namespace tombsync::loader {

size_t purge_deleted(pg::PgConnection& wh, const std::string& schema, const std::vector<TableShape>& shapes,
                     std::chrono::seconds older_than) {
  size_t total = 0;
  for (const auto& shape : shapes) {
    std::string table = warehouse_table(schema, shape);
    auto r = wh.exec_params("DELETE FROM " + table +
                                " WHERE is_deleted AND deleted_at < now() - make_interval(secs => $1::bigint)",
                            {std::to_string(older_than.count())}, "purging deleted rows of " + table);
    const char* tuples = PQcmdTuples(r.get());
    size_t n = tuples && *tuples ? std::stoul(tuples) : 0;
    if (n > 0) log::info("purged {} rows of {} flagged deleted more than {} s ago", n, table, older_than.count());
    total += n;
  }
  return total;
}

}  // namespace tombsync::loader
