// The Kafka side of the example consumers (tombsync-warehouse-loader,
// tombsync-audit-log): one librdkafka consumer in a group over the table
// topics, positioned from the offsets stored in the target database (never from
// Kafka's committed offsets, see offset_store.h), and a k-way merge of the
// partitions by stream position so a batch applies records in source commit order.
//
// Single-threaded: every method, and the rebalance callback (which librdkafka
// runs inside poll()), runs on the consumer program's main thread.
#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "examples/warehouse-loader/flags.h"
#include "examples/warehouse-loader/record.h"

namespace tombsync::loader {

using PartitionId = std::pair<std::string, int32_t>;  // topic, partition

// What the consumer needs of a program's options.
struct ConsumerConfig {
  std::string brokers;
  std::string group;      // Kafka consumer group; also the key of the stored offsets
  std::string client_id;  // the program's name, as brokers show it
  std::vector<TableSpec> tables;  // a record's `table` is its index here
  std::chrono::milliseconds order_settle{500};
  std::string target = "the warehouse";  // where the offsets live, for the log
  // How long the group waits for a member that stopped heartbeating (a SIGKILLed consumer)
  // before its partitions move on; nullopt: librdkafka's default (45 s).
  std::optional<std::chrono::milliseconds> session_timeout;
};

// What the warehouse holds for a partition: the next offset to apply and the
// position of the last record applied there.
struct StoredOffset {
  int64_t next_offset = 0;
  Position applied;
};

// How a batch moves one partition forward; written with the rows.
struct PartitionAdvance {
  PartitionId partition;
  size_t records = 0;
  std::optional<int64_t> expected_next;  // what the warehouse must still hold (nullopt: no row yet)
  int64_t next_offset = 0;
  Position last;
  std::optional<Position> applied_before;  // records at or before it are redeliveries
};

struct Batch {
  std::vector<const LoaderRecord*> records;  // ascending position; valid until committed() or the next poll
  std::vector<PartitionAdvance> partitions;
  bool empty() const { return records.empty(); }
};

// Drops the records of a batch that the agent wrote twice (its producer retried after a crash):
// a record at or before the last position applied on its partition. Use one per batch, in the
// batch's order, inside the transaction that applies it.
class RedeliveryFilter {
 public:
  explicit RedeliveryFilter(const Batch& batch);
  // True when `r` (on `topic`) is a redelivery; otherwise records its position and returns false.
  bool redelivered(const std::string& topic, const LoaderRecord& r);

 private:
  std::map<PartitionId, std::optional<Position>> seen_;
};

class Consumer {
 public:
  using LoadOffsets = std::function<std::map<PartitionId, StoredOffset>(const std::vector<PartitionId>&)>;
  // Throws Error(kSink) when no broker answers within 10 s. `load_offsets` is called from
  // poll() (the rebalance callback) with the partitions just assigned.
  Consumer(ConsumerConfig config, LoadOffsets load_offsets);
  ~Consumer();
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  // Moves what librdkafka has fetched into the partition buffers, waiting up to `wait` for the first message.
  void poll(std::chrono::milliseconds wait);
  size_t buffered() const;
  // True when every assigned partition either has records buffered or is known to be at its end,
  // so a merge can run without guessing what a silent partition will deliver.
  bool all_partitions_ready() const;
  // Up to `max` records in ascending position. Stops where a partition with nothing buffered
  // may still deliver an earlier record: one still fetching, or one at its end while the next
  // record is younger than --order-settle-ms (Kafka makes a record visible per partition, so a
  // record produced earlier to another partition can become visible a little later).
  Batch next_batch(size_t max) const;
  // The batch is in the warehouse: drop its records and move the partitions on; commits the
  // offsets to Kafka too, for lag monitoring only.
  void committed(const Batch& batch);
  size_t assigned() const { return partitions_.size(); }

 private:
  struct PartitionState {
    std::deque<LoaderRecord> buffer;
    bool at_eof = false;
    std::optional<int64_t> stored_next;  // the warehouse's next_offset (nullopt: never stored)
    std::optional<Position> applied;
  };
  static void rebalance_cb(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
                           void* opaque);
  void on_assign(rd_kafka_topic_partition_list_t* parts);
  void on_revoke(rd_kafka_topic_partition_list_t* parts);
  void handle(rd_kafka_message_t* m);

  const ConsumerConfig options_;
  LoadOffsets load_offsets_;
  std::map<std::string, size_t> table_by_topic_;
  rd_kafka_t* rk_ = nullptr;
  std::map<PartitionId, PartitionState> partitions_;
  std::map<std::string, bool> warned_missing_topic_;
  std::exception_ptr callback_error_;  // thrown by the rebalance callback, rethrown after poll
  std::chrono::steady_clock::time_point last_kafka_warning_{};
};

}  // namespace tombsync::loader
