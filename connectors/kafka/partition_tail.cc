#include "connectors/kafka/partition_tail.h"

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <thread>

#include "base/error.h"
#include "connectors/kafka/kafka_hints.h"

namespace tombsync {
namespace {

// The tails are read with librdkafka's simple (legacy) consumer: partitions
// are fetched by offset with no group.id, so nothing asks for a group
// coordinator and no offset is ever committed. The high-level consumer's
// assign() needs a group.id and then looks up its coordinator, which fails
// with "Group authorization failed" for a principal that may only produce
// and read its topics (the usual CDC grant; docs/security.md). What this
// needs from Kafka: Describe (metadata, ListOffsets) and Read (Fetch) on the
// topic, nothing on any group.
using Handle = std::unique_ptr<rd_kafka_t, decltype(&rd_kafka_destroy)>;
using Topic = std::unique_ptr<rd_kafka_topic_t, decltype(&rd_kafka_topic_destroy)>;

// Producer tuning that a consumer would warn about; everything else (SASL,
// SSL, client.id...) applies to both.
bool producer_only(const std::string& key) {
  static const char* kProducerOnly[] = {"compression.type", "compression.codec", "linger.ms",
                                        "queue.buffering.max.ms", "queue.buffering.max.messages",
                                        "queue.buffering.max.kbytes", "batch.num.messages", "batch.size",
                                        "message.timeout.ms", "retries", "retry.backoff.ms",
                                        "max.in.flight.requests.per.connection", "max.in.flight",
                                        "enable.gapless.guarantee", "transactional.id", "delivery.timeout.ms",
                                        "sticky.partitioning.linger.ms", "message.send.max.retries",
                                        "enable.idempotence", "acks", "request.required.acks"};
  for (const char* k : kProducerOnly)
    if (key == k) return true;
  return false;
}

Handle make_consumer(const KafkaSinkOptions& options) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  auto set = [&](const std::string& k, const std::string& v) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      throw Error(ErrorKind::kConfig, "kafka.properties." + k + ": " + err);
    }
  };
  set("client.id", "tombsync-tail-reader");  // the user's client.id (quotas) below wins
  set("bootstrap.servers", options.brokers);
  for (const auto& [k, v] : options.properties)
    if (!producer_only(k) && k != "group.id") set(k, v);
  // A last offset that holds no record (a transaction marker, compacted away)
  // then ends the fetch at once instead of waiting out the timeout.
  set("enable.partition.eof", "true");
  if (options.log) {
    // Failures surface as return codes below; the consumer's own lines are for debugging.
    rd_kafka_conf_set_opaque(conf, const_cast<KafkaSinkOptions*>(&options));
    rd_kafka_conf_set_log_cb(conf, [](const rd_kafka_t* rk, int, const char* facility, const char* message) {
      auto* o = static_cast<const KafkaSinkOptions*>(rd_kafka_opaque(rk));
      o->log(7, facility, message);
    });
  }
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    throw Error(ErrorKind::kSink, std::string("cannot create a Kafka consumer: ") + err);
  }
  return Handle(rk, &rd_kafka_destroy);
}

// What went wrong reading `what`, with the grant to add when it is a permission problem.
Error read_error(const KafkaSinkOptions& options, const std::string& what, const std::string& topic,
                 rd_kafka_resp_err_t code, const std::string& detail, const char* operation) {
  if (code == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED) {
    return Error(ErrorKind::kSink,
                 what + ": " +
                     kafka_permission_line(options.brokers, kafka_principal(options.properties), operation,
                                           "topic " + topic,
                                           "tombsync reads the last record of each partition at start, without a "
                                           "consumer group",
                                           "--topic " + topic));
  }
  return Error(ErrorKind::kSink, what + ": " + detail, Transient::kYes);
}

