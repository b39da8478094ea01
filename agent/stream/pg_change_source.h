// ChangeSource over a started replication connection: reads frames, decodes
// pgoutput and maps it to change events through the relation cache
// (pg::ChangeBuilder). Pipeline thread only.
#pragma once

#include <unordered_map>
#include <vector>

#include "agent/stream/change_source.h"
#include "connectors/postgres/change_builder.h"
#include "connectors/postgres/replication_stream.h"

namespace tombsync {

class PgChangeSource final : public ChangeSource {
 public:
  // `stream` must be started (START_REPLICATION) and outlive this object.
  PgChangeSource(pg::ReplicationStream& stream, const std::vector<pg::ResolvedTable>& tables,
                 std::unordered_map<uint32_t, std::string> type_names)
      : stream_(stream), builder_(tables, std::move(type_names)) {}

  bool next(std::chrono::milliseconds timeout, SourceStep& out) override;
  bool in_transaction() const override { return builder_.in_transaction(); }
  void send_status(Lsn confirmed, bool reply_requested) override { stream_.send_status(confirmed, reply_requested); }
  void finish() override { stream_.finish(); }

 private:
  pg::ReplicationStream& stream_;
  pg::ChangeBuilder builder_;
};

}  // namespace tombsync
