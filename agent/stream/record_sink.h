// The stream's view of Kafka: records handed over, acknowledgements coming
// back. KafkaRecordSink (kafka_record_sink.h) is the real one, over KafkaSink
// (whose header states the delivery guarantees this interface carries);
// tests/unit/agent/stream_fakes.h has an in-memory one.
// Every method is called from the pipeline thread; the callbacks run on it
// too, from inside send(), poll() and flush().
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "base/lsn.h"
#include "schemas/record.h"

namespace tombsync {

class RecordSink {
 public:
  virtual ~RecordSink() = default;
  // Partition count of `topic`.
  virtual int partitions(const std::string& topic) = 0;
  // Hands `r` over; returns how many messages it became (1, or one per
  // partition for an all-partitions record). Fewer than that only after an
  // interrupted stop: the record is then not wholly handed over. Blocks while
  // the producer queue is full, calling while_blocked meanwhile.
  virtual size_t send(const Record& r) = 0;
  // Serves acknowledgements, waiting up to timeout_ms for the first.
  virtual void poll(int timeout_ms) = 0;
  // Serves acknowledgements until none is outstanding (true) or timeout_ms passed (false).
  virtual bool flush(int timeout_ms) = 0;
  // Messages handed over and not yet acknowledged.
  virtual size_t in_flight() const = 0;
  // The stop was forced: sends no longer block, and may hand over less.
  virtual bool interrupted() const = 0;

  // One message of the transaction with this commit LSN was acknowledged.
  std::function<void(Lsn commit_lsn)> on_delivered;
  // send() is waiting for room in a full queue.
  std::function<void()> while_blocked;
};

}  // namespace tombsync