// The partition count; 0 when the topic does not exist yet.
int partition_count(const KafkaSinkOptions& options, rd_kafka_t* rk, const std::string& topic, int timeout) {
  Topic t(rd_kafka_topic_new(rk, topic.c_str(), nullptr), &rd_kafka_topic_destroy);
  const rd_kafka_metadata_t* md = nullptr;
  const auto merr = rd_kafka_metadata(rk, 0, t.get(), &md, timeout);
  if (merr != RD_KAFKA_RESP_ERR_NO_ERROR)
    throw read_error(options, "reading metadata of " + topic, topic, merr, rd_kafka_err2str(merr), "Describe");
  const rd_kafka_resp_err_t terr = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
  const int partitions = terr == RD_KAFKA_RESP_ERR_NO_ERROR ? md->topics[0].partition_cnt : 0;
  rd_kafka_metadata_destroy(md);
  // A missing topic has no tails; one that may not be described is not "empty".
  if (terr != RD_KAFKA_RESP_ERR_NO_ERROR && terr != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
    throw read_error(options, "reading metadata of " + topic, topic, terr, rd_kafka_err2str(terr), "Describe");
  return partitions;
}

// The partition's [low, high) offsets. Leadership moves (a broker restarting)
// answer NOT_LEADER for a while: retry until the timeout.
std::pair<int64_t, int64_t> watermarks(const KafkaSinkOptions& options, rd_kafka_t* rk, const std::string& topic, int p, int timeout) {
  int64_t low = 0, high = 0;
  const auto retry_until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout);
  rd_kafka_resp_err_t werr;
  while ((werr = rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &low, &high, timeout)) !=
             RD_KAFKA_RESP_ERR_NO_ERROR &&
         werr != RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED && std::chrono::steady_clock::now() < retry_until)
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  if (werr != RD_KAFKA_RESP_ERR_NO_ERROR)
    throw read_error(options, "reading offsets of " + topic + " [" + std::to_string(p) + "]", topic, werr,
                     rd_kafka_err2str(werr), "Describe");
  return {low, high};
}

std::map<std::string, std::string> headers_of(rd_kafka_message_t* m) {
  std::map<std::string, std::string> out;
  rd_kafka_headers_t* hdrs = nullptr;
  if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR) return out;
  const char* name;
  const void* value;
  size_t size;
  for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i)
    out[name] = value ? std::string(static_cast<const char*>(value), size) : std::string();
  return out;
}

// Fetches the record at `offset` of partition p; nullopt when it is not there
// (a transaction marker, or compacted away): then there is no tail to trust.
std::optional<PartitionTail> fetch_tail(const KafkaSinkOptions& options, rd_kafka_topic_t* t, const std::string& topic, int p, int64_t offset,
                                        int timeout) {
  if (rd_kafka_consume_start(t, p, offset) != 0) {
    const auto code = rd_kafka_last_error();
    throw read_error(options, "reading the last record of " + topic + " [" + std::to_string(p) + "]", topic, code,
                     rd_kafka_err2str(code), "Read");
  }
  std::optional<PartitionTail> tail;
  std::optional<Error> failure;
  bool gone = false;  // the fetch passed `offset` or reached the end without a record there
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout);
  while (!tail && !failure && !gone && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consume(t, p, 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->offset == offset) {
      tail = PartitionTail{KafkaPartition(p), headers_of(m)};
    } else if ((m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->offset > offset) ||
               m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      gone = true;
    } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      failure = read_error(options, "reading the last record of " + topic + " [" + std::to_string(p) + "]", topic, m->err,
                           rd_kafka_message_errstr(m), "Read");
    }
    rd_kafka_message_destroy(m);
  }
  if (!tail && !failure && !gone) {
    failure = Error(ErrorKind::kSink,
                    "reading the last record of " + topic + " [" + std::to_string(p) + "]: no answer within " +
                        std::to_string(timeout) + " ms; check that the brokers are reachable (kafka.brokers)",
                    Transient::kYes);
  }
  rd_kafka_consume_stop(t, p);
  if (failure) throw *failure;
  return tail;
}

}  // namespace

std::vector<PartitionTail> read_partition_tails(const KafkaSinkOptions& options, const std::string& topic) {
  Handle rk = make_consumer(options);
  const int timeout = options.connect_timeout_ms;
  const int partitions = partition_count(options, rk.get(), topic, timeout);
  std::vector<PartitionTail> tails;
  if (partitions == 0) return tails;
  Topic t(rd_kafka_topic_new(rk.get(), topic.c_str(), nullptr), &rd_kafka_topic_destroy);
  for (int p = 0; p < partitions; ++p) {
    const auto [low, high] = watermarks(options, rk.get(), topic, p, timeout);
    if (high <= low) continue;
    if (auto tail = fetch_tail(options, t.get(), topic, p, high - 1, timeout)) tails.push_back(std::move(*tail));
  }
  return tails;
}

int check_read_access(const KafkaSinkOptions& options, const std::string& topic) {
  Handle rk = make_consumer(options);
  const int partitions = partition_count(options, rk.get(), topic, options.connect_timeout_ms);
  if (partitions == 0) return 0;
  Topic t(rd_kafka_topic_new(rk.get(), topic.c_str(), nullptr), &rd_kafka_topic_destroy);
  // From the end: ListOffsets, then a Fetch that the broker authorizes as Read and that ends in
  // the partition EOF (no record is returned, none is needed).
  (void)fetch_tail(options, t.get(), topic, 0, RD_KAFKA_OFFSET_END, options.connect_timeout_ms);
  return partitions;
}

}  // namespace tombsync
