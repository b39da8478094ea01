// KafkaSink against librdkafka's in-process mock cluster.
#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "base/error.h"
#include "connectors/kafka/kafka_sink.h"
#include "tests/unit/kafka/mock_kafka.h"
#include "connectors/kafka/murmur2.h"

using tombsync::Delivery;
using tombsync::Error;
using tombsync::ErrorKind;
using tombsync::KafkaSink;
using tombsync::KafkaSinkOptions;
using tombsync::Lsn;
using tombsync::Record;
using tombsync::test::consume;
using tombsync::test::MockKafka;

namespace {

// A sink on `mock` that appends every acknowledged message to `deliveries`.
std::unique_ptr<KafkaSink> make_sink(const MockKafka& mock, std::vector<Delivery>& deliveries,
                                     std::map<std::string, std::string> properties = {}) {
  KafkaSinkOptions options;
  options.brokers = mock.bootstraps();
  options.properties = std::move(properties);
  options.connect_timeout_ms = 5000;
  auto sink = std::make_unique<KafkaSink>(std::move(options));
  sink->on_delivered = [&deliveries](const Delivery& d) { deliveries.push_back(d); };
  return sink;
}

Record keyed(std::string topic, std::string key, std::string value, uint64_t lsn) {
  Record r;
  r.topic = std::move(topic);
  r.key = std::move(key);
  r.value = std::move(value);
  r.headers = {{"op", "u"}, {"lsn", Lsn(lsn).str()}};
  r.commit_lsn = Lsn(lsn);
  return r;
}

// Polls until `sink` throws or `timeout_ms` passes; returns the error message ("" if none).
std::string poll_until_error(KafkaSink& sink, int timeout_ms = 5000) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      sink.poll(50);
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::kSink);
      return e.what();
    }
  }
  return "";
}

// A local TCP port nothing listens on (bound, then released).
int unused_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace

TEST_CASE("every acknowledged message reports its record's end LSN", "[kafka][sink]") {
  MockKafka mock;
  const std::string topic = mock.topic("app.public.users", 3);
  std::vector<Delivery> deliveries;
  auto sink = make_sink(mock, deliveries);

  constexpr uint64_t kFirst = 0x16B374D848;
  constexpr int kCount = 200;
  for (int i = 0; i < kCount; ++i) {
    REQUIRE(sink->send(keyed(topic, "user-" + std::to_string(i), "v", kFirst + i)) == 1);
  }
  CHECK(sink->in_flight() <= kCount);
  REQUIRE(sink->flush(5000));
  CHECK(sink->in_flight() == 0);

  REQUIRE(deliveries.size() == kCount);
  std::set<uint64_t> seen;
  std::map<int32_t, uint64_t> last_per_partition;
  for (const Delivery& d : deliveries) {
    const uint64_t i = d.commit_lsn.value() - kFirst;
    REQUIRE(i < kCount);
    CHECK(seen.insert(i).second);  // each exactly once
    // The partition librdkafka chose is the Java client's choice for that key.
    CHECK(d.partition == tombsync::murmur2_partition("user-" + std::to_string(i), 3));
    CHECK(d.offset >= 0);
    // Send order is kept per partition.
    auto [it, first] = last_per_partition.try_emplace(d.partition.value(), i);
    if (!first) {
      CHECK(it->second < i);
      it->second = i;
    }
  }
  CHECK(seen.size() == kCount);
}

TEST_CASE("keys land on the partition the Java client's default partitioner picks",
          "[kafka][sink][murmur2]") {
  MockKafka mock;
  const std::string topic = mock.topic("keys", 3);
  std::vector<Delivery> deliveries;
  auto sink = make_sink(mock, deliveries);

  // Lengths 0..40 cover every tail length; high bytes check unsigned reads.
  std::vector<std::string> keys;
  for (int len = 0; len <= 40; ++len) {
    std::string k;
    for (int j = 0; j < len; ++j) k.push_back(static_cast<char>((len * 37 + j * 101) & 0xff));
    keys.push_back(k);
  }
  for (size_t i = 0; i < keys.size(); ++i) sink->send(keyed(topic, keys[i], "v", i + 1));
  REQUIRE(sink->flush(5000));
  REQUIRE(deliveries.size() == keys.size());
  for (const Delivery& d : deliveries) {
    const std::string& key = keys[d.commit_lsn.value() - 1];
    CHECK(d.partition == tombsync::murmur2_partition(key, 3));
  }
}

