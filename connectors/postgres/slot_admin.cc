#include "connectors/postgres/slot_admin.h"

namespace tombsync::pg {

void drop_replication_slot(PgConnection& conn, const std::string& slot) {
  conn.exec_params("SELECT pg_drop_replication_slot($1)", {slot}, "dropping replication slot " + slot);
}

}  // namespace tombsync::pg
