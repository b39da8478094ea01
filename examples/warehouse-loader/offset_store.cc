#include "examples/warehouse-loader/offset_store.h"

#include <algorithm>

#include "base/error.h"

namespace tombsync::loader {

OffsetStore::OffsetStore(pg::PgConnection& conn, std::string table, std::string group)
    : conn_(conn), table_(std::move(table)), group_(std::move(group)) {}

void OffsetStore::ensure_table(const std::string& schema) {
  conn_.exec("CREATE SCHEMA IF NOT EXISTS " + pg::quote_ident(schema), "creating schema " + schema);
  conn_.exec("CREATE TABLE IF NOT EXISTS " + table_ +
                 " (consumer_group text NOT NULL, topic text NOT NULL, kafka_partition int NOT NULL, "
                 "next_offset bigint NOT NULL, commit_lsn pg_lsn NOT NULL, seq bigint NOT NULL, "
                 "updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (consumer_group, topic, kafka_partition))",
             "creating " + table_);
}

std::map<PartitionId, StoredOffset> OffsetStore::load(const std::vector<PartitionId>& ids) {
  auto r = conn_.exec_params("SELECT topic, kafka_partition, next_offset, commit_lsn::text, seq FROM " + table_ +
                                 " WHERE consumer_group = $1",
                             {group_}, "reading the stored offsets");
  std::map<PartitionId, StoredOffset> out;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    PartitionId id{*pg::value_at(r.get(), i, 0), std::stoi(*pg::value_at(r.get(), i, 1))};
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) continue;
    StoredOffset s{.next_offset = std::stoll(*pg::value_at(r.get(), i, 2))};
    s.applied = {.commit_lsn = Lsn::parse(*pg::value_at(r.get(), i, 3)).value_or(Lsn()),
                 .seq = std::stoll(*pg::value_at(r.get(), i, 4))};
    out[id] = s;
  }
  return out;
}

void OffsetStore::advance(const PartitionAdvance& adv) {
  // Fencing: the row must still say what this consumer read at assignment (or be absent: then a
  // row another consumer inserted meanwhile conflicts and `WHERE false` refuses the update).
  std::vector<std::string> params{group_,
                                  adv.partition.first,
                                  std::to_string(adv.partition.second),
                                  std::to_string(adv.next_offset),
                                  adv.last.commit_lsn.str(),
                                  std::to_string(adv.last.seq)};
  std::string fence = "false";
  if (adv.expected_next) {
    params.push_back(std::to_string(*adv.expected_next));
    fence = "o.next_offset = $7::bigint";
  }
  auto r = conn_.exec_params("INSERT INTO " + table_ +
                                 " AS o (consumer_group, topic, kafka_partition, next_offset, commit_lsn, seq, "
                                 "updated_at) VALUES ($1, $2, $3::int, $4::bigint, $5::pg_lsn, $6::bigint, now()) "
                                 "ON CONFLICT (consumer_group, topic, kafka_partition) DO UPDATE SET "
                                 "next_offset = EXCLUDED.next_offset, commit_lsn = EXCLUDED.commit_lsn, "
                                 "seq = EXCLUDED.seq, updated_at = EXCLUDED.updated_at WHERE " + fence,
                             params, "storing the offsets of " + adv.partition.first);
  const char* tuples = PQcmdTuples(r.get());
  if (!tuples || std::string(tuples) != "1")
    throw Error(ErrorKind::kSink,
                "partition " + std::to_string(adv.partition.second) + " of " + adv.partition.first +
                    " was moved on by another consumer in group '" + group_ +
                    "' since this one was assigned it; one --group per target schema, and restart this consumer");
}

}  // namespace tombsync::loader
