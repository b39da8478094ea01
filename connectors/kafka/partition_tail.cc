#include "connectors/kafka/partition_tail.h"

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <memory>
#include <thread>

#include "base/error.h"

namespace tombsync {
namespace {

struct ConsumerDeleter {
  void operator()(rd_kafka_t* rk) const {
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
  }
};
using Consumer = std::unique_ptr<rd_kafka_t, ConsumerDeleter>;

// Producer tuning that a consumer would warn about; everything else (SASL,
// SSL, client.id...) applies to both.
bool producer_only(const std::string& key) {
  static const char* kProducerOnly[] = {"compression.type", "compression.codec", "linger.ms",
                                        "queue.buffering.max.ms", "queue.buffering.max.messages",
                                        "queue.buffering.max.kbytes", "batch.num.messages", "batch.size",
                                        "message.timeout.ms", "retries", "retry.backoff.ms",
                                        "max.in.flight.requests.per.connection", "max.in.flight",
                                        "enable.gapless.guarantee", "transactional.id", "delivery.timeout.ms",
                                        "sticky.partitioning.linger.ms", "message.send.max.retries"};
  for (const char* k : kProducerOnly)
    if (key == k) return true;
  return false;
}

Consumer make_consumer(const KafkaSinkOptions& options) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  auto set = [&](const std::string& k, const std::string& v) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      throw Error(ErrorKind::kConfig, "kafka.properties." + k + ": " + err);
    }
  };
  set("bootstrap.servers", options.brokers);
  for (const auto& [k, v] : options.properties)
    if (!producer_only(k)) set(k, v);
  set("group.id", "tombsync-tail-reader");
  set("enable.auto.commit", "false");
  set("enable.auto.offset.store", "false");
  set("client.id", "tombsync-tail-reader");
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
  return Consumer(rk);
}

}  // namespace

std::vector<PartitionTail> read_partition_tails(const KafkaSinkOptions& options, const std::string& topic) {
  Consumer rk = make_consumer(options);
  const int timeout = options.connect_timeout_ms;
  rd_kafka_topic_t* t = rd_kafka_topic_new(rk.get(), topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  auto merr = rd_kafka_metadata(rk.get(), 0, t, &md, timeout);
  rd_kafka_topic_destroy(t);
  if (merr != RD_KAFKA_RESP_ERR_NO_ERROR)
    throw Error(ErrorKind::kSink, "reading metadata of " + topic + ": " + rd_kafka_err2str(merr), Transient::kYes);
  int partitions = 0;
  if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) partitions = md->topics[0].partition_cnt;
  rd_kafka_metadata_destroy(md);

  std::vector<PartitionTail> tails;
  for (int p = 0; p < partitions; ++p) {
    int64_t low = 0, high = 0;
    // Leadership moves (a broker restarting) answer NOT_LEADER for a while: retry until the timeout.
    auto retry_until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout);
    rd_kafka_resp_err_t werr;
    while ((werr = rd_kafka_query_watermark_offsets(rk.get(), topic.c_str(), p, &low, &high, timeout)) !=
               RD_KAFKA_RESP_ERR_NO_ERROR &&
           std::chrono::steady_clock::now() < retry_until)
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (werr != RD_KAFKA_RESP_ERR_NO_ERROR)
      throw Error(ErrorKind::kSink,
                  "reading offsets of " + topic + " [" + std::to_string(p) + "]: " + rd_kafka_err2str(werr),
                  Transient::kYes);
    if (high <= low) continue;
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = high - 1;
    rd_kafka_assign(rk.get(), list);
    rd_kafka_topic_partition_list_destroy(list);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout);
    bool found = false;
    while (!found && std::chrono::steady_clock::now() < deadline) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk.get(), 100);
      if (m == nullptr) continue;
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->partition == p && m->offset == high - 1) {
        PartitionTail tail;
        tail.partition = KafkaPartition(p);
        rd_kafka_headers_t* hdrs = nullptr;
        if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
          const char* name;
          const void* value;
          size_t size;
          for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i)
            tail.headers[name] = value ? std::string(static_cast<const char*>(value), size) : std::string();
        }
        tails.push_back(std::move(tail));
        found = true;
      } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        std::string why = rd_kafka_message_errstr(m);
        rd_kafka_message_destroy(m);
        throw Error(ErrorKind::kSink, "reading the last record of " + topic + " [" + std::to_string(p) + "]: " + why,
                    Transient::kYes);
      }
      rd_kafka_message_destroy(m);
    }
    // The last offset can be a transaction marker or compacted away: then there is no tail to trust.
  }
  rd_kafka_assign(rk.get(), nullptr);
  return tails;
}

}  // namespace tombsync
