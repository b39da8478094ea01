#include "examples/warehouse-loader/purge.h"

#include "examples/warehouse-loader/log.h"
#include "examples/warehouse-loader/retention.h"
#include "examples/warehouse-loader/warehouse_ddl.h"

namespace tombsync::loader {

size_t purge_deleted(pg::PgConnection& wh, const std::string& schema, const std::vector<TableShape>& shapes,
                     std::chrono::seconds older_than) {
  size_t total = 0;
  for (const auto& shape : shapes) {
    std::string table = warehouse_table(schema, shape);
    size_t n = delete_older_than(wh, table, "deleted_at", older_than, "is_deleted");
    if (n > 0) log::info("purged {} rows of {} flagged deleted more than {} s ago", n, table, older_than.count());
    total += n;
  }
  return total;
}

}  // namespace tombsync::loader