TEST_CASE("a tombstone goes out with a null value and all its headers", "[kafka][sink]") {
  MockKafka mock;
  const std::string topic = mock.topic("app.public.orders", 1);
  std::vector<Delivery> deliveries;
  auto sink = make_sink(mock, deliveries);

  Record del = keyed(topic, "{\"id\":7}", "{\"id\":7,\"is_deleted\":true}", 100);
  del.headers = {{"op", "d"}, {"lsn", "0/64"}, {"xid", "731"}, {"table", "public.orders"}};
  Record tomb = del;
  tomb.value.reset();
  Record empty = keyed(topic, "{\"id\":8}", "", 101);  // empty, not null
  REQUIRE(sink->send(del) == 1);
  REQUIRE(sink->send(tomb) == 1);
  REQUIRE(sink->send(empty) == 1);
  REQUIRE(sink->flush(5000));
  REQUIRE(deliveries.size() == 3);

  auto got = consume(mock.bootstraps(), topic, 0, 3);
  REQUIRE(got.size() == 3);
  CHECK(got[0].value == del.value);
  CHECK(got[0].headers == del.headers);
  CHECK(got[1].key == tomb.key);
  CHECK_FALSE(got[1].value.has_value());
  CHECK(got[1].headers == tomb.headers);
  REQUIRE(got[2].value.has_value());
  CHECK(got[2].value->empty());
}

TEST_CASE("all_partitions sends one copy to each partition", "[kafka][sink]") {
  MockKafka mock;
  const std::string topic = mock.topic("app.public.events", 4);
  std::vector<Delivery> deliveries;
  auto sink = make_sink(mock, deliveries);

  CHECK(sink->partitions(topic) == 4);
  Record truncate;
  truncate.topic = topic;
  truncate.value = "{\"__op\":\"t\"}";
  truncate.headers = {{"op", "t"}};
  truncate.all_partitions = true;
  truncate.commit_lsn = Lsn(42);
  REQUIRE(sink->send(truncate) == 4);
  CHECK(sink->in_flight() == 4);
  REQUIRE(sink->flush(5000));

  std::set<int32_t> partitions;
  for (const Delivery& d : deliveries) {
    CHECK(d.commit_lsn == Lsn(42));
    partitions.insert(d.partition.value());
  }
  CHECK(deliveries.size() == 4);
  CHECK(partitions == std::set<int32_t>{0, 1, 2, 3});
}

TEST_CASE("partitions() auto-creates a topic and names a refused one", "[kafka][sink]") {
  MockKafka mock;
  std::vector<Delivery> deliveries;
  auto sink = make_sink(mock, deliveries);

  CHECK(sink->partitions("created.on.demand." + std::to_string(::getpid())) > 0);

  const std::string secret = mock.topic("secret", 2);
  rd_kafka_mock_topic_set_error(mock.cluster(), secret.c_str(),
                                RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
  try {
    sink->partitions(secret);
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kSink);
    CHECK_THAT(e.what(), Catch::Contains("'" + secret + "'") &&
                             Catch::Contains("Topic authorization failed"));
  }
}

