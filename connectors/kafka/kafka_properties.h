// The librdkafka property contract: which producer properties tombsync owns and refuses from
// the user, and what a broker list entry must look like.
//
// Two callers refuse the owned properties, each with its own wording, from this one list:
//  - the config parser (agent/config), at load time, pointing at the line of the file:
//      kafka.properties.acks: tombsync owns this librdkafka property: <config_reason>
//  - KafkaSink (kafka_sink.cc), for whatever reaches it in KafkaSinkOptions::properties:
//      kafka property 'acks' cannot be set: <sink_reason>
// Adding a property here refuses it in both places. Names are compared exactly, as librdkafka
// spells them (it has no case folding either).
#pragma once

#include <span>
#include <string_view>
#include <vector>

namespace tombsync {

// A librdkafka property that tombsync sets itself (or relies on librdkafka's default of): a
// user value would break the delivery guarantee (docs/contract.md 1.1), the key-to-partition
// mapping (docs/contract.md 2), or contradict kafka.brokers.
struct OwnedProperty {
  std::string_view name;           // e.g. "acks", "request.required.acks" (aliases are listed too)
  std::string_view sink_reason;    // KafkaSink's explanation
  std::string_view config_reason;  // the config's explanation, which also says what to do
};

// Every owned property, in a stable order.
std::span<const OwnedProperty> owned_properties();
// The entry for `name`, or nullptr when the user may set it.
const OwnedProperty* find_owned_property(std::string_view name);

// What is wrong with one entry of a broker list (bootstrap.servers).
enum class BrokerProblem {
  kNone,             // "host:port", "[v6addr]:port", optionally after a librdkafka "PROTOCOL://"
  kEmpty,            // "" (e.g. "a:9092,,b:9092")
  kUnclosedBracket,  // "[::1:9092"
  kNoPort,           // "kafka", "[::1]"
  kInvalidHost,      // a host other than [A-Za-z0-9._-]+
  kInvalidPort,      // a port that is not 1..65535
};
struct BrokerCheck {
  BrokerProblem problem = BrokerProblem::kNone;
  std::string_view address;  // the entry without its "PROTOCOL://" prefix: the part judged
};
BrokerCheck check_broker(std::string_view entry);

// The entries of a comma-separated broker list, each with surrounding whitespace removed
// (librdkafka splits on commas only). Empty entries are kept, so check_broker can name them;
// an empty list gives one empty entry. The views point into `list`.
std::vector<std::string_view> split_broker_list(std::string_view list);

}  // namespace tombsync
