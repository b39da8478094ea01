// The Kafka side of the pipeline: an idempotent librdkafka producer that turns Records into Kafka
// messages and reports, per message, the commit LSN of the transaction whose message Kafka
// acknowledged.
//
// Guarantees:
//  - Producer settings protect the contract: enable.idempotence=true, acks=all,
//    max.in.flight.requests.per.connection=5 (idempotence keeps per-partition order with 5),
//    partitioner=murmur2_random (a keyed record lands on the partition the Java client picks),
//    message.timeout.ms=0. The last one means librdkafka never gives up on a message: while Kafka
//    is down, messages stay queued and are retried until Kafka is back. The queue is bounded
//    (queue.buffering.max.messages / .kbytes), so a long outage ends in send() blocking, which
//    stops the pipeline from reading the replication stream; Postgres keeps the WAL meanwhile.
//  - Nothing is skipped. A message that fails delivery (or any fatal producer error) puts the
//    sink in a failed state: no further on_delivered calls are made, and the next send(), poll()
//    or flush() throws Error(kSink) naming the topic, partition and librdkafka's reason.
//  - on_delivered reports are in send order per partition only. Messages of one transaction can
//    span partitions and topics, so the caller must count, per transaction, the messages still in
//    flight (send() returns how many a record became) and confirm an LSN only when no message at
//    or below it is outstanding.
//
// Threading: every method except interrupt() is called from one thread (the pipeline thread).
// librdkafka invokes our callbacks only from inside send(), poll(), flush() and
// check_reachable() on that thread, so on_delivered and on_warning run there too and the state
// below needs no lock. on_delivered/on_warning may throw: the exception is caught before it
// reaches librdkafka's C frames, rethrown as is from the call that served the callback, and the
// sink is failed from then on.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

#include "base/lsn.h"
#include "schemas/record.h"

struct rd_kafka_s;        // rd_kafka_t
struct rd_kafka_topic_s;  // rd_kafka_topic_t

namespace tombsync {

struct KafkaSinkOptions {
  std::string brokers;  // bootstrap.servers, e.g. "kafka-1:9092,kafka-2:9092"
  // Passed through to librdkafka (SASL/SSL, tuning) after tombsync's defaults. Refused, with an
  // error naming the key: enable.idempotence, acks (and its alias request.required.acks),
  // partitioner and delivery.report.only.error, which the contract depends on, and
  // bootstrap.servers / metadata.broker.list, which come from `brokers` (the list is
  // owned_properties() in kafka_properties.h, which the config refuses too). Anything else is
  // librdkafka's to judge (e.g. a finite message.timeout.ms is allowed: a message that times
  // out fails the sink, it is not lost).
  std::map<std::string, std::string> properties;
  // Bounds check_reachable() and partitions(); never bounds delivery (see message.timeout.ms).
  int connect_timeout_ms = 10000;
  // librdkafka's own log lines (syslog level 0-7, facility, message). Called from librdkafka's
  // threads, so it must be thread-safe. Unset: librdkafka prints them to stderr itself.
  std::function<void(int level, const std::string& facility, const std::string& message)> log;
};

// One Kafka message acknowledged by the brokers (acks=all).
struct Delivery {
  Lsn commit_lsn;             // Record::commit_lsn of the record the message came from
  KafkaPartition partition{-1};  // where it landed
  int64_t offset = -1;     // its offset in that partition
};

class KafkaSink {
 public:
  // Throws Error(kConfig) naming the property when a property is refused, unknown or invalid.
  explicit KafkaSink(KafkaSinkOptions options);
  // Does not flush: call flush() first to wait for acknowledgements. Messages still queued are
  // dropped with the producer (their LSNs were never confirmed, so Postgres resends them).
  ~KafkaSink();
  // librdkafka holds `this` as its callback opaque, so the sink can be neither copied nor moved.
  KafkaSink(const KafkaSink&) = delete;
  KafkaSink& operator=(const KafkaSink&) = delete;

  // Throws Error(kSink) when no broker answers a metadata request within connect_timeout_ms:
  // "cannot reach Kafka at 127.0.0.1:9092 within 10 s: <reason>; <hint>", the hint from
  // kafka_connect_hint (kafka_hints.h): check kafka.brokers, or the sasl.* settings, or the TLS
  // host name / ssl.ca.location. A refused SASL login or TLS certificate ends the wait at once.
  void check_reachable();
  // Whether a broker answers a metadata request within timeout_ms. Unlike every other method,
  // safe to call from another thread (it only uses librdkafka's thread-safe handle): the
  // health prober asks it while the pipeline thread may be blocked in send().
  bool probe(int timeout_ms) const;

  // The partition count of `topic`, asking the brokers once per topic (a producer's metadata
  // request auto-creates the topic where the broker allows it) and cached for the sink's
  // lifetime: a partition increase is seen after a restart. Throws Error(kSink) naming the topic
  // when it cannot be read within connect_timeout_ms or the broker refuses (e.g. authorization).
  int partitions(const std::string& topic);