TEST_CASE("retriable broker errors are retried; each record lands once, in order",
          "[kafka][sink]") {
  MockKafka mock;
  const std::string topic = mock.topic("retry", 1);
  std::vector<Delivery> deliveries;
  auto sink = make_sink(mock, deliveries, {{"retry.backoff.ms", "10"}});

  rd_kafka_mock_push_request_errors(mock.cluster(), tombsync::test::kApiProduce, 4,
                                    RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                                    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
  constexpr int kCount = 50;
  for (int i = 0; i < kCount; ++i) {
    sink->send(keyed(topic, "k", "value-" + std::to_string(i), 1000 + i));
    if (i % 10 == 9) sink->poll(20);  // spread the records over several produce requests
  }
  REQUIRE(sink->flush(10000));

  REQUIRE(deliveries.size() == kCount);
  for (int i = 0; i < kCount; ++i) {
    CHECK(deliveries[i].commit_lsn == Lsn(1000 + i));
    CHECK(deliveries[i].offset == i);
  }
  int64_t end_offset = -1;
  auto got = consume(mock.bootstraps(), topic, 0, kCount, 5000, &end_offset);
  CHECK(end_offset == kCount);  // no extra copy after the last one either
  REQUIRE(got.size() == kCount);
  for (int i = 0; i < kCount; ++i) CHECK(got[i].value == "value-" + std::to_string(i));
}

TEST_CASE("a non-retriable delivery error fails the sink, naming topic and partition",
          "[kafka][sink]") {
  MockKafka mock;
  const std::string topic = mock.topic("app.public.users", 1);
  std::vector<Delivery> deliveries;
  auto sink = make_sink(mock, deliveries);

  rd_kafka_mock_push_request_errors(mock.cluster(), tombsync::test::kApiProduce, 1,
                                    RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
  sink->send(keyed(topic, "k", "big", 0x0100000000 + 7));
  const std::string error = poll_until_error(*sink);
  CHECK_THAT(error, Catch::Contains("record for " + topic + " [0]") &&
                        Catch::Contains("1/7") &&
                        Catch::Contains("Broker: Message size too large"));
  CHECK(deliveries.empty());
  // Failed for good: nothing more is accepted or confirmed.
  CHECK_THROWS_AS(sink->send(keyed(topic, "k", "v", 0x0100000008)), Error);
  CHECK_THROWS_AS(sink->flush(100), Error);
  CHECK(deliveries.empty());
}

TEST_CASE("a fatal idempotent-producer error fails the sink", "[kafka][sink]") {
  MockKafka mock;
  const std::string topic = mock.topic("t", 1);
  // Refusing the producer id is fatal for an idempotent producer (it cannot keep its promise).
  rd_kafka_mock_push_request_errors(mock.cluster(), tombsync::test::kApiInitProducerId, 1,
                                    RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED);
  std::vector<Delivery> deliveries;
  auto sink = make_sink(mock, deliveries);
  sink->send(keyed(topic, "k", "v", 1));
  const std::string error = poll_until_error(*sink);
  CHECK_THAT(error, Catch::Contains("CLUSTER_AUTHORIZATION_FAILED"));
  CHECK(deliveries.empty());
}

TEST_CASE("a full queue makes send() wait for acknowledgements, never fail",
          "[kafka][sink]") {
  MockKafka mock;
  const std::string topic = mock.topic("slow", 1);
  mock.set_rtt(20);  // slow broker: the queue fills up
  std::vector<Delivery> deliveries;
  auto sink = make_sink(mock, deliveries,
                        {{"queue.buffering.max.messages", "5"}, {"linger.ms", "1"}});

  constexpr int kCount = 100;
  size_t delivered_inside_send = 0;
  for (int i = 0; i < kCount; ++i) {
    const size_t before = deliveries.size();
    REQUIRE(sink->send(keyed(topic, "k", "v", i + 1)) == 1);  // no poll() in this loop
    delivered_inside_send += deliveries.size() - before;
    CHECK(sink->in_flight() <= 5);
  }
  CHECK(delivered_inside_send > 0);  // send() served reports to make room
  REQUIRE(sink->flush(10000));
  REQUIRE(deliveries.size() == kCount);
  for (int i = 0; i < kCount; ++i) CHECK(deliveries[i].commit_lsn == Lsn(i + 1));
}

TEST_CASE("interrupt() releases a send() blocked while Kafka is unavailable", "[kafka][sink]") {
  // No broker at all: nothing is ever acknowledged, so the queue stays full.
  KafkaSinkOptions options;
  options.brokers = "127.0.0.1:" + std::to_string(unused_port());
  options.properties = {{"queue.buffering.max.messages", "3"}};
  KafkaSink sink(std::move(options));
  std::vector<Delivery> deliveries;
  sink.on_delivered = [&](const Delivery& d) { deliveries.push_back(d); };

  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    sink.interrupt();
  });
  size_t sent = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 10 && !sink.interrupted(); ++i) sent += sink.send(keyed("down", "k", "v", 1));
  const auto waited = std::chrono::steady_clock::now() - start;
  stopper.join();

  CHECK(sink.interrupted());
  CHECK(sent == 3);  // the queue's worth; nothing acknowledged, nothing dropped
  CHECK(sink.in_flight() == 3);
  CHECK(waited >= std::chrono::milliseconds(250));
  CHECK(waited < std::chrono::milliseconds(2000));
  CHECK_FALSE(sink.flush(50));
  CHECK(deliveries.empty());
  CHECK(sink.warnings() > 0);  // connection refused, reported but not fatal
}

