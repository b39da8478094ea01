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

#include <cstdint>
#include <map>
#include <span>
#include <string>
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

// librdkafka's default message.max.bytes: the producer refuses a record whose key, value and
// headers (plus a little framing) exceed it, and the broker refuses a batch over the topic's
// max.message.bytes (broker default message.max.bytes, 1048588).
inline constexpr int64_t kDefaultMessageMaxBytes = 1000000;
// The producer's message.max.bytes in `properties` (kafka.properties), else the default. A
// value that is not a number is left to librdkafka, which refuses it at start-up.
int64_t producer_message_max_bytes(const std::map<std::string, std::string>& properties);
// The hint for a record over the producer's message.max.bytes (OversizedGuard, or
// librdkafka's MSG_SIZE_TOO_LARGE when produce() refuses it): the settings to raise.
inline constexpr std::string_view kMessageSizeHint =
    "raise kafka.properties.message.max.bytes (the producer's limit) and the topic's "
    "max.message.bytes (the broker's message.max.bytes for new topics), or set oversized: "
    "truncate_column or skip_column on the table (docs/configuration.md)";
// The hint for a record the broker refused as too large (MSG_SIZE_TOO_LARGE in a delivery
// report): the record was within the producer's message.max.bytes, so the topic's
// max.message.bytes is lower, and raising the producer's limit would not help.
inline constexpr std::string_view kBrokerMessageSizeHint =
    "the topic's max.message.bytes is below the producer's message.max.bytes: lower "
    "kafka.properties.message.max.bytes to the topic's max.message.bytes (then the table's "
    "oversized: rule applies before sending), or raise the topic's max.message.bytes "
    "(docs/configuration.md)";

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