  // Enqueues `r` and returns how many Kafka messages it became: 1, or partitions(r.topic) when
  // r.all_partitions (one copy to each partition, explicitly). r.partition, when set, is used as
  // given; otherwise a keyed record goes to the partition murmur2_partition(key) picks, a keyless
  // one to a random partition. Every header is
  // sent, tombstones (value nullopt -> null value) included.
  // Back-pressure: while the producer queue is full it serves delivery reports and retries,
  // blocking as long as that takes (as long as Kafka is unavailable); it never drops a record.
  // Returns fewer messages than the record needs (possibly 0) only after interrupt(): the record
  // is then not fully handed over and its LSN must not be confirmed.
  // Throws Error(kSink) if the sink has failed or librdkafka refuses the message.
  size_t send(const Record& r);

  // Serves delivery reports and producer errors, waiting up to timeout_ms for the first one;
  // calls on_delivered per acknowledged message in the order librdkafka reports them.
  // Throws Error(kSink) if the sink has failed.
  void poll(int timeout_ms);

  // Serves reports until every enqueued message is acknowledged (true) or timeout_ms passes
  // (false). Throws Error(kSink) if a message fails meanwhile.
  bool flush(int timeout_ms);

  // Messages enqueued whose delivery report has not been served yet.
  size_t in_flight() const { return in_flight_; }

  // The only method that may be called from another thread (e.g. the signal-handling thread at
  // shutdown): makes a send() blocked on a full queue return, wakes a blocking poll(), and keeps
  // every later send() from blocking. Sticky.
  void interrupt();
  bool interrupted() const { return interrupted_.load(); }

  // Transient producer errors (broker down, connection refused, ...). librdkafka keeps retrying
  // these, so they are not failures of the sink; they are counted and passed to on_warning for
  // the agent to log. One exception: an authentication failure (SASL) after check_reachable()
  // succeeded means the credentials were rotated; librdkafka would retry with the old ones for
  // ever, so it fails the sink with a transient Error(kSink) ("Kafka refused the credentials
  // ..."): the supervisor then starts a new session, whose new producer reads the properties
  // again (kafka.property_files), and resumes from the saved cursor (RedeliveryFilter keeps what
  // this producer wrote but never saw acknowledged from being written twice).
  uint64_t warnings() const { return warnings_; }
  const std::string& last_warning() const { return last_warning_; }

  std::function<void(const Delivery&)> on_delivered;
  std::function<void(const std::string&)> on_warning;
  // Called (on the caller's thread) each time send() waits for room in a full queue, so the
  // caller can keep other connections alive meanwhile (e.g. standby status updates).
  std::function<void()> while_blocked;

 private:
  struct Callbacks;  // librdkafka's C callbacks (kafka_sink.cc)
  friend struct Callbacks;

  struct Topic {
    rd_kafka_topic_s* handle = nullptr;  // owned; destroyed before the producer
    int partitions = 0;                  // 0 until partitions() asked the brokers
  };

  Topic& topic(const std::string& name);
  // Enqueues one message; false if interrupted while the queue was full.
  bool produce(Topic& t, int32_t partition, const Record& r);
  // rd_kafka_poll + rethrow of what the callbacks recorded.
  void serve(int timeout_ms);
  void throw_if_failed();
  // First failure wins; later ones are consequences. A transient one (credentials refused after
  // the sink had connected) is thrown as Transient::kYes, so a running agent starts a new session.
  void fail(std::string message, bool transient = false);
  void report(int err, const char* topic, int32_t partition, int64_t offset, Lsn commit_lsn);
  void warn(int err, const char* reason);
  // Runs a user callback, turning an exception into the sink's failure (defined in the .cc).
  template <typename Fn>
  void run_callback(Fn&& fn);

  KafkaSinkOptions options_;
  rd_kafka_s* rk_ = nullptr;
  std::unordered_map<std::string, Topic> topics_;
  size_t in_flight_ = 0;
  std::optional<std::string> failure_;  // set once; every later call throws it
  bool failure_transient_ = false;
  bool connected_ = false;  // check_reachable() succeeded once: a later authentication failure is a rotation
  std::exception_ptr callback_error_;   // thrown by a user callback; rethrown once, as is
  uint64_t warnings_ = 0;
  std::string last_warning_;
  uint64_t causes_ = 0;     // warnings other than "all brokers down", for check_reachable()
  std::string last_cause_;
  int last_cause_err_ = 0;  // its librdkafka error code (__AUTHENTICATION, __SSL, ...)
  // Brokers ("sasl_ssl://host:port/bootstrap") that refused the login or a certificate: waiting
  // does not fix that, so check_reachable stops waiting once every bootstrap broker has.
  std::set<std::string> refused_brokers_;
  std::atomic<bool> interrupted_{false};
};

}  // namespace tombsync
