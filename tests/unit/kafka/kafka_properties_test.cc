// The librdkafka property contract: the owned properties (and that KafkaSink refuses exactly
// those, with their reasons), broker entry syntax and broker list splitting.
#include "connectors/kafka/kafka_properties.h"

#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "base/error.h"
#include "connectors/kafka/kafka_sink.h"

using namespace tombsync;

TEST_CASE("owned properties: the contract's keys and their aliases", "[kafka][properties]") {
  std::set<std::string> names;
  for (const OwnedProperty& p : owned_properties()) {
    names.emplace(p.name);
    CHECK_FALSE(p.sink_reason.empty());
    CHECK_FALSE(p.config_reason.empty());
    CHECK(find_owned_property(p.name) == &p);
  }
  CHECK(names == std::set<std::string>{"bootstrap.servers", "metadata.broker.list", "acks",
                                       "request.required.acks", "enable.idempotence",
                                       "partitioner", "delivery.report.only.error"});
  CHECK(find_owned_property("linger.ms") == nullptr);
  CHECK(find_owned_property("ACKS") == nullptr);  // librdkafka does not fold case either
  CHECK(find_owned_property("") == nullptr);
}

TEST_CASE("KafkaSink refuses every owned property with its reason", "[kafka][properties]") {
  for (const OwnedProperty& p : owned_properties()) {
    KafkaSinkOptions options;
    options.brokers = "127.0.0.1:9";
    options.properties = {{std::string(p.name), "1"}};
    try {
      KafkaSink sink(std::move(options));
      FAIL("accepted " << p.name);
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::kConfig);
      CHECK(std::string(e.what()) == "kafka property '" + std::string(p.name) +
                                         "' cannot be set: " + std::string(p.sink_reason));
    }
  }
}

TEST_CASE("check_broker: host:port, [v6]:port, PROTOCOL:// prefixes", "[kafka][properties]") {
  auto problem = [](std::string_view entry) { return check_broker(entry).problem; };
  CHECK(problem("kafka:9092") == BrokerProblem::kNone);
  CHECK(problem("kafka-1.example_x:1") == BrokerProblem::kNone);
  CHECK(problem("[::1]:9094") == BrokerProblem::kNone);
  CHECK(problem("SSL://kafka-2:65535") == BrokerProblem::kNone);
  CHECK(problem("") == BrokerProblem::kEmpty);
  CHECK(problem("[::1:9092") == BrokerProblem::kUnclosedBracket);
  CHECK(problem("kafka") == BrokerProblem::kNoPort);
  CHECK(problem("[::1]") == BrokerProblem::kNoPort);
  CHECK(problem("[::1]9092") == BrokerProblem::kNoPort);
  CHECK(problem("SSL://") == BrokerProblem::kNoPort);
  CHECK(problem(":9092") == BrokerProblem::kInvalidHost);
  CHECK(problem("ka fka:9092") == BrokerProblem::kInvalidHost);
  CHECK(problem("kafka:0") == BrokerProblem::kInvalidPort);
  CHECK(problem("kafka:65536") == BrokerProblem::kInvalidPort);
  CHECK(problem("kafka:") == BrokerProblem::kInvalidPort);
  CHECK(problem("kafka:90x") == BrokerProblem::kInvalidPort);
  // The address is the part judged: the entry without its protocol.
  CHECK(check_broker("SASL_SSL://kafka").address == "kafka");
  CHECK(check_broker("kafka").address == "kafka");
}

TEST_CASE("split_broker_list trims entries and keeps empty ones", "[kafka][properties]") {
  using V = std::vector<std::string_view>;
  CHECK(split_broker_list("a:1") == V{"a:1"});
  CHECK(split_broker_list(" a:1 , SSL://b:2,[::1]:3\t") == V{"a:1", "SSL://b:2", "[::1]:3"});
  CHECK(split_broker_list("a:1,,b:2") == V{"a:1", "", "b:2"});
  CHECK(split_broker_list("a:1,") == V{"a:1", ""});
  CHECK(split_broker_list("") == V{""});
}