TEST_CASE("an exception from on_delivered comes out of the call that served it",
          "[kafka][sink]") {
  MockKafka mock;
  const std::string topic = mock.topic("t", 1);
  std::vector<Delivery> deliveries;
  auto sink = make_sink(mock, deliveries);
  sink->on_delivered = [](const Delivery&) { throw std::runtime_error("cursor store is gone"); };
  sink->send(keyed(topic, "k", "v", 1));
  CHECK_THROWS_WITH(sink->flush(5000), "cursor store is gone");
  try {
    sink->poll(0);
    FAIL("expected the sink to stay failed");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kSink);
    CHECK_THAT(e.what(), Catch::Contains("cursor store is gone"));
  }
}

TEST_CASE("check_reachable answers against a live cluster", "[kafka][sink]") {
  MockKafka mock;
  std::vector<Delivery> deliveries;
  auto sink = make_sink(mock, deliveries);
  CHECK_NOTHROW(sink->check_reachable());
}

TEST_CASE("check_reachable fails within the timeout, naming kafka.brokers", "[kafka][sink]") {
  const std::string brokers = "127.0.0.1:" + std::to_string(unused_port());
  KafkaSinkOptions options;
  options.brokers = brokers;
  options.connect_timeout_ms = 1000;
  KafkaSink sink(std::move(options));
  std::vector<std::string> warnings;
  sink.on_warning = [&](const std::string& w) { warnings.push_back(w); };

  const auto start = std::chrono::steady_clock::now();
  try {
    sink.check_reachable();
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kSink);
    CHECK_THAT(e.what(), Catch::StartsWith("cannot reach Kafka at " + brokers + " within 1 s: ") &&
                             Catch::EndsWith("; check kafka.brokers"));
    CHECK_THAT(e.what(), Catch::Contains("Connection refused"));
  }
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(2500));
  CHECK(sink.warnings() > 0);
  CHECK(warnings.size() == sink.warnings());
  CHECK(sink.last_warning() == warnings.back());
}

TEST_CASE("properties tombsync depends on cannot be overridden", "[kafka][sink][config]") {
  auto error_for = [](std::map<std::string, std::string> properties) -> std::string {
    KafkaSinkOptions options;
    options.brokers = "127.0.0.1:" + std::to_string(unused_port());
    options.properties = std::move(properties);
    try {
      KafkaSink sink(std::move(options));
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::kConfig);
      return e.what();
    }
    return "";
  };
  CHECK_THAT(error_for({{"acks", "1"}}), Catch::Contains("'acks'"));
  CHECK_THAT(error_for({{"request.required.acks", "1"}}),
             Catch::Contains("'request.required.acks'"));
  CHECK_THAT(error_for({{"enable.idempotence", "false"}}), Catch::Contains("'enable.idempotence'"));
  CHECK_THAT(error_for({{"partitioner", "consistent"}}), Catch::Contains("'partitioner'"));
  CHECK_THAT(error_for({{"delivery.report.only.error", "true"}}),
             Catch::Contains("'delivery.report.only.error'"));
  CHECK_THAT(error_for({{"bootstrap.servers", "x:1"}}), Catch::Contains("kafka.brokers"));
  CHECK_THAT(error_for({{"no.such.property", "1"}}), Catch::Contains("'no.such.property'"));
  CHECK_THAT(error_for({{"linger.ms", "soon"}}), Catch::Contains("'linger.ms'"));
  CHECK(error_for({{"linger.ms", "50"}, {"security.protocol", "plaintext"}}).empty());
}
