// The librdkafka property contract (see kafka_properties.h): the owned-property list that both
// the config parser and KafkaSink refuse from, and the broker list syntax the config checks.
#include "connectors/kafka/kafka_properties.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

namespace tombsync {
namespace {

// The config's explanations end with the fix ("remove it"); KafkaSink's predate them and are
// kept word for word, since operators and tests know them.
constexpr std::string_view kSinkIdempotent =
    "tombsync always produces with enable.idempotence=true and acks=all, so that an "
    "acknowledged record is durable and each partition keeps commit order";
constexpr std::string_view kConfigIdempotent =
    "tombsync always produces with acks=all and enable.idempotence=true, so that an "
    "acknowledged change is never lost and a retry never duplicates it; remove it";
constexpr std::string_view kBrokers = "set kafka.brokers instead";

constexpr std::array<OwnedProperty, 7> kOwned = {{
    {"bootstrap.servers", kBrokers, kBrokers},
    {"metadata.broker.list", kBrokers, kBrokers},  // librdkafka alias of bootstrap.servers
    {"acks", kSinkIdempotent, kConfigIdempotent},
    {"request.required.acks", kSinkIdempotent, kConfigIdempotent},  // librdkafka alias of acks
    {"enable.idempotence", kSinkIdempotent, kConfigIdempotent},
    {"partitioner",
     "tombsync always uses murmur2_random, so that a key lands on the partition the Java "
     "client would pick",
     "tombsync always uses murmur2_random, so that a key lands on the partition the Java "
     "client would pick; remove it"},
    {"delivery.report.only.error",
     "tombsync confirms a WAL position only after a delivery report for every record at or "
     "before it",
     "tombsync confirms a WAL position to Postgres only after a delivery report for every "
     "record at or before it; remove it"},
}};

bool host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '.' || c == '-' || c == '_';
}

bool space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

}  // namespace

std::span<const OwnedProperty> owned_properties() { return kOwned; }

const OwnedProperty* find_owned_property(std::string_view name) {
  for (const OwnedProperty& p : kOwned) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

BrokerCheck check_broker(std::string_view entry) {
  if (entry.empty()) return {BrokerProblem::kEmpty, entry};
  if (const size_t scheme = entry.find("://"); scheme != std::string_view::npos) {
    entry = entry.substr(scheme + 3);
  }
  size_t colon;
  if (!entry.empty() && entry[0] == '[') {
    const size_t close = entry.find(']');
    if (close == std::string_view::npos) return {BrokerProblem::kUnclosedBracket, entry};
    colon = close + 1;
    if (colon >= entry.size() || entry[colon] != ':') return {BrokerProblem::kNoPort, entry};
  } else {
    colon = entry.rfind(':');
    if (colon == std::string_view::npos) return {BrokerProblem::kNoPort, entry};
    const std::string_view host = entry.substr(0, colon);
    if (host.empty() || !std::all_of(host.begin(), host.end(), host_char)) {
      return {BrokerProblem::kInvalidHost, entry};
    }
  }
  const std::string_view port = entry.substr(colon + 1);
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value == 0 ||
      value > 65535) {
    return {BrokerProblem::kInvalidPort, entry};
  }
  return {BrokerProblem::kNone, entry};
}

std::vector<std::string_view> split_broker_list(std::string_view list) {
  std::vector<std::string_view> entries;
  size_t begin = 0;
  while (true) {
    const size_t comma = list.find(',', begin);
    std::string_view entry = list.substr(begin, comma - begin);  // npos - begin: to the end
    while (!entry.empty() && space(entry.front())) entry.remove_prefix(1);
    while (!entry.empty() && space(entry.back())) entry.remove_suffix(1);
    entries.push_back(entry);
    if (comma == std::string_view::npos) return entries;
    begin = comma + 1;
  }
}

int64_t producer_message_max_bytes(const std::map<std::string, std::string>& properties) {
  auto it = properties.find("message.max.bytes");
  if (it == properties.end()) return kDefaultMessageMaxBytes;
  int64_t v = 0;
  const std::string& text = it->second;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v <= 0) return kDefaultMessageMaxBytes;
  return v;
}

}  // namespace tombsync
