// Test helpers: an in-process Kafka (librdkafka's mock cluster) and a plain consumer to read
// back what a KafkaSink wrote. Test-only; the mock cluster implements enough of the protocol for
// idempotent produce, metadata and fetch, and lets tests inject broker errors.
#pragma once

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace tombsync::test {

// Kafka protocol API keys (librdkafka keeps its RD_KAFKAP_* names private).
constexpr int16_t kApiProduce = 0;
constexpr int16_t kApiInitProducerId = 22;

// A handle on the one mock cluster of the test binary. Starting a mock cluster is fast, but
// destroying one takes a second (librdkafka joins an internal broker thread that sleeps in 1 s
// slices), which per test would dominate the run; so the cluster lives until exit and each test
// gets a clean view of it: injected request errors are cleared when a MockKafka is made and
// dropped, an RTT set through it is undone when it is dropped, and topic() hands out names no
// other test uses. (Broker commands go through the mock thread's queue, whose wake-up is
// sometimes missed in librdkafka 2.0.2, costing a second; hence only on demand.)
class MockKafka {
 public:
  MockKafka() { clear_request_errors(); }
  ~MockKafka() {
    clear_request_errors();
    if (rtt_changed_) rd_kafka_mock_broker_set_rtt(cluster(), kBroker, 0);
  }
  MockKafka(const MockKafka&) = delete;
  MockKafka& operator=(const MockKafka&) = delete;

  static constexpr int32_t kBroker = 1;  // the cluster's only broker

  std::string bootstraps() const { return rd_kafka_mock_cluster_bootstraps(cluster()); }
  rd_kafka_mock_cluster_t* cluster() const { return shared().cluster; }

  // Every broker response is delayed by `ms`.
  void set_rtt(int ms) {
    rd_kafka_mock_broker_set_rtt(cluster(), kBroker, ms);
    rtt_changed_ = true;
  }
  // Creates a topic named `base` plus a suffix unique in this process, and returns the name.
  std::string topic(const std::string& base, int partitions) {
    static int counter = 0;
    std::string name = base + "." + std::to_string(++counter);
    if (rd_kafka_mock_topic_create(cluster(), name.c_str(), partitions, 1) != 0) {
      throw std::runtime_error("rd_kafka_mock_topic_create failed for " + name);
    }
    return name;
  }

 private:
  struct Shared {
    Shared() {
      // A mock cluster lives inside some rd_kafka_t; an idle producer with no brokers will do.
      char errstr[256];
      rd_kafka_conf_t* conf = rd_kafka_conf_new();
      rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof errstr);  // no "no brokers" notice
      owner = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
      if (owner == nullptr) throw std::runtime_error(errstr);
      cluster = rd_kafka_mock_cluster_new(owner, 1);
      if (cluster == nullptr) throw std::runtime_error("rd_kafka_mock_cluster_new failed");
    }
    ~Shared() {
      rd_kafka_mock_cluster_destroy(cluster);
      rd_kafka_destroy(owner);
    }
    rd_kafka_t* owner = nullptr;
    rd_kafka_mock_cluster_t* cluster = nullptr;
  };
  static Shared& shared() {
    static Shared s;
    return s;
  }

  void clear_request_errors() {
    rd_kafka_mock_clear_request_errors(cluster(), kApiProduce);
    rd_kafka_mock_clear_request_errors(cluster(), kApiInitProducerId);
  }

  bool rtt_changed_ = false;
};

struct Consumed {
  int32_t partition = -1;
  int64_t offset = -1;
  std::optional<std::string> key;
  std::optional<std::string> value;  // nullopt = null value (tombstone)
  std::vector<std::pair<std::string, std::string>> headers;
};

// Reads `partition` of `topic` from the beginning until `expected` messages arrived or
// `timeout_ms` passed, and returns what it read; `end_offset`, if given, receives the
// partition's high watermark (offset of the next message to be written).
inline std::vector<Consumed> consume(const std::string& bootstraps, const std::string& topic,
                                     int32_t partition, size_t expected, int timeout_ms = 5000,
                                     int64_t* end_offset = nullptr) {
  char errstr[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  auto set = [&](const char* k, const char* v) {
    if (rd_kafka_conf_set(conf, k, v, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
      throw std::runtime_error(errstr);
    }
  };
  set("bootstrap.servers", bootstraps.c_str());
  set("group.id", "tombsync-unit-test");
  set("enable.auto.commit", "false");
  set("fetch.wait.max.ms", "10");  // the mock answers a fetch with one produce batch at a time
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  if (rk == nullptr) throw std::runtime_error(errstr);
  rd_kafka_poll_set_consumer(rk);

  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(parts, topic.c_str(), partition)->offset =
      RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(rk, parts);
  rd_kafka_topic_partition_list_destroy(parts);

  std::vector<Consumed> out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (out.size() < expected && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      Consumed c;
      c.partition = m->partition;
      c.offset = m->offset;
      if (m->key != nullptr) c.key.emplace(static_cast<const char*>(m->key), m->key_len);
      if (m->payload != nullptr) c.value.emplace(static_cast<const char*>(m->payload), m->len);
      rd_kafka_headers_t* hdrs = nullptr;
      if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name;
        const void* val;
        size_t size;
        for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &val, &size) ==
                           RD_KAFKA_RESP_ERR_NO_ERROR;
             ++i) {
          c.headers.emplace_back(
              name, val ? std::string(static_cast<const char*>(val), size) : std::string());
        }
      }
      out.push_back(std::move(c));
    }
    rd_kafka_message_destroy(m);
  }
  if (end_offset != nullptr) {
    int64_t low = -1;
    *end_offset = -1;
    rd_kafka_query_watermark_offsets(rk, topic.c_str(), partition, &low, end_offset, timeout_ms);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return out;
}

}  // namespace tombsync::test
